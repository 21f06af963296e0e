from datetime import UTC, datetime

import pytest

from functions.domain.decide import DecisionServices, decide
from functions.domain.disclosure import NoticeCatalogue, OperatorProfile
from functions.domain.errors import DependencyUnavailable, InvalidInput, ModelOutputInvalid, UnknownModel
from functions.domain.seal import verify
from functions.schemas.api import DecisionRequest
from tests.unit.domain.test_inputs import GOOD, MANIFEST
from tests.unit.fakes import FakeCatalog, FixedRuntime, MemoryRecordStore

NOW = datetime(2026, 11, 27, 10, 0, tzinfo=UTC)
BASE = "https://api.example.com/prod"
WEIGHTS = {"amount": 0.8, "days": -1.5, "member": 0.1, "channel": 0.0}


def services(store: MemoryRecordStore, probabilities=(0.3, 0.7)) -> DecisionServices:
    return DecisionServices(
        models=FakeCatalog({"toy": FixedRuntime(MANIFEST, probabilities, WEIGHTS)}),
        notices=NoticeCatalogue.load(),
        operator=OperatorProfile(name="Op", ai_system_name="Bot", human_contact="call us", policy_url="https://x"),
        records=store,
        hash_subject=lambda s: f"hashed-{len(s)}",
        sign_customer_token=lambda d, _: f"token-for-{d}",
        now=lambda: NOW,
    )


def request(**changes) -> DecisionRequest:
    body = {"request_id": "r1", "subject_id": "customer-42", "locale": "es-ES", "jurisdiction": "EU", "inputs": GOOD}
    return DecisionRequest.model_validate({**body, **changes})


def test_a_decision_is_explained_disclosed_and_stored_before_it_is_returned():
    store = MemoryRecordStore()
    answer = decide("toy", request(segments={"age_band": "65+"}), services(store), BASE)

    assert answer.outcome.label == "approve" and answer.outcome.adverse is False
    assert [c.feature for c in answer.explanation.contributions] == ["days", "amount", "member", "channel"]
    assert answer.explanation.base_value + sum(
        c.attribution for c in answer.explanation.contributions
    ) == pytest.approx(-0.5 + sum(WEIGHTS.values()))
    assert answer.disclosure.locale.startswith("es") and answer.explanation.summary_locale == "es"
    assert "amount" not in answer.explanation.summary  # display names only

    (record,) = store.records
    assert verify(record)
    env = record.envelope
    assert env.decision_id == answer.decision_id and env.disclosure.notice_id == answer.disclosure.notice_id
    assert env.subject_hash == "hashed-11" and "customer-42" not in record.model_dump_json()
    assert record.personal.segments == {"age_band": "65+"}
    assert env.retention.retention_class == "standard" and env.retention.delete_after == "2027-05-27"
    assert env.appeal.status == "none" and env.erasure.status == "none"
    assert (
        answer.links.customer_view
        == f"{BASE}/v1/explanations/{answer.decision_id}/view?token=token-for-{answer.decision_id}"
    )


def test_a_threshold_below_the_score_gives_the_adverse_outcome():
    answer = decide("toy", request(), services(MemoryRecordStore(), probabilities=(0.6, 0.4)), BASE)
    assert answer.outcome.label == "deny" and answer.outcome.adverse is True and answer.outcome.score == 0.6


def test_storage_failure_releases_nothing():
    with pytest.raises(DependencyUnavailable):
        decide("toy", request(), services(MemoryRecordStore(fail=True)), BASE)


def test_unknown_model_and_bad_inputs_store_nothing():
    store = MemoryRecordStore()
    with pytest.raises(UnknownModel):
        decide("nope", request(), services(store), BASE)
    with pytest.raises(InvalidInput):
        decide("toy", request(inputs={**GOOD, "amount": -3}), services(store), BASE)
    assert store.records == []


def test_scores_outside_zero_one_are_a_model_failure():
    with pytest.raises(ModelOutputInvalid):
        decide("toy", request(), services(MemoryRecordStore(), probabilities=(1.4, -0.4)), BASE)


def test_a_model_that_fails_is_a_dependency_failure_and_stores_nothing():
    store = MemoryRecordStore()
    broken = services(store)
    runtime = broken.models.runtime("toy")
    runtime.predict = lambda inputs: (_ for _ in ()).throw(RuntimeError("segfault in the model library"))
    with pytest.raises(DependencyUnavailable, match="model toy failed: RuntimeError"):
        decide("toy", request(), broken, BASE)
    assert store.records == []
