"""The rollups table: counted once per contribution (a marker and the ADDs in one transaction), read by range.

Why a table of its own rather than items in the records table: the records table is write-once
audit data whose stream feeds this very function (rollup writes there would come back as
stream events), with per-record TTL and an IAM policy that lets no one update its items.
Rollups are counters, updated in place, readable by the audit function only.

Idempotency: each contribution is one TransactWriteItems: a Put of its marker
(`counted#<decision_id>`, kind; `attribute_not_exists`) and one `ADD` per rollup item. A
redelivered stream record finds its marker and the whole transaction is cancelled: nothing is
counted twice, and a transaction that failed half-way does not exist. Markers expire (TTL)
after `marker_ttl_days`, long after a stream record can be redelivered (24 hours).
"""

from __future__ import annotations

import contextvars
import time
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from decimal import Decimal
from functools import partial
from typing import TYPE_CHECKING, Any

from boto3.dynamodb.types import TypeDeserializer
from botocore.exceptions import BotoCoreError, ClientError

from functions.domain.errors import DependencyUnavailable
from functions.domain.rollups import Contribution, RollupKey, Span, partition_key

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

_deserializer = TypeDeserializer()
MAX_TRANSACTION_ITEMS = 100  # DynamoDB's limit on TransactWriteItems actions
# Counters one ADD may name. DynamoDB refuses an expression over 4 KB (about 300 "#a1 :v1" clauses);
# a text model's words make a batch name thousands. (moto's parser already overflows near 200.)
MAX_ADDS_PER_UPDATE = 150
CONFLICT_RETRIES = 4  # concurrent shards adding to the same hour item: try again before failing the record


class ContributionTooLarge(ValueError):
    """More rollup items than one transaction may write (too many segment attributes and intersections)."""


