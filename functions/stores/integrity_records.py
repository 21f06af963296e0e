"""The records as the integrity job sees them: index items of a window, archived envelopes re-hashed, retention.

Index items of a window come from the `by_day` index (KEYS_ONLY: every model's records of a
day, over every shard of the day), then `BatchGetItem` on the table for the hash, archive key
and retention. Never a Scan.

Sealed reviews (docs/reviewers.md) are listed beside the records as `review:<decision_id>`, in the
window they were resolved in: from the appeals table's `by_resolved_day` index, which holds only
resolved appeals, with the review's hash and archive key.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from typing import TYPE_CHECKING, Any

from botocore.exceptions import BotoCoreError, ClientError

from functions.domain.errors import DependencyUnavailable
from functions.domain.index_shards import every_shard
from functions.domain.integrity import ArchivedEnvelope, IndexedRecord, Windowing
from functions.domain.review import REVIEW_ID_PREFIX
from functions.domain.seal import canonical_json, sha256_hex
from functions.schemas.settings import DEFAULT_INDEX_SHARDS
from functions.stores.pending_records import any_pending
from functions.stores.record_index import RecordIndex, items_by_id

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_s3 import S3Client

_BATCH = 100  # BatchGetItem's limit
_FIELDS = (
    "decision_id",
    "decided_at",
    "content_sha256",
    "archive_key",
    "retention_class",
    "expires_at",
    "completion_key",
)


def _iso(moment: datetime) -> str:
    """The `decided_at` form (ISO-8601 UTC, milliseconds, Z), which sorts as time does."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def _bound(moment: datetime) -> str:
    """Second precision without a zone: sorts before any `decided_at` of that second (`...00.000Z`),
    so BETWEEN start AND end reads [start, end)."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S")


class AwsRecordSource:
    """The RecordSource of the integrity domain, on the records table and the archive bucket."""

    def __init__(
        self,
        *,
        table: str,
        bucket: str,
        windowing: Windowing,
        dynamodb: DynamoDBClient,
        s3: S3Client,
        index_shards: int = DEFAULT_INDEX_SHARDS,
        appeals_table: str | None = None,
        pending_table: str | None = None,
    ) -> None:
        self.table, self.bucket, self.windowing, self.index_shards = table, bucket, windowing, index_shards
        self.dynamodb, self.s3, self.appeals_table = dynamodb, s3, appeals_table
        self.pending_table = pending_table
        self.index = RecordIndex(table=table, dynamodb=dynamodb)

    def indexed(self, start: datetime, end: datetime) -> Iterator[IndexedRecord]:
        """Every index item decided in [start, end), read a hundred at a time."""
        first, last = start.astimezone(UTC).date(), (end - timedelta(microseconds=1)).astimezone(UTC).date()
        days = [first + timedelta(days=n) for n in range((last - first).days + 1)]
        partitions = [("by_day", "day", key) for day in days for key in every_shard(day.isoformat(), self.index_shards)]
        ids: list[str] = []
        for key in self.index.stream(partitions, _bound(start), _bound(end), projection=["decision_id", "decided_at"]):
            ids.append(str(key["decision_id"]))
            if len(ids) == _BATCH:
                yield from self._items(ids, start)
                ids = []
        if ids:
            yield from self._items(ids, start)
        yield from self._reviews(days, start, end)

    def _reviews(self, days: list[date], start: datetime, end: datetime) -> Iterator[IndexedRecord]:
        """The reviews resolved in [start, end): one Query per day on the sparse `by_resolved_day` index."""
        if not self.appeals_table:
            return
        index = RecordIndex(table=self.appeals_table, dynamodb=self.dynamodb, sort_key="resolved_at")
        partitions = [("by_resolved_day", "resolved_day", day.isoformat()) for day in days]
        for item in index.stream(partitions, _bound(start), _bound(end)):
            if not self.windowing.contains(start, str(item["resolved_at"])):
                continue
            expires = item.get("expires_at")
            yield IndexedRecord(
                decision_id=REVIEW_ID_PREFIX + str(item["decision_id"]),
                decided_at=str(item["resolved_at"]),
                content_sha256=str(item.get("review_sha256", "")),
                archive_key=str(item.get("review_key", "")),
                expires_at=int(expires) if expires is not None else None,
            )

    def _items(self, ids: list[str], window: datetime) -> Iterator[IndexedRecord]:
        """The index items of `ids` decided in the window, read consistently: a record written just
        before the job started must be in its digest."""
        for item in items_by_id(self.dynamodb, self.table, ids, _FIELDS, "the record index", consistent=True):
            if not self.windowing.contains(window, str(item["decided_at"])):
                continue
            expires = item.get("expires_at")
            yield IndexedRecord(
                decision_id=str(item["decision_id"]),
                decided_at=str(item["decided_at"]),
                content_sha256=str(item.get("content_sha256", "")),
                archive_key=str(item.get("archive_key", "")),
                retention_class=str(item.get("retention_class", "standard")),
                expires_at=int(expires) if expires is not None else None,
                completion_key=str(item["completion_key"]) if item.get("completion_key") else None,
            )

    def archived(self, record: IndexedRecord) -> ArchivedEnvelope:
        """The archived envelope, re-hashed from its canonical JSON (the hash stored beside it is not trusted)."""
        if not record.archive_key:
            return ArchivedEnvelope(sha256=None, problem="missing")
        try:
            body = self.s3.get_object(Bucket=self.bucket, Key=record.archive_key)["Body"].read()
        except ClientError as error:
            # Gone or not is the listing's to say, not the error's: S3 answers an absent key 404 only
            # to a caller it lets list that key, and 403 both to others and for a key that is there
            # but refused (its KMS key, a policy): a misconfiguration must not read as a deletion.
            if not self._listed(record.archive_key):
                return ArchivedEnvelope(sha256=None, problem="missing")
            raise DependencyUnavailable("the archive is unavailable") from error
        except BotoCoreError as error:
            raise DependencyUnavailable("the archive is unavailable") from error
        try:
            sealed = json.loads(body)
            if record.decision_id.startswith(REVIEW_ID_PREFIX):  # a sealed review: {"review", "content_sha256"}
                return _rehashed(sealed, body, "review", record.decision_id.removeprefix(REVIEW_ID_PREFIX))
            envelope = sealed["envelope"]
            if not isinstance(envelope, dict) or envelope.get("decision_id") != record.decision_id:
                return ArchivedEnvelope(sha256=None, problem="unreadable")
            recomputed = sha256_hex(canonical_json(envelope))
            # Written as canonical JSON: any other byte, even one that parses the same, is a change.
            if canonical_json(sealed) != body or sealed.get("content_sha256") != recomputed:
                return ArchivedEnvelope(sha256=recomputed, problem="inconsistent")
            return ArchivedEnvelope(sha256=recomputed)
        except (ValueError, KeyError, TypeError):
            return ArchivedEnvelope(sha256=None, problem="unreadable")

    def _listed(self, key: str) -> bool:
        """Whether the archive holds `key` (the verifier may list `records/*`; one key's listing)."""
        try:
            listing = self.s3.list_objects_v2(Bucket=self.bucket, Prefix=key, MaxKeys=1)
        except (ClientError, BotoCoreError) as error:
            raise DependencyUnavailable("the archive could not be listed") from error
        # The key itself sorts first among the keys it prefixes.
        return any(item.get("Key") == key for item in listing.get("Contents", []))

    def copy_pending(self, start: datetime, end: datetime) -> bool:
        """Whether a record decided in [start, end) is still in the pending table (its archive copy not written)."""
        if not self.pending_table:
            return False
        try:
            return any_pending(self.dynamodb, self.pending_table, _iso(start), _iso(end))
        except (ClientError, BotoCoreError) as error:
            raise DependencyUnavailable("the pending records could not be read") from error

    def extend_retention(self, record: IndexedRecord, until: datetime) -> None:
        """Compliance-mode retention until `until` on the envelope and its completion (S3 refuses to shorten it)."""
        try:
            for key in filter(None, (record.archive_key, record.completion_key)):
                self.s3.put_object_retention(
                    Bucket=self.bucket, Key=key, Retention={"Mode": "COMPLIANCE", "RetainUntilDate": until}
                )
        except (ClientError, BotoCoreError) as error:
            raise DependencyUnavailable("the archive retention could not be extended") from error


def _rehashed(sealed: Any, body: bytes, part: str, decision_id: str) -> ArchivedEnvelope:
    """The archived object's `part` re-hashed; unreadable when it names another decision."""
    content = sealed[part]
    if not isinstance(content, dict) or content.get("decision_id") != decision_id:
        return ArchivedEnvelope(sha256=None, problem="unreadable")
    recomputed = sha256_hex(canonical_json(content))
    if canonical_json(sealed) != body or sealed.get("content_sha256") != recomputed:
        return ArchivedEnvelope(sha256=recomputed, problem="inconsistent")
    return ArchivedEnvelope(sha256=recomputed)
