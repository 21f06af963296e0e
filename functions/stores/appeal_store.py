"""Appeals in DynamoDB: one write-once item per decision (key `decision_id`), indexed by model and day."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from boto3.dynamodb.types import TypeDeserializer, TypeSerializer
from botocore.exceptions import BotoCoreError, ClientError

from functions.domain.errors import DependencyUnavailable
from functions.schemas.customer import StoredAppeal

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

_serializer = TypeSerializer()
_deserializer = TypeDeserializer()


class AwsAppealStore:
    """The AppealStore of the domain, on the appeals table."""

    def __init__(self, *, table: str, dynamodb: DynamoDBClient) -> None:
        self.table, self.dynamodb = table, dynamodb

    def get(self, decision_id: str) -> StoredAppeal | None:
        """The appeal on a decision, or None (strongly consistent)."""
        try:
            found = self.dynamodb.get_item(
                TableName=self.table, Key={"decision_id": {"S": decision_id}}, ConsistentRead=True
            )
        except (ClientError, BotoCoreError) as error:
            raise DependencyUnavailable(f"the appeal could not be read: {_reason(error)}") from error
        if "Item" not in found:
            return None
        item: dict[str, Any] = {name: _deserializer.deserialize(value) for name, value in found["Item"].items()}
        if "expires_at" in item:
            item["expires_at"] = int(item["expires_at"])
        return StoredAppeal.model_validate(item)

    def create(self, appeal: StoredAppeal) -> tuple[StoredAppeal, bool]:
        """Conditional put; when an appeal already exists, return it instead (nothing is overwritten)."""
        item = appeal.model_dump(exclude_none=True)
        try:
            self.dynamodb.put_item(
                TableName=self.table,
                Item={name: _serializer.serialize(value) for name, value in item.items()},
                ConditionExpression="attribute_not_exists(decision_id)",
            )
        except ClientError as error:
            if _reason(error) != "ConditionalCheckFailedException":
                raise DependencyUnavailable(f"the appeal could not be stored: {_reason(error)}") from error
            existing = self.get(appeal.decision_id)
            if existing is None:  # cannot happen with a write-once table; fail closed rather than guess
                raise DependencyUnavailable("the appeal could not be stored") from error
            return existing, False
        except BotoCoreError as error:
            raise DependencyUnavailable(f"the appeal could not be stored: {_reason(error)}") from error
        return appeal, True


def _reason(error: Exception) -> str:
    if isinstance(error, ClientError):
        return str(error.response.get("Error", {}).get("Code", "ClientError"))
    return type(error).__name__
