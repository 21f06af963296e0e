"""The decision's write path in moto: one transaction (remembered answer, pending record, index item).

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


def pending_items(env: dict[str, str]) -> int:
    return len(boto3.client("dynamodb").scan(TableName=env["CANDOR_PENDING_TABLE"], ConsistentRead=True)["Items"])


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


def test_a_decision_is_one_transaction(aws_env, calls):
    transactions: list[list[str]] = []

    def tables(params: dict[str, Any], **_: object) -> None:
        transactions.append([next(iter(a.values()))["TableName"] for a in params["TransactItems"]])

    with on_call(aws_clients.dynamodb(), "TransactWriteItems", tables, "before-parameter-build"):
        response = decide("commit-1")

    assert response["statusCode"] == 200, response["body"]
    assert calls == ["dynamodb.TransactWriteItems"]  # no lock before it, no S3 on the decision path
    assert transactions == [
        [aws_env["CANDOR_IDEMPOTENCY_TABLE"], aws_env["CANDOR_PENDING_TABLE"], aws_env["CANDOR_RECORDS_TABLE"]]
    ]
    [item] = index_items(aws_env, "commit-1")
    assert item["decision_id"]["S"] == json.loads(response["body"])["decision_id"]
    pending = boto3.client("dynamodb").get_item(
        TableName=aws_env["CANDOR_PENDING_TABLE"], Key={"decision_id": item["decision_id"]}, ConsistentRead=True
    )
    assert pending["Item"]["archive_key"] == item["archive_key"]  # durable, awaiting its archive copy
    remembered = idempotency_item(aws_env, "commit-1")
    assert remembered is not None and remembered["status"]["S"] == "COMPLETED"
    assert remembered["data"]["S"] == response["body"]  # the answer as sent, for retries


def test_a_record_too_large_for_a_pending_item_writes_both_objects_at_once_then_the_transaction(
    aws_env, calls, too_large
):
    response = decide("commit-large")
    assert response["statusCode"] == 200, response["body"]
    assert calls == ["s3.PutObject", "s3.PutObject", "dynamodb.TransactWriteItems"]


def test_the_two_object_writes_are_in_flight_together(aws_env, too_large):
    # Each PutObject waits at the barrier for the other: written one after the other, they would break it.
    both = threading.Barrier(2, timeout=20)

    def meet(**_: object) -> None:
        both.wait()

    with on_call(aws_clients.s3(), "PutObject", meet):
        response = decide("commit-concurrent")
    assert response["statusCode"] == 200, response["body"]


def test_a_replay_returns_the_first_answer_byte_for_byte_and_writes_nothing(aws_env, calls):
    first = decide("commit-replay")
    calls.clear()
    again = decide("commit-replay")
    assert again["statusCode"] == 200
    assert again["body"] == first["body"]
    assert calls == ["dynamodb.TransactWriteItems"]  # cancelled whole: the stored answer comes with the refusal
    assert len(index_items(aws_env, "commit-replay")) == 1
    assert pending_items(aws_env) == 1  # the replay's own record was never stored


def test_a_duplicate_committed_while_this_one_decided_gets_that_answer_and_stores_nothing(aws_env):
    """Two requests with one request_id decide at once; the other commits first: this one replays its answer."""
    from functions.schemas.api import DecisionRequest
    from functions.stores.decision_idempotency import request_hash

    other = decide("commit-raced-elsewhere")["body"]  # a real answer, standing for the other request's
    body = json.loads(EVENT["body"]) | {"request_id": "commit-raced"}
    hashed = request_hash(DecisionRequest.model_validate(body).model_dump(mode="json"))

    def commit_it_elsewhere(**_: object) -> None:
        remember(
            aws_env,
            "commit-raced",
            status={"S": "COMPLETED"},
            expiration={"N": "9999999999"},
            data={"S": other},
            validation={"S": hashed},
        )

    with on_call(aws_clients.dynamodb(), "TransactWriteItems", commit_it_elsewhere):
        raced = decide("commit-raced")
    assert raced["statusCode"] == 200, raced["body"]
    assert raced["body"] == other
    assert index_items(aws_env, "commit-raced") == []  # this request's own decision was never stored
    assert pending_items(aws_env) == 1


def test_one_failed_object_write_is_a_503_with_nothing_stored_and_the_retry_stores_one_record(aws_env, too_large):
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
    assert idempotency_item(aws_env, "commit-s3-fault") is None  # nothing remembered: the retry decides

    retry = decide("commit-s3-fault")
    assert retry["statusCode"] == 200
    assert len(index_items(aws_env, "commit-s3-fault")) == 1


def test_a_failed_transaction_is_a_503_stores_nothing_and_the_retry_decides_at_once(aws_env):
    with on_call(aws_clients.dynamodb(), "TransactWriteItems", throttled):
        failed = decide("commit-tx-fault")
    assert failed["statusCode"] == 503
    assert "decision_id" not in failed["body"]
    assert index_items(aws_env, "commit-tx-fault") == []
    assert idempotency_item(aws_env, "commit-tx-fault") is None  # no lock left for the retry to wait on

    retry = decide("commit-tx-fault")
    assert retry["statusCode"] == 200
    assert len(index_items(aws_env, "commit-tx-fault")) == 1
    remembered = idempotency_item(aws_env, "commit-tx-fault")
    assert remembered is not None and remembered["data"]["S"] == retry["body"]


def remember(env: dict[str, str], request_id: str, **attributes: dict[str, str]) -> None:
    item = {"id": {"S": decision_idempotency_key(MODEL_ID, request_id)}} | attributes
    boto3.client("dynamodb").put_item(TableName=env["CANDOR_IDEMPOTENCY_TABLE"], Item=item)


def test_a_live_lock_of_the_earlier_version_is_a_409_and_stores_nothing(aws_env):
    remember(
        aws_env,
        "commit-locked",
        status={"S": "INPROGRESS"},
        expiration={"N": "9999999999"},
        in_progress_expiration={"N": "99999999999999"},
    )
    refused = decide("commit-locked")
    assert refused["statusCode"] == 409
    assert json.loads(refused["body"])["error"]["code"] == "request_in_progress"
    assert index_items(aws_env, "commit-locked") == []


@pytest.mark.parametrize(
    "left",
    [
        {"status": {"S": "INPROGRESS"}, "expiration": {"N": "9999999999"}, "in_progress_expiration": {"N": "1000"}},
        {"status": {"S": "COMPLETED"}, "expiration": {"N": "1000"}, "data": {"S": "{}"}, "validation": {"S": "x"}},
    ],
    ids=["a lock whose invocation ended", "an answer past its TTL, not yet deleted"],
)
def test_what_is_no_longer_live_is_replaced_by_a_new_decision(aws_env, left):
    remember(aws_env, "commit-stale", **left)
    response = decide("commit-stale")
    assert response["statusCode"] == 200, response["body"]
    assert len(index_items(aws_env, "commit-stale")) == 1
    remembered = idempotency_item(aws_env, "commit-stale")
    assert remembered is not None and remembered["data"]["S"] == response["body"]


def test_an_index_put_staged_but_never_committed_fails_closed():
    with pytest.raises(DependencyUnavailable, match="never committed"), one_commit():
        assert stage({"TableName": "records", "Item": {}})


def test_outside_a_commit_nothing_is_staged():
    assert stage({"TableName": "records", "Item": {}}) is False
