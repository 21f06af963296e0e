"""Where sealed records go: S3 (the two halves of the record) and the DynamoDB index (write-once).

- the envelope, sealed, in the archive bucket (Object Lock: nobody can alter or delete it);
- the personal part in the personal bucket (no lock: erasure deletes it);
- the index item in DynamoDB, with what auditor queries and reports need.

On the decision path no object is written: the two halves go into a pending item
(`functions/stores/pending_records.py`), staged with the index item and committed with the
remembered answer in one transaction (`functions/stores/decision_commit.py`); the archive
copier writes the objects from it seconds later. Readers read that item while an object is not
there yet. Outside a commit, or for a record too large for one DynamoDB item, both objects are
written first (concurrently: they do not depend on each other), the index item last: the index
item is what makes a decision exist, and objects without one (a failed or crashed write) are
never served.
"""

from __future__ import annotations

import base64
import contextvars
import hashlib
import json
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING, Any, Protocol, Self

from boto3.dynamodb.types import DYNAMODB_CONTEXT, TypeDeserializer, TypeSerializer
from botocore.exceptions import BotoCoreError, ClientError

from functions.coldstart import per_container
from functions.domain.errors import DependencyUnavailable
from functions.domain.index_shards import object_spread, shard_of, sharded
from functions.domain.retention import expires_at
from functions.domain.seal import archived_json, personal_json
from functions.schemas.record import Envelope, ExplanationRecord, RecordedExplanation, SealedCompletion
from functions.schemas.settings import DEFAULT_INDEX_SHARDS
from functions.stores.decision_commit import commit_open, stage
from functions.stores.pending_records import PendingRecord, fits, pending_put, read_pending

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_s3 import S3Client

INDEXED_ATTRIBUTIONS = 20  # the item keeps the largest few; the archive keeps all
ERASED = "erased"  # the index item's erasure_status once its personal part is deleted
# What S3 answers a read of an absent key: 404 to a role that may list the bucket, 403 to any other.
_ABSENT = frozenset({"NoSuchKey", "404", "NotFound", "AccessDenied", "403", "Forbidden"})
_serializer = TypeSerializer()
_deserializer = TypeDeserializer()


def archive_key(envelope: Envelope) -> str:
    """Hive-style partitions so that Athena/Glue can read the archive as a table; spread within a day (S3's rate)."""
    day, decision_id = envelope.decided_at[:10], envelope.decision_id
    return f"records/model={envelope.model.id}/date={day}/{object_spread(decision_id)}-{decision_id}.json"


def personal_key(decision_id: str) -> str:
    """Derived from the id alone: erasure finds the object (and every version of it) from the id."""
    return f"personal/{object_spread(decision_id)}-{decision_id}.json"


def _number(value: float) -> Decimal:
    return Decimal(repr(value))


def indexed_attributions(explanation: RecordedExplanation) -> dict[str, Decimal]:
    """The largest attributions, as the index item keeps them for the attribution reports."""
    return {c.feature: _number(c.attribution) for c in explanation.contributions[:INDEXED_ATTRIBUTIONS]}


def index_item(record: ExplanationRecord, key: str, *, shards: int) -> dict[str, Any]:
    """The DynamoDB item: keys for the auditor queries plus what reports read without S3.

    The time-ordered index keys are spread over `shards` (functions/domain/index_shards.py).
    """
    env = record.envelope
    shard, day = shard_of(env.decision_id, shards), env.decided_at[:10]
    item: dict[str, Any] = {
        "decision_id": env.decision_id,
        "decided_at": env.decided_at,
        "day": sharded(day, shard),
        "model_day": sharded(f"{env.model.id}#{day}", shard),
        "model_outcome": sharded(f"{env.model.id}#{env.outcome.label}", shard),
        "model_id": env.model.id,
        "model_version": env.model.version,
        "request_id": env.request_id,
        "outcome": env.outcome.label,
        "score": _number(env.outcome.score),
        "notice_id": env.disclosure.notice_id,
        "locale": env.locale,
        "method": env.explainer.method,
        "explanation_status": env.explanation.status,  # the worker sets it again when it completes one
        "attributions": indexed_attributions(env.explanation),
        "content_sha256": record.content_sha256,
        "archive_key": key,
        "retention_class": env.retention.retention_class,
        "expires_at": expires_at(env.retention.delete_after),
        "segments": dict(record.personal.segments) if record.personal else {},
    }
    if env.outcome.adverse is not None:
        item["adverse"] = env.outcome.adverse
    if env.subject_hash is not None:  # absent keys keep the item out of the by_subject index
        item["subject_hash"] = env.subject_hash
    return item


