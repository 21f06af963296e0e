"""Sealed records awaiting their archive copy: one DynamoDB item each, in the pending-records table.

On the decision path a record is made durable in DynamoDB, not S3: the item holds exactly the
bytes the two S3 objects will hold (the sealed envelope's canonical JSON, the personal part's),
their keys, the content hash and the decision time, and it is written in the decision's one
transaction (`functions/stores/decision_commit.py`). The archive copier
(`functions/archive_copy_service.py`, fed by the table's KEYS_ONLY stream) writes the objects and
deletes the item, normally within a second. Until then readers read the item (`read_pending`),
erasure removes its personal part (`erase_pending_personal`), and the integrity digest of its
window waits (`any_pending`). docs/records.md says why and what it changes.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

# DynamoDB's item limit is 400 KB, attribute names and every other attribute included; a record
# whose two parts do not fit in this much is written to S3 directly (the slower path, still correct).
MAX_STAGED_BYTES = 390 * 1024

SEALED, PERSONAL = "sealed", "personal"  # the two binary attributes: the objects' exact bytes


@dataclass(frozen=True)
class PendingRecord:
    """A pending item as read: where each object goes and its bytes; `personal` None once erased."""

    decision_id: str
    decided_at: str
    archive_key: str
    sealed: bytes
    content_sha256: str
    personal_key: str
    personal: bytes | None


def fits(sealed: bytes, personal: bytes) -> bool:
    """Whether both parts fit in one item (with room for its keys and names)."""
    return len(sealed) + len(personal) <= MAX_STAGED_BYTES


def pending_put(table: str, record: PendingRecord) -> dict[str, Any]:
    """The conditional Put (write-once, as the index item) that makes the record durable before its copy."""
    item: dict[str, Any] = {
        "decision_id": {"S": record.decision_id},
        "decided_at": {"S": record.decided_at},
        "archive_key": {"S": record.archive_key},
        SEALED: {"B": record.sealed},
        "content_sha256": {"S": record.content_sha256},
        "personal_key": {"S": record.personal_key},
    }
    if record.personal is not None:
        item[PERSONAL] = {"B": record.personal}
    return {"TableName": table, "Item": item, "ConditionExpression": "attribute_not_exists(decision_id)"}


def read_pending(dynamodb: DynamoDBClient, table: str, decision_id: str) -> PendingRecord | None:
    """The pending item, read consistently (a decision answered a moment ago must be found); None once copied."""
    found = dynamodb.get_item(TableName=table, Key={"decision_id": {"S": decision_id}}, ConsistentRead=True)
    item = found.get("Item")
    if item is None:
        return None
    personal = item.get(PERSONAL)
    return PendingRecord(
        decision_id=str(item["decision_id"]["S"]),
        decided_at=str(item["decided_at"]["S"]),
        archive_key=str(item["archive_key"]["S"]),
        sealed=bytes(item[SEALED]["B"]),
        content_sha256=str(item["content_sha256"]["S"]),
        personal_key=str(item["personal_key"]["S"]),
        personal=bytes(personal["B"]) if personal is not None else None,
    )


def is_pending(dynamodb: DynamoDBClient, table: str, decision_id: str) -> bool:
    """Whether the record still awaits its archive copy (its key only is read, consistently)."""
    found = dynamodb.get_item(
        TableName=table,
        Key={"decision_id": {"S": decision_id}},
        ConsistentRead=True,
        ProjectionExpression="decision_id",
    )
    return "Item" in found


def erase_pending_personal(dynamodb: DynamoDBClient, table: str, decision_id: str) -> bool:
    """Remove the personal part from a still-pending item; False when there is no such item (copied, or never staged).

    The copier deletes an item only while its personal part is as it read it, so a copy racing
    this erasure deletes the personal object it has just written (docs/records.md).
    """
    try:
        dynamodb.update_item(
            TableName=table,
            Key={"decision_id": {"S": decision_id}},
            UpdateExpression="REMOVE #personal",
            ConditionExpression="attribute_exists(decision_id)",
            ExpressionAttributeNames={"#personal": PERSONAL},
        )
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException":
            return False
        raise
    return True


def any_pending(dynamodb: DynamoDBClient, table: str, start: str, end: str) -> bool:
    """Whether a record decided in [start, end) (ISO-8601 strings) still awaits its copy.

    A Scan, with a filter: the table holds only the records of the last seconds (each item lives
    until its copy), so it is a page or two, and a time index would cost every decision a write
    for a question asked once an hour. Read consistently: an item just written must count.
    """
    request: dict[str, Any] = {
        "TableName": table,
        "ConsistentRead": True,
        "ProjectionExpression": "decision_id",
        "FilterExpression": "decided_at >= :start AND decided_at < :end",
        "ExpressionAttributeValues": {":start": {"S": start}, ":end": {"S": end}},
    }
    while True:
        page = dynamodb.scan(**request)
        if page.get("Items"):
            return True
        last = page.get("LastEvaluatedKey")
        if not last:
            return False
        request["ExclusiveStartKey"] = last
