"""The open items of the review queue (appeals and referrals `received` or `in_review`), read from the appeals table.

A filtered Scan, every page: the queue is small next to the records (one item per contested or
referred decision), and the SLA check runs once an hour, not per request.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from boto3.dynamodb.types import TypeDeserializer
from botocore.exceptions import BotoCoreError, ClientError

from functions.domain.errors import DependencyUnavailable
from functions.domain.review_backlog import OPEN_STATUSES
from functions.schemas.customer import StoredAppeal

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

_deserializer = TypeDeserializer()


class AwsOpenReviews:
    def __init__(self, *, table: str, dynamodb: DynamoDBClient) -> None:
        self.table, self.dynamodb = table, dynamodb

    def open_items(self) -> Iterator[StoredAppeal]:
        """Every open item; raises DependencyUnavailable if the table cannot be read."""
        values = {f":s{n}": {"S": status} for n, status in enumerate(OPEN_STATUSES)}
        pages = self.dynamodb.get_paginator("scan").paginate(
            TableName=self.table,
            FilterExpression=f"#status IN ({', '.join(values)})",
            ExpressionAttributeNames={"#status": "status"},
            ExpressionAttributeValues=values,
        )
        try:
            for page in pages:
                for raw in page.get("Items", []):
                    item: dict[str, Any] = {name: _deserializer.deserialize(value) for name, value in raw.items()}
                    if "expires_at" in item:
                        item["expires_at"] = int(item["expires_at"])
                    yield StoredAppeal.model_validate(item)
        except (ClientError, BotoCoreError) as error:
            raise DependencyUnavailable(f"the review queue could not be read: {type(error).__name__}") from error