def item_attributes(item: dict[str, Any]) -> dict[str, Any]:
    """An index item in DynamoDB's attribute-value form: what `TypeSerializer` gives, at a fraction of its cost.

    boto3's serializer finds each value's type by trying every DynamoDB type in turn, which took
    ~50 us of a decision's CPU for one item. An index item holds strings, numbers, booleans and maps
    of them; those are written here by the same rules (numbers through boto3's own decimal context,
    which refuses what DynamoDB cannot store), anything else goes to `TypeSerializer`.
    """
    return {name: _attribute(value) for name, value in item.items()}


def _attribute(value: Any) -> dict[str, Any]:
    kind = type(value)
    if kind is str:
        return {"S": value}
    if kind is bool:
        return {"BOOL": value}
    if kind is Decimal or kind is int:
        number = str(DYNAMODB_CONTEXT.create_decimal(value))
        if number in ("Infinity", "NaN", "-Infinity", "sNaN"):
            raise TypeError("Infinity and NaN not supported")
        return {"N": number}
    if kind is dict:
        return {"M": {str(key): _attribute(member) for key, member in value.items()}}
    return dict(_serializer.serialize(value))


def put_new_object(s3: S3Client, bucket: str, key: str, body: bytes, kms_key_id: str) -> str | None:
    """Encrypted with the customer key, checksummed end to end, never over an existing object; its version id."""
    answer = s3.put_object(
        Bucket=bucket,
        Key=key,
        Body=body,
        ContentType="application/json",
        ServerSideEncryption="aws:kms",
        SSEKMSKeyId=kms_key_id,
        ChecksumAlgorithm="SHA256",
        ChecksumSHA256=base64.b64encode(hashlib.sha256(body).digest()).decode(),
        IfNoneMatch="*",
    )
    return answer.get("VersionId")


@dataclass(frozen=True)
class RecordPlaces:
    """Where records live: the index table, the locked archive, the erasable personal bucket, the key."""

    table: str
    bucket: str
    personal_bucket: str
    kms_key_id: str
    dynamodb: DynamoDBClient
    s3: S3Client
    index_shards: int = DEFAULT_INDEX_SHARDS  # CANDOR_INDEX_SHARDS: the same for the writer and every reader
    pending_table: str | None = None  # CANDOR_PENDING_TABLE: records awaiting their archive copy

    @classmethod
    def from_settings(cls, settings: StoreSettings, dynamodb: DynamoDBClient, s3: S3Client) -> Self:
        return cls(
            table=settings.records_table,
            bucket=settings.archive_bucket,
            personal_bucket=settings.personal_bucket,
            kms_key_id=settings.kms_key_id,
            dynamodb=dynamodb,
            s3=s3,
            index_shards=settings.index_shards,
            pending_table=settings.pending_table,
        )


class StoreSettings(Protocol):
    @property
    def records_table(self) -> str: ...
    @property
    def archive_bucket(self) -> str: ...
    @property
    def personal_bucket(self) -> str: ...
    @property
    def kms_key_id(self) -> str: ...
    @property
    def index_shards(self) -> int: ...
    @property
    def pending_table(self) -> str | None: ...


