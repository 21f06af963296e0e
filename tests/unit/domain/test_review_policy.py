"""Review before the answer: the review policy refers a decision to a person, and the chatbot is told so."""

from __future__ import annotations

from dataclasses import replace

import pytest
from pydantic import ValidationError

from functions.domain.customer_view import customer_view
from functions.domain.decide import decide
from functions.domain.disclosure import NoticeCatalogue, OperatorProfile
from functions.domain.errors import DependencyUnavailable
from functions.domain.policy import decision_margin
from functions.domain.referral import WITHHELD
from functions.domain.retention import expires_at
from functions.domain.seal import canonical_json, verify
from functions.schemas.customer import StoredAppeal
from functions.schemas.manifest import ModelManifest, ReviewPolicy
from functions.schemas.record import Envelope, HumanReview
from tests.unit.domain.test_decide import BASE, WEIGHTS, request, services
from tests.unit.domain.test_inputs import MANIFEST
from tests.unit.fakes import FakeCatalog, FixedRuntime, MemoryRecordStore

ADVERSE_AND_LARGE = "outcome.adverse && inputs.amount >= `50`"
NEAR_THRESHOLD = "outcome.margin < `0.1`"


class MemoryReferrals:
    def __init__(self, fail: bool = False) -> None:
        self.referrals: list[StoredAppeal] = []
        self.fail = fail

    def refer(self, referral: StoredAppeal) -> None:
        if self.fail:
            raise DependencyUnavailable("the referral could not be stored: ProvisionedThroughputExceededException")
        self.referrals.append(referral)


def reviewed(rule: str, reason: str | None = None) -> ModelManifest:
    return MANIFEST.model_copy(update={"review_policy": ReviewPolicy(rule=rule, reason=reason)})


def setup(manifest: ModelManifest, probabilities, referrals: MemoryReferrals | None):
    store = MemoryRecordStore()
    base = services(store)
    catalog = FakeCatalog({"toy": FixedRuntime(manifest, probabilities, WEIGHTS)})
    return store, replace(base, models=catalog, referrals=referrals)


def test_an_adverse_large_decision_is_referred_and_the_chatbot_is_not_told_the_automated_outcome():
    referrals = MemoryReferrals()
    store, services_ = setup(reviewed(ADVERSE_AND_LARGE, "denials of 50 or more"), (0.8, 0.2), referrals)
    answer = decide("toy", request(inputs={**request().inputs, "amount": 60}), services_, BASE)

    assert answer.outcome.status == "referred"
    assert answer.outcome.label is None and answer.outcome.score is None and answer.outcome.adverse is None
    assert answer.outcome.display_name == "Una persona decidirá" and answer.outcome.alternatives == []
    assert answer.explanation.status == "not_explained" and answer.explanation.status_reason == WITHHELD
    assert answer.explanation.contributions == [] and answer.explanation.base_value is None
    assert "persona" in answer.explanation.summary and "Denied" not in answer.explanation.summary
    assert "una persona de nuestro equipo decidirá" in answer.disclosure.decision_kind
    assert "deny" not in answer.model_dump_json()

    (record,) = store.records
    env = record.envelope
    assert verify(record)
    assert env.appeal == HumanReview(status="referred", reason="denials of 50 or more")
    assert env.outcome.label == "deny" and env.outcome.adverse is True  # kept for the reviewer
    assert env.explanation.status == "complete" and env.explanation.contributions  # the reviewer reads it
    (referral,) = referrals.referrals
    assert referral.kind == "referral" and referral.status == "received"
    assert referral.decision_id == env.decision_id and referral.reason == "denials of 50 or more"
    assert referral.created_at == env.decided_at and referral.model_day == f"toy#{env.decided_at[:10]}"
    assert referral.expires_at == expires_at(env.retention.delete_after) and referral.locale == "es-ES"


