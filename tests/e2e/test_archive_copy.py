"""The archive copy over the local stack: a decision is durable in DynamoDB when answered, in S3 shortly after.

The copier is the template's ArchiveCopyFunction, fed by the pending table's stream (the local
stack's stream poller, with the mapping's retries and on-failure destination).
"""

from __future__ import annotations

import json
import time
from typing import Any

import pytest
from botocore.exceptions import ClientError

from functions.domain.seal import canonical_json
from functions.stores import aws_clients
from functions.stores.record_store import personal_key
from infra.local.aws import local_name
from tests.e2e.customer import decided
from tests.e2e.test_storage_failure import failing, refused

pytestmark = pytest.mark.e2e


def pending(api: Any, decision_id: str) -> dict[str, Any] | None:
    found = api.aws("dynamodb").get_item(
        TableName=api.stack.env["CANDOR_PENDING_TABLE"], Key={"decision_id": {"S": decision_id}}, ConsistentRead=True
    )
    return found.get("Item")


def archived(api: Any, key: str) -> bytes | None:
    try:
        return bytes(api.aws("s3").get_object(Bucket=api.stack.env["CANDOR_ARCHIVE_BUCKET"], Key=key)["Body"].read())
    except ClientError:
        return None


def read_by_both(api: Any, decision_id: str, token: str) -> dict[str, Any]:
    """The customer's JSON view and the auditor's record, both 200; the auditor's answer."""
    customer = api.call("GET", f"/v1/explanations/{decision_id}", role=None, params={"token": token})
    assert customer.status_code == 200, customer.text
    assert customer.json()["status"] == "available" and customer.json()["data_used"]
    auditor = api.call("GET", f"/v1/explanations/{decision_id}", role="auditor")
    assert auditor.status_code == 200, auditor.text
    assert auditor.json()["verified"] is True and auditor.json()["record"]["personal"] is not None
    return dict(auditor.json())


def failure_reports(api: Any, timeout_s: float = 30) -> list[dict[str, Any]]:
    """What the mapping sent to ArchiveCopyFailureQueue (received and deleted), once something arrives."""
    sqs = api.aws("sqs")
    url = sqs.get_queue_url(QueueName=local_name("ArchiveCopyFailureQueue"))["QueueUrl"]
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        messages = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=1).get("Messages", [])
        for message in messages:
            sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
        if messages:
            return [json.loads(m["Body"]) for m in messages]
    return []


def test_a_decision_is_readable_at_once_and_its_archive_object_appears_after_the_copy(api):
    decision_id, token, _ = decided(api, "demo-refund-1")
    record = read_by_both(api, decision_id, token)["record"]  # pending or copied already: the same record
    api.stack.drain()
    assert pending(api, decision_id) is None
    key = api.aws("dynamodb").get_item(
        TableName=api.stack.env["CANDOR_RECORDS_TABLE"], Key={"decision_id": {"S": decision_id}}
    )["Item"]["archive_key"]["S"]
    body = archived(api, key)
    assert body is not None
    copied = json.loads(body)
    assert copied["content_sha256"] == record["content_sha256"]
    assert copied["envelope"]["decision_id"] == decision_id
    assert canonical_json(copied) == body  # written as sealed: canonical JSON, byte for byte
    assert read_by_both(api, decision_id, token)["record"] == record


def test_a_copy_that_keeps_failing_goes_to_the_failure_queue_and_the_record_stays_pending_and_readable(api):
    api.stack.drain()
    with failing(aws_clients.s3(), "PutObject", refused("KMS.KMSInvalidStateException")):  # the records key
        decision_id, token, _ = decided(api, "demo-refund-2")
        reports = failure_reports(api)
        assert reports, "nothing reached the copier's failure destination"
        assert reports[0]["requestContext"]["functionArn"].endswith(":function:ArchiveCopyFunction")
        assert "Records" not in json.dumps(reports)  # where the batch was, never the record
    assert pending(api, decision_id) is not None  # still durable, no TTL
    item = api.aws("dynamodb").get_item(
        TableName=api.stack.env["CANDOR_RECORDS_TABLE"], Key={"decision_id": {"S": decision_id}}
    )["Item"]
    assert archived(api, item["archive_key"]["S"]) is None
    read_by_both(api, decision_id, token)  # served from the pending item
    # No archive object to hold yet: 503 before anything is written (docs/records.md).
    held = api.call("PUT", f"/v1/explanations/{decision_id}/legal-hold", role="privacy", json={"on": True})
    assert held.status_code == 503, held.text
    assert (
        "legal_hold" not in item
        and "legal_hold"
        not in api.aws("dynamodb").get_item(
            TableName=api.stack.env["CANDOR_RECORDS_TABLE"], Key={"decision_id": {"S": decision_id}}
        )["Item"]
    )
    with pytest.raises(TimeoutError):
        api.stack.drain(timeout_s=1)

    # The operator's redrive (docs/records.md): touching the item sends it down the stream again.
    api.aws("dynamodb").update_item(
        TableName=api.stack.env["CANDOR_PENDING_TABLE"],
        Key={"decision_id": {"S": decision_id}},
        UpdateExpression="SET redriven_at = :now",
        ExpressionAttributeValues={":now": {"S": "2026-12-02T12:00:00Z"}},
    )
    api.stack.drain()
    assert archived(api, item["archive_key"]["S"]) is not None
    personal = api.aws("s3").get_object(Bucket=api.stack.env["CANDOR_PERSONAL_BUCKET"], Key=personal_key(decision_id))[
        "Body"
    ]
    assert personal.read()
    read_by_both(api, decision_id, token)
    held = api.call("PUT", f"/v1/explanations/{decision_id}/legal-hold", role="privacy", json={"on": True})
    assert held.status_code == 200, held.text  # copied: the hold applies
