"""Reviews in AWS: the queue (appeals table), claims (conditional updates), sealed reviews (archive).

- the queue is the appeals table read through `by_model_day` (a model's cases of a day, by
  filing time), oldest day first; the decisions' outcome and adverse flag come from the records
  table in one BatchGetItem per page;
- a claim is one UpdateItem whose condition lets exactly one reviewer win;
- a resolution writes the sealed review to `reviews/...` in the archive (Object Lock, never over an
  existing object), then marks the appeal with one conditional UpdateItem that names it. As for
  records, the review exists once its item names it; a lost claim leaves an unlisted object.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from boto3.dynamodb.types import TypeDeserializer, TypeSerializer
from botocore.exceptions import BotoCoreError, ClientError

from functions.domain.errors import Conflict, DependencyUnavailable
from functions.domain.index_shards import every_shard
from functions.domain.review import QueueFilter, iso, review_key
from functions.domain.seal import canonical_json
from functions.schemas.customer import StoredAppeal
from functions.schemas.review import SealedReview
from functions.stores.record_index import RecordIndex, items_by_id
from functions.stores.record_store import put_new_object

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_s3 import S3Client

_serializer = TypeSerializer()
_deserializer = TypeDeserializer()


def _reason(error: Exception) -> str:
    if isinstance(error, ClientError):
        return str(error.response.get("Error", {}).get("Code", "ClientError"))
    return type(error).__name__


def _appeal(raw: dict[str, Any]) -> StoredAppeal:
    item: dict[str, Any] = {name: _deserializer.deserialize(value) for name, value in raw.items()}
    if "expires_at" in item:
        item["expires_at"] = int(item["expires_at"])
    return StoredAppeal.model_validate(item)


@dataclass(frozen=True)
class QueuedCase:
    appeal: StoredAppeal
    outcome: str | None
    adverse: bool | None


@dataclass(frozen=True)
class AwsReviewStore:
    """The ReviewStore of the domain, plus the reads the reviewer routes need."""

    appeals_table: str
    records_table: str
    bucket: str
    kms_key_id: str
    dynamodb: DynamoDBClient
    s3: S3Client
    index_shards: int = 1

    # ------------------------------------------------------------------ queue

    def queue(
        self, model_id: str, chosen: QueueFilter, now: datetime, *, limit: int, after: str | None = None
    ) -> tuple[list[QueuedCase], str | None]:
        """Up to `limit` cases, oldest first, from after the cursor `after` ('<created_at>|<decision_id>')."""
        found: list[QueuedCase] = []
        for appeals in self._filed(model_id, chosen.days(now), after):
            facts = self._decision_facts([a.decision_id for a in appeals])
            for appeal in appeals:
                outcome, adverse = facts.get(appeal.decision_id, (None, None))
                if not chosen.admits(appeal, adverse, now):
                    continue
                found.append(QueuedCase(appeal, outcome, adverse))
                if len(found) == limit:
                    return found, f"{appeal.created_at}|{appeal.decision_id}"
        return found, None

    def _filed(self, model_id: str, days: list[str], after: str | None) -> Iterator[list[StoredAppeal]]:
        """The model's cases, day by day (oldest first), a page at a time, after the cursor."""
        after_at, _, after_id = (after or "").partition("|")
        for day in days:
            if after_at and day < after_at[:10]:
                continue
            request: dict[str, Any] = {
                "TableName": self.appeals_table,
                "IndexName": "by_model_day",
                "KeyConditionExpression": "model_day = :k AND created_at >= :after",
                "ExpressionAttributeValues": {":k": {"S": f"{model_id}#{day}"}, ":after": {"S": after_at or day}},
                "ScanIndexForward": True,
            }
            while True:
                try:
                    answer = self.dynamodb.query(**request)
                except (ClientError, BotoCoreError) as error:
                    raise DependencyUnavailable(f"the review queue could not be read: {_reason(error)}") from error
                appeals = [_appeal(raw) for raw in answer.get("Items", [])]
                yield [a for a in appeals if (a.created_at, a.decision_id) > (after_at, after_id)]
                if "LastEvaluatedKey" not in answer:
                    break
                request["ExclusiveStartKey"] = answer["LastEvaluatedKey"]

    def _decision_facts(self, ids: list[str]) -> dict[str, tuple[str | None, bool | None]]:
        """decision_id -> (outcome, adverse) from the records' index items."""
        facts: dict[str, tuple[str | None, bool | None]] = {}
        for item in items_by_id(self.dynamodb, self.records_table, ids, ["outcome", "adverse"], "the records index"):
            adverse = item.get("adverse")
            outcome = str(item["outcome"]) if "outcome" in item else None
            facts[str(item["decision_id"])] = (outcome, bool(adverse) if adverse is not None else None)
        return facts

    def similar(self, model_id: str, outcome: str, decided_at: str, decision_id: str) -> list[dict[str, Any]]:
        """Up to 5 of the model's decisions with the same outcome in the 30 days before this one, newest first."""
        index = RecordIndex(table=self.records_table, dynamodb=self.dynamodb)
        start = iso(datetime.fromisoformat(decided_at.replace("Z", "+00:00")) - timedelta(days=30))
        partitions = [
            ("by_model_outcome", "model_outcome", key)
            for key in every_shard(f"{model_id}#{outcome}", self.index_shards)
        ]
        fields = ["decision_id", "decided_at", "outcome", "score"]
        page = index.page([tuple(partitions)], start, decided_at, limit=6, projection=fields)
        return [item for item in page.items if item["decision_id"] != decision_id][:5]

    def appeal_statuses(self, ids: list[str]) -> dict[str, str]:
        """decision_id -> review status, for the decisions that have an appeal or referral."""
        appeals = items_by_id(self.dynamodb, self.appeals_table, ids, ["status"], "the appeals table")
        return {str(item["decision_id"]): str(item["status"]) for item in appeals}

    # ------------------------------------------------------------ one case

    def get(self, decision_id: str) -> StoredAppeal | None:
        try:
            found = self.dynamodb.get_item(
                TableName=self.appeals_table, Key={"decision_id": {"S": decision_id}}, ConsistentRead=True
            )
        except (ClientError, BotoCoreError) as error:
            raise DependencyUnavailable(f"the appeal could not be read: {_reason(error)}") from error
        return _appeal(found["Item"]) if "Item" in found else None

    def review(self, appeal: StoredAppeal) -> SealedReview | None:
        """The sealed review the appeal names, as stored (the caller checks it)."""
        if appeal.review_key is None:
            return None
        try:
            body = self.s3.get_object(Bucket=self.bucket, Key=appeal.review_key)["Body"].read()
        except (ClientError, BotoCoreError) as error:
            raise DependencyUnavailable(f"the review could not be read: {_reason(error)}") from error
        return SealedReview.model_validate_json(body)

    # ------------------------------------------------------- claim, resolve

    def claim(self, appeal: StoredAppeal, reviewer: str, now: datetime, ttl: timedelta) -> StoredAppeal:
        """in_review for `reviewer` until now + ttl, if the case is open and not held by another live claim."""
        values = {
            ":received": "received",
            ":in_review": "in_review",
            ":me": reviewer,
            ":now": iso(now),
            ":until": iso(now + ttl),
        }
        try:
            answer = self.dynamodb.update_item(
                TableName=self.appeals_table,
                Key={"decision_id": {"S": appeal.decision_id}},
                UpdateExpression="SET #s = :in_review, claimed_by = :me, claimed_at = :now, claim_expires_at = :until",
                ConditionExpression="attribute_exists(decision_id) AND (#s = :received OR (#s = :in_review AND "
                "(claimed_by = :me OR claim_expires_at <= :now)))",
                ExpressionAttributeNames={"#s": "status"},
                ExpressionAttributeValues={name: _serializer.serialize(value) for name, value in values.items()},
                ReturnValues="ALL_NEW",
            )
        except ClientError as error:
            if _reason(error) == "ConditionalCheckFailedException":
                raise Conflict("another reviewer claimed or resolved this case first") from error
            raise DependencyUnavailable(f"the claim could not be stored: {_reason(error)}") from error
        except BotoCoreError as error:
            raise DependencyUnavailable(f"the claim could not be stored: {_reason(error)}") from error
        return _appeal(answer["Attributes"])

    def resolve(self, appeal: StoredAppeal, sealed: SealedReview) -> StoredAppeal:
        review = sealed.review
        key = review_key(review)
        values: dict[str, Any] = {
            ":verdict": review.verdict,
            ":in_review": "in_review",
            ":me": review.reviewer,
            ":at": review.resolved_at,
            ":day": review.resolved_at[:10],
            ":key": key,
            ":sha": sealed.content_sha256,
            ":reason": review.reason,
        }
        update = (
            "SET #s = :verdict, resolved_at = :at, resolved_day = :day, review_key = :key, "
            "review_sha256 = :sha, review_reason = :reason"
        )
        if review.verdict == "overturned":
            values[":outcome"] = review.final_outcome
            update += ", new_outcome = :outcome"
        try:
            put_new_object(self.s3, self.bucket, key, canonical_json(sealed), self.kms_key_id)
            answer = self.dynamodb.update_item(
                TableName=self.appeals_table,
                Key={"decision_id": {"S": appeal.decision_id}},
                UpdateExpression=update,
                ConditionExpression="#s = :in_review AND claimed_by = :me",
                ExpressionAttributeNames={"#s": "status"},
                ExpressionAttributeValues={name: _serializer.serialize(value) for name, value in values.items()},
                ReturnValues="ALL_NEW",
            )
        except ClientError as error:
            if _reason(error) == "ConditionalCheckFailedException":
                raise Conflict("the claim was lost: another reviewer claimed or resolved this case") from error
            raise DependencyUnavailable(f"the review could not be stored: {_reason(error)}") from error
        except BotoCoreError as error:
            raise DependencyUnavailable(f"the review could not be stored: {_reason(error)}") from error
        return _appeal(answer["Attributes"])