@pytest.mark.parametrize(
    ("probabilities", "amount"),
    [((0.2, 0.8), 60), ((0.8, 0.2), 10)],  # approved; denied but small
)
def test_decisions_the_rule_does_not_match_are_told_as_decided_and_queue_nothing(probabilities, amount):
    referrals = MemoryReferrals()
    store, services_ = setup(reviewed(ADVERSE_AND_LARGE), probabilities, referrals)
    answer = decide("toy", request(inputs={**request().inputs, "amount": amount}), services_, BASE)
    assert answer.outcome.status == "decided" and answer.outcome.label in ("approve", "deny")
    assert referrals.referrals == [] and store.records[0].envelope.appeal == HumanReview()
    assert "decidirá" not in (answer.disclosure.decision_kind or "")


@pytest.mark.parametrize(("probabilities", "referred"), [((0.45, 0.55), True), ((0.35, 0.65), False)])
def test_scores_near_the_threshold_are_referred(probabilities, referred):
    referrals = MemoryReferrals()
    _, services_ = setup(reviewed(NEAR_THRESHOLD), probabilities, referrals)
    answer = decide("toy", request(), services_, BASE)
    assert (answer.outcome.status == "referred") is referred and len(referrals.referrals) == int(referred)


def test_the_default_reason_names_the_rule():
    referrals = MemoryReferrals()
    store, services_ = setup(reviewed(NEAR_THRESHOLD), (0.45, 0.55), referrals)
    decide("toy", request(locale="en"), services_, BASE)
    assert referrals.referrals[0].reason == f"the model's review rule matched: {NEAR_THRESHOLD}"
    assert store.records[0].envelope.appeal.reason == referrals.referrals[0].reason


@pytest.mark.parametrize("referrals", [None, MemoryReferrals(fail=True)])
def test_a_referral_that_cannot_be_queued_is_a_503_and_no_answer(referrals):
    store, services_ = setup(reviewed(NEAR_THRESHOLD), (0.45, 0.55), referrals)
    with pytest.raises(DependencyUnavailable):
        decide("toy", request(), services_, BASE)
    if referrals is None:  # refused before anything was stored
        assert store.records == []


def test_margin_is_the_distance_from_the_threshold_or_the_lead_over_the_runner_up():
    assert decision_margin(MANIFEST, (0.45, 0.55)) == pytest.approx(0.05)
    assert decision_margin(MANIFEST, (0.9, 0.1)) == pytest.approx(0.4)
    multiclass = MANIFEST.model_copy(update={"decision_threshold": None})
    assert decision_margin(multiclass, (0.5, 0.3, 0.2)) == pytest.approx(0.2)


def test_a_review_rule_must_be_valid_jmespath_and_only_decision_models_refer():
    with pytest.raises(ValidationError, match=r"review_policy\.rule: not a valid JMESPath"):
        ReviewPolicy(rule="outcome.adverse &&")
    routing = {**MANIFEST.model_dump(), "kind": "routing", "favourable_outcome": None}
    with pytest.raises(ValidationError, match="only decision models"):
        ModelManifest.model_validate({**routing, "review_policy": {"rule": "`true`"}})
    assert ModelManifest.model_validate({**MANIFEST.model_dump(), "review_policy": {"rule": "`true`"}}).review_policy


def test_records_without_a_referral_hash_as_they_did_before():
    assert canonical_json(HumanReview()) == b'{"status":"none"}'
    assert Envelope.model_fields["appeal"].default == HumanReview()


def test_the_customer_view_of_a_referred_decision_says_a_person_will_decide():
    referrals = MemoryReferrals()
    store, services_ = setup(reviewed(NEAR_THRESHOLD), (0.45, 0.55), referrals)
    decide("toy", request(locale="en-GB"), services_, BASE)
    (record,) = store.records
    operator = OperatorProfile(name="Op", ai_system_name="Bot", human_contact="call us", policy_url="https://x")
    view = customer_view(record, {}, manifest=MANIFEST, notices=NoticeCatalogue.load(), operator=operator, appeal=None)
    assert view.outcome is not None and view.outcome.referred and view.outcome.label is None
    assert view.outcome.statement.startswith("A person from our team will decide")
    assert view.outcome.automated_decision is False
    assert view.reasons == [] and view.summary is None and view.explanation_status is None
    assert view.disclosure is not None and "a person from our team will decide" in view.disclosure.decision_kind
    assert "Approved" not in view.model_dump_json() and "Denied" not in view.model_dump_json()
