"""Read the records' DynamoDB index the ways auditors ask: by model and time, by outcome, by subject.

Every read is a Query on the table's key or one of its indexes (never a Scan), newest
first, a page at a time. Items come back as plain Python values. The sharded keys of one
day or outcome (functions/domain/index_shards.py) are read concurrently and merged.
"""

from __future__ import annotations

import contextvars
import functools
from collections import deque
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import partial
from typing import TYPE_CHECKING, Any, TypeVar

from boto3.dynamodb.types import TypeDeserializer
from botocore.exceptions import BotoCoreError, ClientError

from functions.domain.audit import Boundary, Group, Partition, Position
from functions.domain.errors import DependencyUnavailable

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

_deserializer = TypeDeserializer()
_BATCH_GET = 100  # BatchGetItem's limit
_T = TypeVar("_T")


def items_by_id(
    dynamodb: DynamoDBClient,
    table: str,
    ids: Sequence[str],
    projection: Sequence[str],
    what: str,
    *,
    consistent: bool = False,
) -> Iterator[dict[str, Any]]:
    """A table's items keyed by `decision_id` (those that exist), 100 per BatchGetItem, unprocessed keys retried.

    `what` names the table in the 503's reason ("the record index", "the appeals"). `consistent`
    reads strongly consistently (twice the read units): for a reader that must see every write
    acknowledged before it started, as the integrity job must.
    """
    names = {f"#p{i}": name for i, name in enumerate(dict.fromkeys(["decision_id", *projection]))}
    unique = list(dict.fromkeys(ids))
    for start in range(0, len(unique), _BATCH_GET):
        keys: list[dict[str, Any]] = [{"decision_id": {"S": i}} for i in unique[start : start + _BATCH_GET]]
        while keys:
            request: Any = {
                table: {"Keys": keys, "ProjectionExpression": ", ".join(names), "ExpressionAttributeNames": names}
            }
            if consistent:
                request[table]["ConsistentRead"] = True
            try:
                answer = dynamodb.batch_get_item(RequestItems=request)
            except (ClientError, BotoCoreError) as error:
                raise DependencyUnavailable(f"{what} is unavailable") from error
            for raw in answer.get("Responses", {}).get(table, []):
                yield {k: _deserializer.deserialize(v) for k, v in raw.items()}
            unprocessed: Any = answer.get("UnprocessedKeys") or {}
            keys = list((unprocessed.get(table) or {}).get("Keys", []))


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
        groups: Sequence[Group],
        start: str,
        end: str,
        *,
        limit: int,
        position: Position = (0, None),
        projection: Sequence[str] | None = None,
        filters: Mapping[str, str] | None = None,
    ) -> Page:
        """Up to `limit` items of the window, newest first, walking `groups` in order from `position`.

        Each group's shards are queried concurrently and merged on (sort key, decision_id), so
        pages are the same whatever the shard count, and the position is a boundary item, not
        a DynamoDB key per shard: small, and valid however many shards there are.
        """
        if projection is not None:
            projection = list(dict.fromkeys([*projection, self.sort_key, "decision_id"]))
        items: list[dict[str, Any]] = []
        number, boundary = position
        while number < len(groups):
            merged = _Merge(self, groups[number], start, end, boundary, limit - len(items), projection, filters)
            for item in merged:
                items.append(item)
                if len(items) == limit:
                    if merged.more():
                        return Page(items, (number, self._boundary(item)))
                    number += 1
                    return Page(items, (number, None) if number < len(groups) else None)
            number, boundary = number + 1, None
        return Page(items, None)

    def by_id(self, ids: Sequence[str], projection: Sequence[str]) -> Iterator[dict[str, Any]]:
        """The table's items of these decision ids (those that exist), 100 per BatchGetItem."""
        return items_by_id(self.dynamodb, self.table, ids, projection, "the record index")

    def _boundary(self, item: Mapping[str, Any]) -> Boundary:
        return str(item[self.sort_key]), str(item["decision_id"])

    def stream(
        self,
        partitions: Sequence[Partition],
        start: str,
        end: str,
        *,
        projection: Sequence[str] | None = None,
        batch: int = 1000,
    ) -> Iterator[dict[str, Any]]:
        """Every item of the window, in no particular order, about `batch` items at a time.

        Up to `_CONCURRENCY` partitions are read at once, each a share of `batch` per round:
        memory stays under one batch however many items and partitions there are.
        """
        if len(partitions) > 1:
            batch = max(_MIN_BATCH, batch // _CONCURRENCY)
        pending = deque(partitions)
        active: list[tuple[Partition, dict[str, Any] | None]] = []
        while pending or active:
            while pending and len(active) < _CONCURRENCY:
                active.append((pending.popleft(), None))
            rounds = self._concurrently(
                [
                    partial(self._query, *part, start, end, limit=batch, exclusive_start=key, projection=projection)
                    for part, key in active
                ]
            )
            following: list[tuple[Partition, dict[str, Any] | None]] = []
            for (partition, _), (items, key) in zip(active, rounds, strict=True):
                yield from items
                if key is not None:
                    following.append((partition, key))
            active = following

    def _concurrently(self, calls: Sequence[Callable[[], _T]]) -> list[_T]:
        """The calls' results in order; DynamoDB round trips overlap (boto3 clients are thread-safe).

        Each call runs in a copy of the caller's context, so that what is kept in context
        variables (the logger's keys, which function is running on the local stack) follows it.
        """
        if len(calls) == 1:
            return [calls[0]()]
        runs = [partial(contextvars.copy_context().run, call) for call in calls]  # copied here, in the caller
        return list(_pool().map(lambda run: run(), runs))


_CONCURRENCY = 16  # partitions read at once: a Lambda's connection pool is 10 by default; 16 keeps it busy


@functools.cache
def _pool() -> ThreadPoolExecutor:
    """One pool per container, reused by every request (threads are cheap to keep, not to start)."""
    return ThreadPoolExecutor(max_workers=_CONCURRENCY, thread_name_prefix="record-index")


def _order(sort_key: str) -> Callable[[Mapping[str, Any]], tuple[str, str]]:
    return lambda item: (str(item[sort_key]), str(item["decision_id"]))


@dataclass
class _Shard:
    """One partition of a group: what has been read of it and not served yet, and where to go on."""

    partition: Partition
    buffer: list[dict[str, Any]] = field(default_factory=list)  # newest first on (sort key, decision_id)
    start_key: dict[str, Any] | None = None
    done: bool = False

    def complete_ahead(self, sort_key: str) -> bool:
        """Whether the head can be served: nothing unread of this partition can sort before it.

        A Query returns the sort key in order but ties (same millisecond) in any order, so the
        buffer must hold the head's whole tie before the head is known to be the newest.
        """
        if self.done:
            return True
        return bool(self.buffer) and self.buffer[-1][sort_key] != self.buffer[0][sort_key]


class _Merge:
    """A group's items newest first on (sort key, decision_id), strictly after `boundary`."""

    def __init__(
        self,
        index: RecordIndex,
        group: Group,
        start: str,
        end: str,
        boundary: Boundary | None,
        wanted: int,
        projection: Sequence[str] | None,
        filters: Mapping[str, str] | None,
    ) -> None:
        self.index, self.boundary, self.projection, self.filters = index, boundary, projection, filters
        self.start, self.end = start, min(end, boundary[0]) if boundary else end
        self.order = _order(index.sort_key)
        self.shards = [_Shard(partition) for partition in group]
        # Uniform shards each hold about wanted/len(group) of the next items; twice that spares most refills.
        self.batch = min(wanted, max(2 * -(-wanted // len(group)), _MIN_BATCH))

    def __iter__(self) -> Iterator[dict[str, Any]]:
        while self._fill():
            shard = max((s for s in self.shards if s.buffer), key=lambda s: self.order(s.buffer[0]), default=None)
            if shard is None:
                return
            yield shard.buffer.pop(0)

    def more(self) -> bool:
        """Whether any item is left after those served (reads ahead if it must)."""
        self._fill()
        return any(s.buffer for s in self.shards)

    def _fill(self) -> bool:
        """Read every shard whose head is not known to be complete, concurrently; True to go on."""
        while needing := [s for s in self.shards if not s.complete_ahead(self.index.sort_key)]:
            answers = self.index._concurrently(
                [
                    partial(
                        self.index._query,
                        *s.partition,
                        self.start,
                        self.end,
                        limit=self.batch,
                        exclusive_start=s.start_key,
                        projection=self.projection,
                        filters=self.filters,
                    )
                    for s in needing
                ]
            )
            for shard, (items, key) in zip(needing, answers, strict=True):
                if self.boundary:
                    items = [item for item in items if self.order(item) < self.boundary]
                shard.buffer = sorted([*shard.buffer, *items], key=self.order, reverse=True)
                shard.start_key, shard.done = key, key is None
        return True


_MIN_BATCH = 10  # items asked of one partition at least: a Query costs a round trip whatever it returns
