"""The decision's write path in moto: the lock, then one transaction (pending record, index item, completion).

A record too large for a pending item (docs/records.md) takes the direct path: both objects at
once, then the transaction; `too_large` makes every record take it.

The decisions handler itself, with the functions' own clients; faults are injected per call
with botocore events (`before-call`), as tests/e2e/test_storage_failure.py does over HTTP.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError, EndpointConnectionError

from functions.domain.errors import DependencyUnavailable
from functions.stores import aws_clients
from functions.stores.decision_commit import one_commit, stage
from functions.stores.idempotency_keys import decision_idempotency_key
from infra.local.invocation import running
from tests.support import lambda_context

EVENT = json.loads((Path(__file__).resolve().parents[2] / "events" / "decision-refund.json").read_text())
MODEL_ID = "refund-decision"


def decide(request_id: str) -> dict[str, Any]:
    from functions.handlers import decisions

    event = dict(EVENT, body=json.dumps(json.loads(EVENT["body"]) | {"request_id": request_id}))
    with running("DecisionsFunction"):
        return decisions.lambda_handler(event, lambda_context("candor-decisions"))


def index_items(env: dict[str, str], request_id: str) -> list[dict[str, Any]]:
    items = boto3.client("dynamodb").scan(TableName=env["CANDOR_RECORDS_TABLE"])["Items"]
    return [item for item in items if item["request_id"]["S"] == request_id]


def idempotency_item(env: dict[str, str], request_id: str) -> dict[str, Any] | None:
    key = {"id": {"S": decision_idempotency_key(MODEL_ID, request_id)}}
    return boto3.client("dynamodb").get_item(TableName=env["CANDOR_IDEMPOTENCY_TABLE"], Key=key).get("Item")


@contextmanager
def on_call(client: Any, operation: str, hook: Callable[..., None], when: str = "before-call") -> Iterator[None]:
    """`hook` called on every `operation` of `client` (at `before-parameter-build`: with the API's params)."""
    event = f"{when}.{client.meta.service_model.service_name}.{operation}"
    client.meta.events.register(event, hook, unique_id="test-hook")
    try:
        yield
    finally:
        client.meta.events.unregister(event, unique_id="test-hook")


def throttled(**_: object) -> None:
    raise ClientError({"Error": {"Code": "ThrottlingException", "Message": "injected"}}, "TransactWriteItems")


@pytest.fixture
def calls(aws_env) -> Iterator[list[str]]:
    """Every call the function's own DynamoDB and S3 clients make, in order (service.operation)."""
    made: list[str] = []

    def record(model: Any, **_: object) -> None:
        made.append(f"{model.service_model.service_name}.{model.name}")

    clients = (aws_clients.dynamodb(), aws_clients.s3())
    for client in clients:
        client.meta.events.register("before-call", record, unique_id="test-calls")
    yield made
    for client in clients:
        client.meta.events.unregister("before-call", unique_id="test-calls")


@pytest.fixture
def too_large(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every record as if it were over what one pending item may hold: the direct path to S3."""
    from functions.stores import record_store

    monkeypatch.setattr(record_store, "fits", lambda sealed, personal: False)


def test_a_decision_is_the_lock_and_one_transaction(aws_env, calls):
    transactions: list[list[str]] = []

    def tables(params: dict[str, Any], **_: object) -> None:
        transactions.append([next(iter(a.values()))["TableName"] for a in params["TransactItems"]])

    with on_call(aws_clients.dynamodb(), "TransactWriteItems", tables, "before-parameter-build"):
        response = decide("commit-1")

    assert response["statusCode"] == 200, response["body"]
    assert calls == ["dynamodb.PutItem", "dynamodb.TransactWriteItems"]  # no S3 on the decision path
    assert transactions == [
        [aws_env["CANDOR_PENDING_TABLE"], aws_env["CANDOR_RECORDS_TABLE"], aws_env["CANDOR_IDEMPOTENCY_TABLE"]]
    ]
    [item] = index_items(aws_env, "commit-1")
    assert item["decision_id"]["S"] == json.loads(response["body"])["decision_id"]
    pending = boto3.client("dynamodb").get_item(
        TableName=aws_env["CANDOR_PENDING_TABLE"], Key={"decision_id": item["decision_id"]}, ConsistentRead=True
    )
    assert pending["Item"]["archive_key"] == item["archive_key"]  # durable, awaiting its archive copy
    completed = idempotency_item(aws_env, "commit-1")
    assert completed is not None and completed["status"]["S"] == "COMPLETED"
    assert json.loads(completed["data"]["S"]) == json.loads(response["body"])


def test_a_record_too_large_for_a_pending_item_writes_both_objects_at_once_then_the_transaction(
    aws_env, calls, too_large
):
    response = decide("commit-large")
    assert response["statusCode"] == 200, response["body"]
    assert calls == ["dynamodb.PutItem", "s3.PutObject", "s3.PutObject", "dynamodb.TransactWriteItems"]


def test_the_two_object_writes_are_in_flight_together(aws_env, too_large):
    # Each PutObject waits at the barrier for the other: written one after the other, they would break it.
    both = threading.Barrier(2, timeout=20)

    def meet(**_: object) -> None:
        both.wait()

    with on_call(aws_clients.s3(), "PutObject", meet):
        response = decide("commit-concurrent")
    assert response["statusCode"] == 200, response["body"]


def test_a_replay_returns_the_first_answer_and_writes_nothing(aws_env, calls):
    first = decide("commit-replay")
    calls.clear()
    again = decide("commit-replay")
    assert again["statusCode"] == 200
    assert json.loads(again["body"]) == json.loads(first["body"])
    assert calls == ["dynamodb.PutItem"]  # the lock, refused: the stored answer comes with the refusal
    assert len(index_items(aws_env, "commit-replay")) == 1


def test_one_failed_object_write_is_a_503_with_no_index_item_and_the_retry_stores_one_record(aws_env, too_large):
    personal_bucket = aws_env["CANDOR_PERSONAL_BUCKET"]

    def refuse_the_personal_part(params: dict[str, Any], **_: object) -> None:
        if params["Bucket"] == personal_bucket:
            raise EndpointConnectionError(endpoint_url="http://unreachable")

    with on_call(aws_clients.s3(), "PutObject", refuse_the_personal_part, "before-parameter-build"):
        failed = decide("commit-s3-fault")
    assert failed["statusCode"] == 503
    assert json.loads(failed["body"])["error"]["code"] == "dependency_unavailable"
    assert "decision_id" not in failed["body"]
    assert index_items(aws_env, "commit-s3-fault") == []
    assert idempotency_item(aws_env, "commit-s3-fault") is None  # the lock went with the failure

    retry = decide("commit-s3-fault")
    assert retry["statusCode"] == 200
    assert len(index_items(aws_env, "commit-s3-fault")) == 1


def test_a_failed_transaction_is_a_503_stores_nothing_and_releases_the_lock(aws_env):
    with on_call(aws_clients.dynamodb(), "TransactWriteItems", throttled):
        failed = decide("commit-tx-fault")
    assert failed["statusCode"] == 503
    assert "decision_id" not in failed["body"]
    assert index_items(aws_env, "commit-tx-fault") == []
    assert idempotency_item(aws_env, "commit-tx-fault") is None  # released: the retry need not wait

    retry = decide("commit-tx-fault")
    assert retry["statusCode"] == 200
    assert len(index_items(aws_env, "commit-tx-fault")) == 1
    completed = idempotency_item(aws_env, "commit-tx-fault")
    assert completed is not None and json.loads(completed["data"]["S"]) == json.loads(retry["body"])


def test_a_lock_taken_over_and_completed_meanwhile_stops_the_commit_and_is_left_alone(aws_env):
    """Another invocation took over our (expired) lock and completed first: our record must not be stored."""
    key = {"id": {"S": decision_idempotency_key(MODEL_ID, "commit-taken-over")}}

    def complete_it_elsewhere(**_: object) -> None:
        boto3.client("dynamodb").update_item(
            TableName=aws_env["CANDOR_IDEMPOTENCY_TABLE"],
            Key=key,
            UpdateExpression="SET #s = :done, #d = :answer",
            ExpressionAttributeNames={"#s": "status", "#d": "data"},
            ExpressionAttributeValues={":done": {"S": "COMPLETED"}, ":answer": {"S": '{"elsewhere": true}'}},
        )

    with on_call(aws_clients.dynamodb(), "TransactWriteItems", complete_it_elsewhere):
        failed = decide("commit-taken-over")
    assert failed["statusCode"] == 503
    assert index_items(aws_env, "commit-taken-over") == []
    kept = idempotency_item(aws_env, "commit-taken-over")
    assert kept is not None and kept["status"]["S"] == "COMPLETED"  # not deleted by our release


def test_an_index_put_staged_but_never_committed_fails_closed():
    with pytest.raises(DependencyUnavailable, match="never committed"), one_commit():
        assert stage({"TableName": "records", "Item": {}})


def test_outside_a_commit_nothing_is_staged():
    assert stage({"TableName": "records", "Item": {}}) is False