@dataclass(frozen=True)
class AwsRollupStore:
    table: str
    dynamodb: DynamoDBClient
    marker_ttl_days: int = 7

    def count(self, contribution: Contribution, *, now: float | None = None) -> bool:
        """Add the contribution once; False when its marker says it was counted already."""
        return next(self.count_all([contribution], now=now))

    def count_all(self, contributions: Sequence[Contribution], *, now: float | None = None) -> Iterator[bool]:
        """Add each contribution once; yields, in order, True (counted now) or False (counted before).

        Consecutive contributions share one transaction: their markers, and one `ADD` per rollup
        item with their sums, so a model's hour item is written once per transaction rather than
        once per record (DynamoDB takes about 1,000 writes a second on one item). A marker that
        exists (a redelivery) takes its contribution out, and the rest is tried again. On a
        failure the results of the transactions already committed have been yielded, no others.
        """
        expires = int((now or time.time()) + self.marker_ttl_days * 86400)
        pending = list(contributions)
        while pending:
            group = _pack(pending)
            pending = pending[len(group) :]
            counted: dict[int, bool] = {}
            active = list(range(len(group)))
            while active:
                repeats = self._commit([group[i] for i in active], expires)
                if not repeats:
                    counted.update(dict.fromkeys(active, True))
                    break
                counted.update({active[position]: False for position in repeats})
                active = [i for position, i in enumerate(active) if position not in repeats]
            yield from (counted[i] for i in range(len(group)))

    def _commit(self, group: Sequence[Contribution], expires: int) -> set[int]:
        """One transaction for the group; the positions of the contributions whose marker existed (none: done)."""
        markers = [
            {
                "Put": {
                    "TableName": self.table,
                    "Item": {"pk": {"S": c.marker.pk}, "sk": {"S": c.marker.sk}, "expires_at": {"N": str(expires)}},
                    "ConditionExpression": "attribute_not_exists(pk)",
                }
            }
            for c in group
        ]
        actions = markers + [self._add(key, increments) for key, increments in _summed(group).items()]
        for attempt in range(CONFLICT_RETRIES + 1):
            try:
                self.dynamodb.transact_write_items(TransactItems=actions)
                return set()
            except ClientError as error:
                reasons = [r.get("Code") for r in error.response.get("CancellationReasons", [])]
                repeats = {i for i, code in enumerate(reasons[: len(group)]) if code == "ConditionalCheckFailed"}
                if repeats:
                    return repeats  # counted by an earlier delivery
                if "TransactionConflict" not in reasons or attempt == CONFLICT_RETRIES:
                    raise
                time.sleep(0.05 * 2**attempt)
        raise AssertionError("unreachable")

    def _add(self, key: RollupKey, increments: dict[str, Decimal]) -> dict[str, Any]:
        names = {f"#a{i}": name for i, name in enumerate(increments)}
        values = {f":v{i}": {"N": str(amount)} for i, amount in enumerate(increments.values())}
        return {
            "Update": {
                "TableName": self.table,
                "Key": {"pk": {"S": key.pk}, "sk": {"S": key.sk}},
                "UpdateExpression": "ADD " + ", ".join(f"#a{i} :v{i}" for i in range(len(names))),
                "ExpressionAttributeNames": names,
                "ExpressionAttributeValues": values,
            }
        }

    def read(self, model_id: str, attributes: list[str], spans: list[Span]) -> list[dict[str, Any]]:
        """Every rollup item of the spans: model totals (no attributes) or the groups of `attributes`."""
        if not spans:
            return []

        def span_items(span: Span) -> list[dict[str, Any]]:
            return list(self._span(model_id, attributes, span))

        # Each span in a copy of the caller's context: the logger's keys (and, locally, which function runs) follow.
        runs = [partial(contextvars.copy_context().run, span_items, span) for span in spans]
        with ThreadPoolExecutor(max_workers=len(spans)) as pool:
            return [item for page in pool.map(lambda run: run(), runs) for item in page]

    def _span(self, model_id: str, attributes: list[str], span: Span) -> Iterator[dict[str, Any]]:
        low, high = span.bounds(grouped=bool(attributes))
        request: dict[str, Any] = {
            "TableName": self.table,
            "KeyConditionExpression": "pk = :pk AND sk BETWEEN :low AND :high",
            "ExpressionAttributeValues": {
                ":pk": {"S": partition_key(model_id, span.first, attributes)},
                ":low": {"S": low},
                ":high": {"S": high},
            },
        }
        try:
            while True:
                answer = self.dynamodb.query(**request)
                for item in answer.get("Items", []):
                    yield {k: _deserializer.deserialize(v) for k, v in item.items()}
                if "LastEvaluatedKey" not in answer:
                    return
                request["ExclusiveStartKey"] = answer["LastEvaluatedKey"]
        except (ClientError, BotoCoreError) as error:
            raise DependencyUnavailable(f"the rollups are unavailable: {_reason(error)}") from error


def _reason(error: Exception) -> str:
    if isinstance(error, ClientError):
        return str(error.response.get("Error", {}).get("Code", "ClientError"))
    return type(error).__name__


def _pack(pending: Sequence[Contribution]) -> list[Contribution]:
    """The longest run from the start whose markers and summed rollup items fit one transaction."""
    group: list[Contribution] = []
    names: dict[RollupKey, set[str]] = {}
    markers: set[RollupKey] = set()
    for contribution in pending:
        more = {key: names.get(key, set()) | increments.keys() for key, increments in contribution.increments.items()}
        keys = names.keys() | more.keys()
        if (
            len(group) + 1 + len(keys) > MAX_TRANSACTION_ITEMS
            or any(len(counters) > MAX_ADDS_PER_UPDATE for counters in more.values())
            or contribution.marker in markers  # a marker twice in one transaction is refused
        ):
            break  # the rest waits for the next transaction
        group.append(contribution)
        names.update(more)
        markers.add(contribution.marker)
    if not group:
        raise ContributionTooLarge(f"{len(pending[0].increments)} rollup items for one record, or too many counters")
    return group


def _summed(group: Sequence[Contribution]) -> dict[RollupKey, dict[str, Decimal]]:
    """One set of increments per rollup item, the sums of the group's."""
    sums: dict[RollupKey, dict[str, Decimal]] = {}
    for contribution in group:
        for key, increments in contribution.increments.items():
            bucket = sums.setdefault(key, {})
            for name, amount in increments.items():
                bucket[name] = bucket.get(name, Decimal(0)) + amount
    return sums
