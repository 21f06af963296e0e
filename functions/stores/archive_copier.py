"""The archive copy of a pending record: its two S3 objects written from the pending item, then the item deleted.

Per decision id (the pending table's stream is KEYS_ONLY: the stream carries no personal data,
and the item is read here, consistently):

1. no item: already copied (a redelivery after the delete), nothing to do;
2. the archive object, then the personal object if the item still has its personal part, each
   with If-None-Match "*" as every record write. A 412 (the object exists) is a redelivery of a
   copy that stopped before its delete, fine only when the stored object's SHA-256 is the staged
   bytes'; anything else is a conflict, raised (the batch fails, and ends in the failure queue);
3. the item deleted only if its personal part is as read. Erasure removes the part from the item
   before it lists the personal object's versions; so when the delete's condition fails, erasure
   may have listed before this copy wrote the object, and the copier deletes that version itself.
"""

from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from botocore.exceptions import ClientError

from functions.stores.pending_records import PERSONAL, read_pending
from functions.stores.record_store import put_new_object

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_s3 import S3Client

CopyOutcome = Literal["copied", "absent", "erased"]


class CopyConflict(Exception):
    """An object already at the key holds other bytes than the pending record: never overwritten, never deleted."""


def _code(error: ClientError) -> str:
    return str(error.response.get("Error", {}).get("Code", ""))


def sha256_b64(body: bytes) -> str:
    """S3's form of a SHA-256 checksum (base64 of the digest)."""
    return base64.b64encode(hashlib.sha256(body).digest()).decode()


@dataclass(frozen=True)
class ArchiveCopier:
    pending_table: str
    bucket: str
    personal_bucket: str
    kms_key_id: str
    dynamodb: DynamoDBClient
    s3: S3Client

    def copy(self, decision_id: str) -> CopyOutcome:
        """Copy one pending record; `erased` when erasure removed its personal part while it was copied."""
        staged = read_pending(self.dynamodb, self.pending_table, decision_id)
        if staged is None:
            return "absent"
        self._write(self.bucket, staged.archive_key, staged.sealed)
        version = None
        if staged.personal is not None:
            version = self._write(self.personal_bucket, staged.personal_key, staged.personal)
        key = {"decision_id": {"S": decision_id}}
        condition = (
            f"attribute_exists({PERSONAL})" if staged.personal is not None else f"attribute_not_exists({PERSONAL})"
        )
        try:
            self.dynamodb.delete_item(TableName=self.pending_table, Key=key, ConditionExpression=condition)
        except ClientError as error:
            if _code(error) != "ConditionalCheckFailedException":
                raise
            # Erased since it was read: the personal object written above must not outlive the erasure.
            if version is not None:
                self.s3.delete_object(Bucket=self.personal_bucket, Key=staged.personal_key, VersionId=version)
            self.dynamodb.delete_item(TableName=self.pending_table, Key=key)
            return "erased"
        return "copied"

    def _write(self, bucket: str, key: str, body: bytes) -> str | None:
        """Write the object unless it is there already with these very bytes; its version id either way."""
        try:
            return put_new_object(self.s3, bucket, key, body, self.kms_key_id)
        except ClientError as error:
            if _code(error) not in ("PreconditionFailed", "412"):
                raise
        head: Any = self.s3.head_object(Bucket=bucket, Key=key, ChecksumMode="ENABLED")
        stored = head.get("ChecksumSHA256")
        if stored is None:  # no checksum kept (not written by Candor): compare the bytes themselves
            stored = sha256_b64(self.s3.get_object(Bucket=bucket, Key=key)["Body"].read())
        if stored != sha256_b64(body):
            raise CopyConflict(f"s3://{bucket}/{key} exists with other content than the pending record")
        version = head.get("VersionId")
        return str(version) if version else None
