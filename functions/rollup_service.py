"""Composition root of the rollup function: stream records in, each one's contribution counted at most once.

    from functions.rollup_service import rollup_service
    outcome = rollup_service().count(record)   # "counted", "repeat" or "ignored"
    batch = rollup_service().count_batch(records)   # outcomes, and where the batch stopped on a failure

Built once per container from `RollupSettings`; no shap, numpy or model library is imported.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from aws_lambda_powertools.utilities.data_classes.dynamo_db_stream_event import (
    DynamoDBRecord,
    DynamoDBRecordEventName,
)

from functions.coldstart import per_container
from functions.domain.rollups import (
    Contribution,
    appeal_contribution,
    completion_contribution,
    decision_contribution,
)
from functions.schemas.settings import rollup_settings
from functions.stores import aws_clients
from functions.stores.rollup_store import AwsRollupStore


@dataclass(frozen=True)
class BatchCount:
    outcomes: list[str]  # one per record from the first, up to the one that failed
    error: Exception | None  # why the record after the last outcome failed; None: the whole batch is done


def table_of(stream_arn: str | None) -> str:
    """`arn:aws:dynamodb:<region>:<account>:table/<name>/stream/<label>` -> name."""
    return (stream_arn or "").split(":table/", 1)[-1].split("/stream/", 1)[0]


@dataclass(frozen=True)
class RollupService:
    store: AwsRollupStore
    records_table: str
    appeals_table: str | None
    intersections: Sequence[tuple[str, str]]

    def contribution(self, record: DynamoDBRecord) -> Contribution | None:
        """What the record adds: a new decision, a completed explanation, a new appeal; else nothing."""
        table, event = table_of(record.event_source_arn), record.event_name
        if record.dynamodb is None:
            return None
        if table == self.records_table and event is DynamoDBRecordEventName.INSERT:
            return decision_contribution(record.dynamodb.new_image, self.intersections)
        if table == self.records_table and event is DynamoDBRecordEventName.MODIFY:
            return completion_contribution(record.dynamodb.old_image, record.dynamodb.new_image)
        if table == self.appeals_table and event is DynamoDBRecordEventName.INSERT:
            return appeal_contribution(record.dynamodb.new_image)
        if table not in (self.records_table, self.appeals_table):
            raise ValueError(f"a stream record from an unknown table {table!r}")
        return None  # removals (TTL) and other changes: the counts stay

    def count(self, record: DynamoDBRecord) -> str:
        batch = self.count_batch([record])
        if batch.error is not None:
            raise batch.error
        return batch.outcomes[0]

    def count_batch(self, records: Sequence[DynamoDBRecord]) -> BatchCount:
        """Every record's outcome ("counted", "repeat", "ignored"), in as few transactions as the sums allow.

        Stops at the first record that fails (unreadable, or its transaction failed): the outcomes
        are those of the records before it, which Lambda need not deliver again.
        """
        contributions: list[Contribution | None] = []
        error: Exception | None = None
        for record in records:
            try:
                contributions.append(self.contribution(record))
            except Exception as failure:
                error = failure
                break
        counted = self.store.count_all([c for c in contributions if c is not None])
        outcomes: list[str] = []
        try:
            for contribution in contributions:
                outcomes.append("ignored" if contribution is None else "counted" if next(counted) else "repeat")
        except Exception as failure:
            error = failure
        return BatchCount(outcomes, error)


@per_container
def rollup_service() -> RollupService:
    settings = rollup_settings()
    return RollupService(
        store=AwsRollupStore(
            table=settings.rollups_table,
            dynamodb=aws_clients.dynamodb(),
            marker_ttl_days=settings.rollup_marker_ttl_days,
        ),
        records_table=settings.records_table,
        appeals_table=settings.appeals_table,
        intersections=settings.intersections,
    )
