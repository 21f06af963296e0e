"""Powertools' idempotency hashes of a decision's payload: the same values, computed once per call."""

from copy import deepcopy

from aws_lambda_powertools.utilities.idempotency import IdempotencyConfig
from aws_lambda_powertools.utilities.idempotency.persistence.base import BasePersistenceLayer

from functions.api.routes.decisions import DecisionCall
from functions.stores.transactional_idempotency import HashesEachPayloadOnce

CONFIG = IdempotencyConfig(event_key_jmespath="[model_id, request.request_id]", payload_validation_jmespath="request")


class _Layer(BasePersistenceLayer):
    """Powertools' own hashing, with no storage (the hashes are all this test reads)."""

    hashed = 0

    def _generate_hash(self, data):
        type(self).hashed += 1
        return super()._generate_hash(data)

    def _get_record(self, idempotency_key): ...
    def _put_record(self, data_record): ...
    def _update_record(self, data_record): ...
    def _delete_record(self, data_record): ...


class _Once(HashesEachPayloadOnce, _Layer):
    hashed = 0


def _configured(layer):
    layer.configure(CONFIG, function_name="decide")
    return layer


def call(request_id: str) -> DecisionCall:
    return DecisionCall(model_id="m", request={"request_id": request_id, "inputs": {"a": 1}}, links_base="")


def test_the_hashes_are_powertools_own_and_each_is_computed_once_per_call():
    plain, once = _configured(_Layer()), _configured(_Once())
    data = call("r-1")
    for _ in range(2):  # the in-progress write, then the success write
        assert once._get_hashed_idempotency_key(data) == plain._get_hashed_idempotency_key(data)
        assert once._get_hashed_payload(data) == plain._get_hashed_payload(data)
    assert (_Layer.hashed, _Once.hashed) == (4, 2)


def test_another_call_with_equal_content_is_hashed_again_and_a_different_one_differs():
    once = _configured(_Once())
    first, equal, other = call("r-1"), call("r-1"), call("r-2")
    key = once._get_hashed_idempotency_key(first)
    before = _Once.hashed
    assert once._get_hashed_idempotency_key(equal) == key
    assert _Once.hashed == before + 1  # not the same object: hashed, not assumed equal
    assert once._get_hashed_idempotency_key(other) != key


def test_a_decision_call_is_not_copied_by_powertools():
    data = call("r-1")
    assert deepcopy(data) is data
