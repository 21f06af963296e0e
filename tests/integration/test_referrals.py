"""Review before the answer in moto: the referral is one more Put of the decision's transaction.

The bundled refund-decision model refers denials of 1,000 EUR or more (its manifest's
review_policy); the decisions handler runs with its own clients, as in
tests/integration/test_decision_commit.py.
"""

from __future__ import annotations

import json
from typing import Any

import boto3
import pytest

from functions.domain.errors import DependencyUnavailable
from functions.domain.referral import referral_of
from functions.stores import aws_clients
from functions.stores.referral_queue import AwsReferralQueue
from infra.local.invocation import running
from tests.integration.test_decision_commit import EVENT, idempotency_item, index_items, on_call, throttled
from tests.support import lambda_context
from tests.unit.domain.records import sample_envelope, sample_personal

LARGE_DENIAL = {
    "order_value": 1500.0,
    "days_since_delivery": 41,
    "prior_refunds_12m": 3,
    "account_age_days": 200,
    "orders_12m": 5,
    "previous_complaints": 2,
    "channel": "phone",
    "item_category": "home",
    "delivery_status": "delivered",
    "return_reason": "changed_mind",
    "payment_method": "cash_on_delivery",
    "is_member": False,
}


def decide(request_id: str, locale: str = "es-ES") -> dict[str, Any]:
    from functions.handlers import decisions

    body = json.loads(EVENT["body"]) | {"request_id": request_id, "locale": locale, "inputs": LARGE_DENIAL}
    with running("DecisionsFunction"):
        return decisions.lambda_handler(dict(EVENT, body=json.dumps(body)), lambda_context("candor-decisions"))


def appeal_items(env: dict[str, str]) -> list[dict[str, Any]]:
    return boto3.client("dynamodb").scan(TableName=env["CANDOR_APPEALS_TABLE"])["Items"]


def transacted(calls: list[dict[str, Any]]):
    def keep(params: dict[str, Any], **_: object) -> None:
        calls.append(params)

    return keep


def test_a_referred_decision_commits_its_referral_with_the_record_in_one_transaction(aws_env):
    sent: list[dict[str, Any]] = []
    with on_call(aws_clients.dynamodb(), "TransactWriteItems", transacted(sent), "before-parameter-build"):
        response = decide("refer-1")
    assert response["statusCode"] == 200, response["body"]
    answer = json.loads(response["body"])
    assert answer["outcome"]["status"] == "referred" and answer["outcome"]["label"] is None
    assert answer["outcome"]["display_name"] == "Una persona decidirá"
    assert answer["explanation"]["contributions"] == [] and answer["explanation"]["status"] == "not_explained"

    (params,) = sent
    tables = [next(iter(item.values()))["TableName"] for item in params["TransactItems"]]
    assert tables == [
        aws_env["CANDOR_IDEMPOTENCY_TABLE"],  # the answer remembered for retries
        aws_env["CANDOR_PENDING_TABLE"],  # the sealed record itself, awaiting its archive copy
        aws_env["CANDOR_RECORDS_TABLE"],
        aws_env["CANDOR_APPEALS_TABLE"],
    ]

    (item,) = appeal_items(aws_env)
    assert item["decision_id"]["S"] == answer["decision_id"]
    assert item["kind"]["S"] == "referral" and item["status"]["S"] == "received"
    assert item["reason"]["S"] == "a denied refund of 1,000 EUR or more is decided by a person"
    assert item["created_at"]["S"] == answer["decided_at"]
    assert item["model_day"]["S"] == f"refund-decision#{answer['decided_at'][:10]}"
    (indexed,) = index_items(aws_env, "refer-1")
    assert indexed["outcome"]["S"] == "deny" and item["expires_at"] == indexed["expires_at"]


def test_a_replay_returns_the_same_referred_answer_and_queues_nothing_new(aws_env):
    first = decide("refer-replay")
    again = decide("refer-replay")
    assert again["statusCode"] == 200 and json.loads(again["body"]) == json.loads(first["body"])
    assert len(appeal_items(aws_env)) == 1 and len(index_items(aws_env, "refer-replay")) == 1


def test_a_failed_transaction_stores_neither_the_decision_nor_its_referral(aws_env):
    with on_call(aws_clients.dynamodb(), "TransactWriteItems", throttled):
        failed = decide("refer-fault")
    assert failed["statusCode"] == 503 and "decision_id" not in failed["body"]
    assert appeal_items(aws_env) == [] and index_items(aws_env, "refer-fault") == []
    assert idempotency_item(aws_env, "refer-fault") is None

    retry = decide("refer-fault")
    assert retry["statusCode"] == 200 and len(appeal_items(aws_env)) == 1


def test_outside_a_commit_the_referral_is_put_at_once_and_never_over_an_existing_item(aws_env):
    queue = AwsReferralQueue(table=aws_env["CANDOR_APPEALS_TABLE"], dynamodb=aws_clients.dynamodb())
    referral = referral_of(sample_envelope(sample_personal()), "near the threshold", "01KREFERRAL0000000000000000")
    with running("DecisionsFunction"):
        queue.refer(referral)
        with pytest.raises(DependencyUnavailable, match="ConditionalCheckFailedException"):
            queue.refer(referral.model_copy(update={"reason": "overwritten"}))
    (item,) = appeal_items(aws_env)
    assert item["reason"]["S"] == "near the threshold" and item["kind"]["S"] == "referral"
