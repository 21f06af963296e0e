"""The local stack feeds the rollup function from the records' stream, as a Lambda event source mapping would."""

from __future__ import annotations

import time

import boto3

from functions.domain.seal import new_salt, personal_digest, seal
from infra.local.stack import LocalStack
from infra.local.stream_event_source import first_failure
from tests.support import record_store
from tests.unit.domain.records import sample_envelope, sample_personal


def _record(serial: int):
    personal = sample_personal().model_copy(update={"salt": new_salt()})
    envelope = sample_envelope(personal).model_copy(
        update={"decision_id": f"01JG{serial:022d}", "personal_sha256": personal_digest(personal)}
    )
    return seal(envelope, personal)


def test_the_local_stack_rolls_up_new_records_from_the_stream() -> None:
    with LocalStack(preload=False) as stack:
        dynamodb = boto3.client("dynamodb", endpoint_url=stack.aws_url, region_name="eu-west-1")
        s3 = boto3.client("s3", endpoint_url=stack.aws_url, region_name="eu-west-1")
        store = record_store(stack.env, dynamodb, s3)
        for serial in range(3):
            store.put(_record(serial))
        key = {"pk": {"S": '["ticket-router","H","2026-11-27"]'}, "sk": {"S": "2026-11-27T10"}}
        deadline, item = time.monotonic() + 60, {}
        while time.monotonic() < deadline:
            item = dynamodb.get_item(TableName=stack.env["CANDOR_ROLLUPS_TABLE"], Key=key).get("Item", {})
            if item.get("n", {}).get("N") == "3":
                break
            time.sleep(0.2)
        assert item["n"] == {"N": "3"} and item["o:billing"] == {"N": "3"}
        group = dynamodb.get_item(
            TableName=stack.env["CANDOR_ROLLUPS_TABLE"],
            Key={"pk": {"S": '["ticket-router","D","age_band"]'}, "sk": {"S": '2026-11-27#["65+"]'}},
        )["Item"]
        assert group["n"] == {"N": "3"}


def test_a_partial_batch_failure_restarts_the_shard_at_the_first_failed_record() -> None:
    batch = ["11", "12", "13", "14"]
    assert first_failure({"batchItemFailures": []}, batch, True) is None
    assert (
        first_failure({"batchItemFailures": [{"itemIdentifier": "14"}, {"itemIdentifier": "12"}]}, batch, True) == "12"
    )
    assert first_failure({"batchItemFailures": [{"itemIdentifier": "99"}]}, batch, True) == "11"  # unknown: all
    assert first_failure(None, batch, True) == "11"  # an unreadable response fails the batch
