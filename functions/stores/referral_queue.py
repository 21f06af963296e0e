"""Referrals in the review queue (the appeals table): written once, with the decision they refer.

On the decision path the conditional put is staged, like the record's index put, and goes out in
the decision's one transaction (`functions/stores/decision_commit.py`): the referral,
the decision and its remembered answer are stored together or not at all. Outside a commit
(library mode with a table, tests) the put is sent at once.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from boto3.dynamodb.types import TypeSerializer
from botocore.exceptions import BotoCoreError, ClientError

from functions.domain.errors import DependencyUnavailable
from functions.schemas.customer import StoredAppeal
from functions.stores.decision_commit import stage

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

_serializer = TypeSerializer()


class AwsReferralQueue:
    """The ReferralQueue of the domain, on the appeals table (write-once items keyed by decision id)."""

    def __init__(self, *, table: str, dynamodb: DynamoDBClient) -> None:
        self.table, self.dynamodb = table, dynamodb

    def refer(self, referral: StoredAppeal) -> None:
        item = referral.model_dump(exclude_none=True)
        put: dict[str, Any] = {
            "TableName": self.table,
            "Item": {name: _serializer.serialize(value) for name, value in item.items()},
            # A new decision id has no item yet; the condition keeps an appeal from ever being overwritten.
            "ConditionExpression": "attribute_not_exists(decision_id)",
        }
        if stage(put):
            return
        try:
            self.dynamodb.put_item(**put)
        except (ClientError, BotoCoreError) as error:
            code = error.response.get("Error", {}).get("Code") if isinstance(error, ClientError) else None
            raise DependencyUnavailable(f"the referral could not be stored: {code or type(error).__name__}") from error
