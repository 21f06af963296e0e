"""Read the records' DynamoDB index the ways auditors ask: by model and time, by outcome, by subject.

Every read is a Query on the table's key or one of its indexes (never a Scan), newest
first, a page at a time. Items come back as plain Python values.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from boto3.dynamodb.types import TypeDeserializer
from botocore.exceptions import BotoCoreError, ClientError

from functions.domain.errors import DependencyUnavailable

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

_deserializer = TypeDeserializer()


Partition = tuple[str, str, str]  # (index name, key attribute, key value)
Position = tuple[int, dict[str, Any] | None]  # (partition number, DynamoDB key to resume after)


@dataclass(frozen=True)
class Page:
    items: list[dict[str, Any]]
    next: Position | None  # where the next page starts; None at the end


class RecordIndex:
    """Query-only reads of a table's indexes whose sort key is a timestamp (records, and appeals)."""

    def __init__(self, *, table: str, dynamodb: DynamoDBClient, sort_key: str = "decided_at") -> None:
        self.table, self.dynamodb, self.sort_key = table, dynamodb, sort_key

    def _query(
        self,
        index: str,
        key_name: str,
        key_value: str,
        start: str,
        end: str,
        *,
        limit: int,
        exclusive_start: dict[str, Any] | None,
        projection: Sequence[str] | None,
        filters: Mapping[str, str] | None = None,
    ) -> tuple[list[dict[str, Any]], dict[str, Any] | None]:
        request: dict[str, Any] = {
            "TableName": self.table,
            "IndexName": index,
            "KeyConditionExpression": "#k = :k AND #t BETWEEN :start AND :end",
            "ExpressionAttributeNames": {"#k": key_name, "#t": self.sort_key},
            "ExpressionAttributeValues": {":k": {"S": key_value}, ":start": {"S": start}, ":end": {"S": end}},
            "ScanIndexForward": False,
            "Limit": limit,
        }
        if exclusive_start:
            request["ExclusiveStartKey"] = exclusive_start
        if projection:
            names = {f"#p{i}": name for i, name in enumerate(projection)}
            request["ProjectionExpression"] = ", ".join(names)
            request["ExpressionAttributeNames"] |= names
        if filters:
            request["FilterExpression"] = " AND ".join(f"#f{i} = :f{i}" for i in range(len(filters)))
            request["ExpressionAttributeNames"] |= {f"#f{i}": name for i, name in enumerate(filters)}
            request["ExpressionAttributeValues"] |= {f":f{i}": {"S": v} for i, v in enumerate(filters.values())}
        try:
            answer = self.dynamodb.query(**request)
        except (ClientError, BotoCoreError) as error:
            raise DependencyUnavailable("the record index is unavailable") from error
        items = [{k: _deserializer.deserialize(v) for k, v in item.items()} for item in answer.get("Items", [])]
        return items, answer.get("LastEvaluatedKey")

    def page(
        self,
        partitions: Sequence[Partition],
        start: str,
        end: str,
        *,
        limit: int,
        position: Position = (0, None),
        projection: Sequence[str] | None = None,
        filters: Mapping[str, str] | None = None,
    ) -> Page:
        """Up to `limit` items of the window, walking `partitions` in order from `position`.

        With day partitions given newest first, items come newest first overall.
        """
        items: list[dict[str, Any]] = []
        number, start_key = position
        while number < len(partitions):
            index, key_name, value = partitions[number]
            batch, start_key = self._query(
                index,
                key_name,
                value,
                start,
                end,
                limit=limit - len(items),
                exclusive_start=start_key,
                projection=projection,
                filters=filters,
            )
            items.extend(batch)
            if start_key is None:
                number += 1
            if len(items) >= limit:
                return Page(items, (number, start_key) if number < len(partitions) else None)
        return Page(items, None)

    def stream(
        self,
        partitions: Sequence[tuple[str, str, str]],
        start: str,
        end: str,
        *,
        projection: Sequence[str] | None = None,
        batch: int = 1000,
    ) -> Iterator[dict[str, Any]]:
        """Every item of the window, a batch at a time: memory stays flat however many there are."""
        for index, key_name, value in partitions:
            start_key = None
            while True:
                items, start_key = self._query(
                    index, key_name, value, start, end, limit=batch, exclusive_start=start_key, projection=projection
                )
                yield from items
                if start_key is None:
                    break
