"""The decision ledger's key, hash and cancellation handling, against what Powertools Idempotency wrote before it.

Items written by the earlier version (Powertools' DynamoDB idempotency store) must still be found
and compared: the key and the payload hash are Powertools' own, computed by Powertools here.
"""

from __future__ import annotations

from typing import Any

import pytest
from aws_lambda_powertools.utilities.idempotency import IdempotencyConfig
from aws_lambda_powertools.utilities.idempotency.persistence.base import BasePersistenceLayer
from botocore.exceptions import ClientError

from functions.domain.errors import DependencyUnavailable, IdempotencyConflict, RequestInProgress
from functions.stores.decision_idempotency import first_answer, request_hash
from functions.stores.idempotency_keys import DECISION_KEY_PREFIX, decision_idempotency_key

REQUEST = {"request_id": "r-1", "inputs": {"amount": 12.5, "reason": "late"}, "locale": "es-ES"}


class _Powertools(BasePersistenceLayer):
    """Powertools' own hashing, with no storage."""

    def _get_record(self, idempotency_key: str) -> Any: ...
    def _put_record(self, data_record: Any) -> None: ...
    def _update_record(self, data_record: Any) -> None: ...
    def _delete_record(self, data_record: Any) -> None: ...


@pytest.fixture
def powertools() -> _Powertools:
    layer = _Powertools()
    config = IdempotencyConfig(
        event_key_jmespath="[model_id, request.request_id]",
        payload_validation_jmespath="request",
        hash_function="sha256",
    )
    layer.configure(config, function_name="decide", key_prefix=DECISION_KEY_PREFIX)
    return layer


def test_the_key_and_the_request_hash_are_those_powertools_stored(powertools: _Powertools) -> None:
    data = {"model_id": "refund-decision", "request": REQUEST, "links_base": "https://x"}
    assert decision_idempotency_key("refund-decision", "r-1") == powertools._get_hashed_idempotency_key(data)
    assert request_hash(REQUEST) == powertools._get_hashed_payload(data)
    assert request_hash(dict(reversed(REQUEST.items()))) == request_hash(REQUEST)  # key order does not count
    assert request_hash(REQUEST | {"locale": "en-GB"}) != request_hash(REQUEST)


def cancelled(*reasons: dict[str, Any]) -> ClientError:
    response: Any = {
        "Error": {"Code": "TransactionCanceledException", "Message": "cancelled"},
        "CancellationReasons": list(reasons),
    }
    return ClientError(response, "TransactWriteItems")


def answered(status: str = "COMPLETED", validation: str | None = None) -> dict[str, Any]:
    item = {"id": {"S": "k"}, "status": {"S": status}, "data": {"S": '{"decision_id":"d-1"}'}}
    item["validation"] = {"S": validation or request_hash(REQUEST)}
    return {"Code": "ConditionalCheckFailed", "Item": item}


def test_a_stored_answer_for_the_same_request_is_replayed() -> None:
    assert first_answer(cancelled(answered(), {"Code": "None"}), request_hash(REQUEST)) == '{"decision_id":"d-1"}'


def test_a_stored_answer_for_another_body_is_an_idempotency_conflict() -> None:
    with pytest.raises(IdempotencyConflict) as raised:
        first_answer(cancelled(answered(validation="other")), request_hash(REQUEST))
    assert (raised.value.code, raised.value.field) == ("idempotency_conflict", "request_id")


@pytest.mark.parametrize(
    "reason",
    [{"Code": "TransactionConflict", "Message": "another transaction"}, answered(status="INPROGRESS")],
    ids=["a commit in flight", "an earlier version's live lock"],
)
def test_a_first_request_still_being_stored_is_request_in_progress(reason: dict[str, Any]) -> None:
    with pytest.raises(RequestInProgress) as raised:
        first_answer(cancelled(reason), request_hash(REQUEST))
    assert raised.value.code == "request_in_progress"


@pytest.mark.parametrize(
    "error",
    [
        cancelled({"Code": "None"}, {"Code": "ThrottlingError", "Message": "slow down"}),
        cancelled({"Code": "None"}, {"Code": "ConditionalCheckFailed"}),  # another item refused: not a replay
        cancelled({"Code": "ConditionalCheckFailed"}),  # no item returned: nothing to replay
        ClientError({"Error": {"Code": "ProvisionedThroughputExceededException"}}, "TransactWriteItems"),
    ],
    ids=["throttled", "another item's condition", "no stored item", "not a cancellation"],
)
def test_any_other_refusal_stored_nothing_and_is_a_dependency_failure(error: ClientError) -> None:
    with pytest.raises(DependencyUnavailable):
        first_answer(error, request_hash(REQUEST))
