"""Where completed explanations go: a second write-once object, and completion attributes on the index item.

- the sealed completion in the archive bucket (Object Lock, like the envelope), at
  `completions/model=<id>/date=<day of the decision>/<decision_id>.json`: derived from the
  record alone, so a redelivered job finds the same key;
- on the record's index item, only while absent: `completion_key`, `completion_sha256`,
  `completed_at`, `explanation_status` and the largest attributions the reports read.

Object first, item last, as for records: a completion exists once its item names it. A job
retried after a crash between the two writes finds the object, checks it and finishes the item.
The envelope itself is never touched.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from boto3.dynamodb.types import TypeSerializer
from botocore.exceptions import BotoCoreError, ClientError

from functions.domain.completion import StoredPending
from functions.domain.completion_seal import completion_verifies
from functions.domain.errors import DependencyUnavailable
from functions.domain.seal import canonical_json
from functions.schemas.record import Envelope, ExplanationRecord, SealedCompletion
from functions.stores.record_store import AwsRecordStore, _reason, indexed_attributions, put_new_object

_serializer = TypeSerializer()
_OBJECT_EXISTS = {"PreconditionFailed", "ConditionalRequestConflict"}


def completion_key(envelope: Envelope) -> str:
    """Beside the record's own partition (same model and day), under its own prefix for Athena."""
    return f"completions/model={envelope.model.id}/date={envelope.decided_at[:10]}/{envelope.decision_id}.json"


@dataclass(frozen=True)
class AwsCompletionStore:
    """The worker's CompletionStore: completes pending records, never overwrites, and a repeat is a no-op."""

    records: AwsRecordStore  # where the records are, and how they are read

    def for_completion(self, decision_id: str) -> StoredPending | None:
        """The stored decision as the worker needs it; None when it does not exist (yet)."""
        stored = self.records.get(decision_id)
        if stored is None:
            return None
        status = stored.item.get("erasure_status")
        return StoredPending(
            record=stored.record,
            erasure_status=str(status) if status else None,
            completed="completion_sha256" in stored.item,
        )

    def save(self, record: ExplanationRecord, sealed: SealedCompletion) -> bool:
        """Store the completion once; False when the record was completed already (nothing written).

        Raises DependencyUnavailable when storage fails, or when an object already at the key
        does not complete this record.
        """
        key = completion_key(record.envelope)
        try:
            stored = self._write_once(key, record, sealed)
            return self._mark_item(record.envelope.decision_id, key, stored)
        except (ClientError, BotoCoreError) as error:
            raise DependencyUnavailable(f"the completion could not be stored: {_reason(error)}") from error

    def _write_once(self, key: str, record: ExplanationRecord, sealed: SealedCompletion) -> SealedCompletion:
        """Our completion, or the one an earlier attempt left at the key (which then stands)."""
        places = self.records
        try:
            put_new_object(places.s3, places.bucket, key, canonical_json(sealed), places.kms_key_id)
            return sealed
        except ClientError as error:
            if _reason(error) not in _OBJECT_EXISTS:
                raise
        existing = SealedCompletion.model_validate_json(
            places.s3.get_object(Bucket=places.bucket, Key=key)["Body"].read()
        )
        if not completion_verifies(existing, record):
            raise DependencyUnavailable(f"the completion at {key} does not complete this record")
        return existing

    def _mark_item(self, decision_id: str, key: str, sealed: SealedCompletion) -> bool:
        explanation = sealed.completion.explanation
        values: dict[str, Any] = {
            ":key": key,
            ":sha": sealed.content_sha256,
            ":at": sealed.completion.completed_at,
            ":status": explanation.status,
            ":attributions": indexed_attributions(explanation),
        }
        try:
            self.records.dynamodb.update_item(
                TableName=self.records.table,
                Key={"decision_id": {"S": decision_id}},
                UpdateExpression="SET completion_key = :key, completion_sha256 = :sha, completed_at = :at, "
                "explanation_status = :status, attributions = :attributions",
                # attribute_exists: UpdateItem would otherwise create an item for a decision that does not exist.
                ConditionExpression="attribute_exists(decision_id) AND attribute_not_exists(completion_sha256)",
                ExpressionAttributeValues={name: _serializer.serialize(value) for name, value in values.items()},
            )
        except ClientError as error:
            if _reason(error) == "ConditionalCheckFailedException":
                return False  # completed by an earlier delivery of the same job
            raise
        return True
