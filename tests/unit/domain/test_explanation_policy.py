"""Explain all, a sampled share, by rule, later, or not at all: never silently missing."""

from __future__ import annotations

from dataclasses import replace

import pytest

from functions.domain.decide import decide
from functions.domain.errors import DependencyUnavailable
from functions.domain.policy import sampled_draw
from functions.domain.seal import verify
from functions.schemas.manifest import ExplainerSpec, ExplanationPolicy, HttpsEndpointAdapter, ModelManifest
from tests.unit.domain.test_decide import BASE, request, services
from tests.unit.domain.test_inputs import MANIFEST
from tests.unit.fakes import FakeCatalog, FixedRuntime, MemoryQueue, MemoryRecordStore

WEIGHTS = {"amount": 0.8, "days": -1.5}


def with_manifest(manifest: ModelManifest, store: MemoryRecordStore, queue: MemoryQueue | None = None, **runtime):
    base = services(store)
    catalog = FakeCatalog({"toy": FixedRuntime(manifest, (0.3, 0.7), WEIGHTS, **runtime)})
    return replace(base, models=catalog, explanation_queue=queue)


def remote(**explainer) -> ModelManifest:
    """The toy model as if it answered from an HTTPS endpoint (a black box)."""
    return MANIFEST.model_copy(
        update={
            "adapter": HttpsEndpointAdapter(type="https_endpoint", url="https://models.example/toy"),
            "artifact": None,
            "explainer": ExplainerSpec(method="permutation_shap", **explainer),
        }
    )


def policy(**fields) -> ModelManifest:
    return MANIFEST.model_copy(update={"explanation_policy": ExplanationPolicy(**fields)})


def test_sampled_share_is_fixed_by_the_request_id_and_close_to_the_share():
    draws = [sampled_draw("toy", f"r{i}") for i in range(4000)]
    assert draws == [sampled_draw("toy", f"r{i}") for i in range(4000)]
    assert sum(d < 0.25 for d in draws) / len(draws) == pytest.approx(0.25, abs=0.03)


def test_a_decision_outside_the_sample_is_recorded_as_not_explained_with_its_disclosure():
    store = MemoryRecordStore()
    manifest = policy(explain="sampled", share=0.5)
    ids = [f"r{i}" for i in range(40)]
    answers = [decide("toy", request(request_id=i), with_manifest(manifest, store), BASE) for i in ids]

    for request_id, answer, record in zip(ids, answers, store.records, strict=True):
        explained = sampled_draw("toy", request_id) < 0.5
        assert answer.explanation.status == ("complete" if explained else "not_explained")
        assert bool(answer.explanation.contributions) is explained
        assert record.envelope.explanation.status == answer.explanation.status
        assert answer.disclosure.notice and record.envelope.disclosure.notice_id == answer.disclosure.notice_id
        assert verify(record)
    skipped = [a for a in answers if a.explanation.status == "not_explained"]
    assert 5 < len(skipped) < 35
    assert "sampled 50%" in skipped[0].explanation.status_reason
    assert skipped[0].explanation.base_value is None and skipped[0].explanation.additivity_error is None
    assert "individual" in skipped[0].explanation.summary  # es: "de forma individual"


@pytest.mark.parametrize(
    ("rule", "explained"),
    [
        ("outcome.adverse", False),  # the toy approves: not adverse
        ("outcome.label == 'approve'", True),
        ("inputs.amount > `10`", True),
        ("channel == 'email'", False),
    ],
)
def test_a_rule_on_the_request_and_outcome_decides_whether_to_explain(rule, explained):
    store = MemoryRecordStore()
    answer = decide("toy", request(), with_manifest(policy(explain="rule", rule=rule), store), BASE)
    assert (answer.explanation.status == "complete") is explained
    if not explained:
        assert rule in answer.explanation.status_reason
    assert store.records[0].envelope.explanation.status == answer.explanation.status


def test_deferred_explanations_return_at_once_pending_and_queue_a_job_before_the_record_is_stored():
    store, queue = MemoryRecordStore(), MemoryQueue()
    answer = decide("toy", request(), with_manifest(remote(timing="deferred"), store, queue), BASE)

    assert answer.explanation.status == "pending" and answer.explanation.contributions == []
    assert answer.explanation.exact is False
    assert queue.jobs == [(answer.decision_id, "toy")]
    (record,) = store.records
    assert record.envelope.explanation.status == "pending"
    assert (
        record.envelope.model.endpoint == "https://models.example/toy" and record.envelope.model.artifact_sha256 is None
    )
    assert record.envelope.explanation.model_output == pytest.approx(-0.5 + 0.8 - 1.5)


def test_a_failed_queue_releases_nothing_and_stores_nothing():
    class DownQueue:
        def enqueue(self, decision_id: str, model_id: str) -> None:
            raise DependencyUnavailable("queue down (test)")

    store = MemoryRecordStore()
    with pytest.raises(DependencyUnavailable):
        decide("toy", request(), with_manifest(remote(timing="deferred"), store, DownQueue()), BASE)  # type: ignore[arg-type]
    assert store.records == []


def test_an_explanation_that_misses_its_deadline_is_pending_when_a_worker_can_finish_it():
    store, queue = MemoryRecordStore(), MemoryQueue()
    answer = decide("toy", request(), with_manifest(remote(), store, queue, explanation_fails=True), BASE)
    assert answer.explanation.status == "pending" and "a worker completes it" in answer.explanation.status_reason
    assert len(queue.jobs) == 1 and store.records[0].envelope.explanation.status == "pending"


def test_without_a_worker_a_failed_explanation_is_marked_not_explained_never_missing():
    store = MemoryRecordStore()
    answer = decide("toy", request(), with_manifest(remote(), store, None, explanation_fails=True), BASE)
    assert answer.explanation.status == "not_explained"
    assert "did not answer in time" in answer.explanation.status_reason
    assert answer.outcome.label == "approve" and store.records[0].envelope.explanation.status == "not_explained"


def test_pending_and_not_explained_summaries_speak_the_customers_language():
    store, queue = MemoryRecordStore(), MemoryQueue()
    answer = decide("toy", request(locale="es-ES"), with_manifest(remote(timing="deferred"), store, queue), BASE)
    assert answer.explanation.summary_locale == "es" and "calculando" in answer.explanation.summary