@dataclass(frozen=True)
class AwsRecordStore(RecordPlaces):
    """The RecordStore of the domain, on S3 (SSE-KMS, checksummed, no overwrite) and DynamoDB."""

    def put(self, record: ExplanationRecord) -> None:
        if record.personal is None:
            raise ValueError("a new record carries its personal part")
        key = archive_key(record.envelope)
        item = index_item(record, key, shards=self.index_shards)
        sealed, personal = archived_json(record), personal_json(record)  # the bytes sealing hashed
        put: dict[str, Any] = {
            "TableName": self.table,
            "Item": item_attributes(item),
            "ConditionExpression": "attribute_not_exists(decision_id)",
        }
        decision_id = record.envelope.decision_id
        if self.pending_table and commit_open() and fits(sealed, personal):
            # The decision path: both halves durable in the same transaction as the index item; copied later.
            staged = PendingRecord(
                decision_id=decision_id,
                decided_at=record.envelope.decided_at,
                archive_key=key,
                sealed=sealed,
                content_sha256=record.content_sha256,
                personal_key=personal_key(decision_id),
                personal=personal,
            )
            stage(pending_put(self.pending_table, staged))
            stage(put)
            return
        try:
            self._put_objects((self.bucket, key, sealed), (self.personal_bucket, personal_key(decision_id), personal))
            if not stage(put):  # inside a decision's commit, the transaction writes it
                self.dynamodb.put_item(**put)
        except (ClientError, BotoCoreError) as error:
            raise DependencyUnavailable(f"the record could not be stored: {_reason(error)}") from error

    def _put_objects(self, *objects: tuple[str, str, bytes]) -> None:
        """Every (bucket, key, body) at once; returns when all are stored, raises the first failure.

        It waits for every write, failed or not, so that nothing is still being written when the
        caller answers (a 503 included).
        """
        futures = [  # each in a copy of the caller's context (contextvars), as if it ran inline
            _object_writers().submit(
                contextvars.copy_context().run, put_new_object, self.s3, bucket, key, body, self.kms_key_id
            )
            for bucket, key, body in objects
        ]
        failures = [error for error in (future.exception() for future in futures) if error is not None]
        if failures:
            raise failures[0]

    def get(self, decision_id: str) -> StoredRecord | None:
        """The index item and the full record from the archive; None when the decision does not exist.

        Only decisions with an index item exist: an archive object alone is never returned.
        """
        try:
            found = self.dynamodb.get_item(
                TableName=self.table, Key={"decision_id": {"S": decision_id}}, ConsistentRead=True
            )
            if "Item" not in found:
                return None
            item = {name: _deserializer.deserialize(value) for name, value in found["Item"].items()}
            sealed = json.loads(self._object(self.bucket, str(item["archive_key"]), decision_id, personal=False))
            # The index says the personal part is gone: it is not asked for. No function may list
            # the personal bucket, so S3 would answer 403 for it, not 404 (docs/security.md).
            personal = None if item.get("erasure_status") == ERASED else self._personal(decision_id)
            completion = self._completion(item)
        except (ClientError, BotoCoreError) as error:
            raise DependencyUnavailable(f"the record could not be read: {_reason(error)}") from error
        record = ExplanationRecord.model_validate({**sealed, "personal": personal})
        return StoredRecord(item=item, record=record, completion=completion)

    def _completion(self, item: dict[str, Any]) -> SealedCompletion | None:
        """The completion of a once-pending explanation; like records, it exists once the item names it."""
        key = item.get("completion_key")
        if key is None:
            return None
        body = self.s3.get_object(Bucket=self.bucket, Key=str(key))["Body"].read()
        return SealedCompletion.model_validate_json(body)

    def _personal(self, decision_id: str) -> dict[str, Any]:
        """The personal part of a record not marked erased: it exists, so any error is a failure.

        (One missing without the mark is an erasure cut short between the delete and the mark: the
        privacy officer got a 503, and repeating the request finishes it.)
        """
        body = self._object(self.personal_bucket, personal_key(decision_id), decision_id, personal=True)
        return dict(json.loads(body))

    def _object(self, bucket: str, key: str, decision_id: str, *, personal: bool) -> bytes:
        """An object of the record; before its archive copy exists, the same bytes from the pending item.

        An absent object (404, or 403 to a role that may not list the bucket) sends the reader to the
        pending item; with no pending item either, the copy finished between the two reads (it
        writes the objects before deleting the item), so the object is read again, and an error
        then is a failure.
        """
        try:
            return self.s3.get_object(Bucket=bucket, Key=key)["Body"].read()
        except ClientError as error:
            if not self.pending_table or _reason(error) not in _ABSENT:
                raise
        staged = read_pending(self.dynamodb, self.pending_table, decision_id)
        if staged is not None:
            body = staged.personal if personal else staged.sealed
            if body is not None:
                return body
        return self.s3.get_object(Bucket=bucket, Key=key)["Body"].read()


@per_container
def _object_writers() -> ThreadPoolExecutor:
    """Threads for the object writes of a record (boto3 clients are thread-safe); idle between calls."""
    return ThreadPoolExecutor(max_workers=2, thread_name_prefix="candor-object-writes")


@dataclass(frozen=True)
class StoredRecord:
    """A decision as stored: its DynamoDB index item (plain Python values) and its archived record."""

    item: dict[str, Any]
    record: ExplanationRecord
    completion: SealedCompletion | None = None  # a pending explanation, completed later (checked by the readers)


def _reason(error: Exception) -> str:
    if isinstance(error, ClientError):
        return str(error.response.get("Error", {}).get("Code", "ClientError"))
    return type(error).__name__
