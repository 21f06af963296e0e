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
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from boto3.dynamodb.types import TypeDeserializer
from botocore.exceptions import BotoCoreError, ClientError

from functions.domain.errors import DependencyUnavailable
from functions.domain.rollups import Contribution, Span, partition_key

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

_deserializer = TypeDeserializer()
MAX_TRANSACTION_ITEMS = 100  # DynamoDB's limit on TransactWriteItems actions
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
        if len(contribution.increments) + 1 > MAX_TRANSACTION_ITEMS:
            raise ContributionTooLarge(f"{len(contribution.increments)} rollup items for one record")
        expires = int((now or time.time()) + self.marker_ttl_days * 86400)
        actions: list[Any] = [
            {
                "Put": {
                    "TableName": self.table,
                    "Item": {
                        "pk": {"S": contribution.marker.pk},
                        "sk": {"S": contribution.marker.sk},
                        "expires_at": {"N": str(expires)},
                    },
                    "ConditionExpression": "attribute_not_exists(pk)",
                }
            }
        ]
        for key, increments in contribution.increments.items():
            names = {f"#a{i}": name for i, name in enumerate(increments)}
            actions.append(
                {
                    "Update": {
                        "TableName": self.table,
                        "Key": {"pk": {"S": key.pk}, "sk": {"S": key.sk}},
                        "UpdateExpression": "ADD " + ", ".join(f"#a{i} :v{i}" for i in range(len(names))),
                        "ExpressionAttributeNames": names,
                        "ExpressionAttributeValues": {
                            f":v{i}": {"N": str(value)} for i, value in enumerate(increments.values())
                        },
                    }
                }
            )
        for attempt in range(CONFLICT_RETRIES + 1):
            try:
                self.dynamodb.transact_write_items(TransactItems=actions)
                return True
            except ClientError as error:
                reasons = [r.get("Code") for r in error.response.get("CancellationReasons", [])]
                if reasons and reasons[0] == "ConditionalCheckFailed":
                    return False  # the marker exists: counted by an earlier delivery
                if "TransactionConflict" not in reasons or attempt == CONFLICT_RETRIES:
                    raise
                time.sleep(0.05 * 2**attempt)
        raise AssertionError("unreachable")

    def read(self, model_id: str, attributes: list[str], spans: list[Span]) -> list[dict[str, Any]]:
        """Every rollup item of the spans: model totals (no attributes) or the groups of `attributes`."""
        if not spans:
            return []
        with ThreadPoolExecutor(max_workers=len(spans)) as pool:
            # Each read runs in a copy of the caller's context, so what is per invocation (locally:
            # which function runs, whose role the IAM check holds the call to) follows it into the pool.
            pages = [
                pool.submit(contextvars.copy_context().run, lambda s=span: list(self._span(model_id, attributes, s)))
                for span in spans
            ]
            return [item for page in pages for item in page.result()]

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
