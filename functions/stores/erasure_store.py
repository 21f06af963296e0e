"""The privacy officer's writes on records: legal holds, erasure (every place a personal part is), restriction.

Split from `functions/stores/record_store.py`, whose places (`RecordPlaces`) it shares. Erasure
reaches the personal part wherever it is: a still-pending item (before its archive copy,
docs/records.md), every version of the personal object, and the remembered answer.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from botocore.exceptions import BotoCoreError, ClientError

from functions.domain.errors import DependencyUnavailable
from functions.stores.pending_records import erase_pending_personal, is_pending
from functions.stores.record_store import ERASED, RecordPlaces, _reason, personal_key, put_new_object

LEGAL_HOLD_ROUNDS = 10  # set_legal_hold's attempts to catch up with concurrent changes before a 503


@dataclass(frozen=True)
class AwsErasureStore(RecordPlaces):
    """The privacy officer's writes: delete personal parts, mark index items, keep a receipt."""

    idempotency_table: str | None = None

    def set_legal_hold(self, decision_id: str, on: bool, at: str) -> bool:
        """The flag erasure reads, then S3 Object Lock legal hold on the archived envelope; False if no such decision.

        Two requests at once (one placing, one lifting) must not leave the flag saying one thing and
        the lock the other, and S3 has no conditional legal-hold write. So the flag is written first,
        with a version counter; the lock is then set to the flag's value at that version, and the
        version read back: if another request has changed the flag since, its value is applied too,
        until the version read back is the one applied. The last lock written is then always the
        latest flag's, whatever the interleaving (docs/auditors.md).

        A record still awaiting its archive copy has no object to hold yet: 503 before anything is
        written (the flag alone would disagree with the lock), and the request is repeated after the
        copy. Checked first, race-free: the copier writes the object before it deletes the item.
        """
        key = {"decision_id": {"S": decision_id}}
        try:
            if self.pending_table and is_pending(self.dynamodb, self.pending_table, decision_id):
                raise DependencyUnavailable(
                    "the record is not in the archive yet (its copy is pending): repeat shortly"
                )
            try:
                item = self.dynamodb.update_item(
                    TableName=self.table,
                    Key=key,
                    UpdateExpression="SET legal_hold = :on, legal_hold_at = :at ADD legal_hold_version :one",
                    ConditionExpression="attribute_exists(decision_id)",
                    ExpressionAttributeValues={":on": {"BOOL": on}, ":at": {"S": at}, ":one": {"N": "1"}},
                    ReturnValues="ALL_NEW",
                )["Attributes"]
            except ClientError as error:
                if _reason(error) == "ConditionalCheckFailedException":
                    return False
                raise
            archive, applied = item["archive_key"]["S"], item
            for _ in range(LEGAL_HOLD_ROUNDS):
                status: Literal["ON", "OFF"] = "ON" if applied["legal_hold"]["BOOL"] else "OFF"
                self.s3.put_object_legal_hold(Bucket=self.bucket, Key=archive, LegalHold={"Status": status})
                latest = self.dynamodb.get_item(
                    TableName=self.table,
                    Key=key,
                    ConsistentRead=True,
                    ProjectionExpression="legal_hold, legal_hold_version",
                )["Item"]
                if latest["legal_hold_version"] == applied["legal_hold_version"]:
                    return True
                applied = latest
        except (ClientError, BotoCoreError) as error:
            raise DependencyUnavailable(f"the legal hold could not be set: {_reason(error)}") from error
        raise DependencyUnavailable("the legal hold kept changing while it was set: repeat the request")

    def erase(self, decision_id: str, at: str, *, answer_key: str | None = None) -> bool:
        """Delete every version of the personal part and the remembered answer, then drop the index's segments.

        `answer_key`: the decision's idempotency record (in `idempotency_table`), which keeps the
        whole answer, display values of the inputs included, until its TTL. True when this call
        marked the record erased; False when another request had already (both delete: deleting
        is idempotent; only one mark, so only one receipt says it erased the record).
        """
        try:
            if answer_key and self.idempotency_table:
                self.dynamodb.delete_item(TableName=self.idempotency_table, Key={"id": {"S": answer_key}})
            if self.pending_table:  # not copied yet: the item holds the personal part; before the listing,
                # so that a copy racing this erasure either wrote its object already (listed below) or finds
                # the part gone from the item and deletes the object it wrote (docs/records.md).
                erase_pending_personal(self.dynamodb, self.pending_table, decision_id)
            versions = []
            # The key before objects were spread too (docs/records.md): an erasure must not miss one.
            for key in (personal_key(decision_id), f"personal/{decision_id}.json"):
                listing = self.s3.list_object_versions(Bucket=self.personal_bucket, Prefix=key)
                versions += [
                    {"Key": v["Key"], "VersionId": v["VersionId"]}
                    for v in [*listing.get("Versions", []), *listing.get("DeleteMarkers", [])]
                    if v["Key"] == key
                ]
            if versions:
                self.s3.delete_objects(Bucket=self.personal_bucket, Delete={"Objects": versions, "Quiet": True})  # type: ignore[typeddict-item]
            return self._mark(decision_id, ERASED, at, remove_segments=True)
        except (ClientError, BotoCoreError) as error:
            raise DependencyUnavailable(f"the erasure could not be completed: {_reason(error)}") from error

    def restrict(self, decision_id: str, at: str) -> bool:
        """Mark the record restricted; False when another request had already marked it."""
        try:
            return self._mark(decision_id, "restricted", at, remove_segments=False)
        except (ClientError, BotoCoreError) as error:
            raise DependencyUnavailable(f"the restriction could not be recorded: {_reason(error)}") from error

    def _mark(self, decision_id: str, status: str, at: str, *, remove_segments: bool) -> bool:
        """Set the erasure status unless the record already has it (or is erased): False then."""
        request: dict[str, Any] = {
            "TableName": self.table,
            "Key": {"decision_id": {"S": decision_id}},
            "UpdateExpression": "SET erasure_status = :s, erasure_at = :at",
            "ConditionExpression": "attribute_exists(decision_id) AND "
            "(attribute_not_exists(erasure_status) OR NOT erasure_status IN (:s, :erased))",
            "ExpressionAttributeValues": {":s": {"S": status}, ":at": {"S": at}, ":erased": {"S": ERASED}},
        }
        if remove_segments:
            request["UpdateExpression"] += " REMOVE #seg"
            request["ExpressionAttributeNames"] = {"#seg": "segments"}  # a reserved word
        try:
            self.dynamodb.update_item(**request)
        except ClientError as error:
            if _reason(error) == "ConditionalCheckFailedException":  # the item is from the index: it exists
                return False
            raise
        return True

    def keep_receipt(self, erasure_id: str, body: bytes) -> str:
        key = f"erasures/{erasure_id}.json"
        try:
            put_new_object(self.s3, self.bucket, key, body, self.kms_key_id)
        except (ClientError, BotoCoreError) as error:
            raise DependencyUnavailable(f"the erasure receipt could not be stored: {_reason(error)}") from error
        return key
