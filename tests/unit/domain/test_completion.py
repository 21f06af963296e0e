"""Completing a deferred explanation: the same answer explained the same way, or not explained with the reason."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import UTC, datetime

import pytest

from functions.domain.completion import (
    ERASED_REASON,
    RESTRICTED_REASON,
    RecordNotFound,
    StoredPending,
    complete_explanation,
    run_job,
)
from functions.domain.completion_seal import completion_verifies, current_explanation
from functions.domain.decide import decide
from functions.domain.errors import DependencyUnavailable
from functions.domain.seal import verify
from functions.schemas.record import ExplanationRecord, SealedCompletion
from tests.unit.domain.test_decide import BASE, request
from tests.unit.domain.test_explanation_policy import WEIGHTS, remote, with_manifest
from tests.unit.fakes import FakeCatalog, FixedRuntime, MemoryQueue, MemoryRecordStore

LATER = datetime(2026, 11, 27, 10, 0, 7, tzinfo=UTC)
DEFERRED = remote(timing="deferred")


def pending_record(locale: str = "es-ES") -> ExplanationRecord:
    store, queue = MemoryRecordStore(), MemoryQueue()
    decide("toy", request(locale=locale), with_manifest(DEFERRED, store, queue), BASE)
    (record,) = store.records
    assert record.envelope.explanation.status == "pending"
    return record


def runtime(manifest=DEFERRED, probabilities=(0.3, 0.7), weights=WEIGHTS, **changes) -> FixedRuntime:
    return FixedRuntime(manifest, probabilities, dict(weights), **changes)


class NoModelCalls(FixedRuntime):
    def predict(self, inputs):
        raise AssertionError("the model must not be asked")


@dataclass
class MemoryCompletionStore:
    stored: dict[str, StoredPending] = field(default_factory=dict)
    saved: list[SealedCompletion] = field(default_factory=list)

    def for_completion(self, decision_id: str) -> StoredPending | None:
        return self.stored.get(decision_id)

    def save(self, record: ExplanationRecord, sealed: SealedCompletion) -> bool:
        pending = self.stored[record.envelope.decision_id]
        if pending.completed:
            return False
        self.stored[record.envelope.decision_id] = replace(pending, completed=True)
        self.saved.append(sealed)
        return True


def test_a_pending_explanation_is_completed_exactly_as_the_decision_path_would_have_explained_it():
    record = pending_record()
    sealed = complete_explanation(record, None, runtime(), deadline=float("inf"), now=LATER)

    completion = sealed.completion
    assert completion.decision_id == record.envelope.decision_id
    assert completion.envelope_sha256 == record.content_sha256 and completion.completed_at == "2026-11-27T10:00:07.000Z"
    assert completion_verifies(sealed, record) and verify(record)  # the record itself is untouched

    inline_store = MemoryRecordStore()
    decide("toy", request(), with_manifest(remote(), inline_store), BASE)  # the same model, explained inline
    inline = inline_store.records[0].envelope.explanation
    explanation = completion.explanation
    assert explanation.status == "complete" and explanation.status_reason is None
    assert explanation.contributions == inline.contributions
    assert (explanation.base_value, explanation.model_output) == (inline.base_value, inline.model_output)
    assert explanation.summary == inline.summary and explanation.summary_locale == "es"
    assert current_explanation(record, sealed) == explanation


def test_a_tampered_or_foreign_completion_is_not_shown():
    record, other = pending_record(), pending_record()
    sealed = complete_explanation(record, None, runtime(), deadline=float("inf"), now=LATER)
    assert not completion_verifies(sealed, other)
    forged = sealed.model_copy(update={"completion": sealed.completion.model_copy(update={"completed_at": "x"})})
    assert not completion_verifies(forged, record)
    assert current_explanation(record, forged).status == "pending"


def test_a_model_that_answers_differently_now_is_not_explained():
    record = pending_record()
    changed = runtime(weights={**WEIGHTS, "amount": 0.9})  # the remote model was retrained since
    sealed = complete_explanation(record, None, changed, deadline=float("inf"), now=LATER)

    explanation = sealed.completion.explanation
    assert explanation.status == "not_explained" and explanation.contributions == []
    assert "answer changed since the decision" in explanation.status_reason
    assert explanation.model_output == record.envelope.explanation.model_output  # still the recorded answer
    assert "individual" in explanation.summary  # es: "de forma individual"
    assert completion_verifies(sealed, record)


def test_changed_scores_with_the_same_output_are_a_different_answer_too():
    record = pending_record()
    sealed = complete_explanation(record, None, runtime(probabilities=(0.4, 0.6)), deadline=1e9, now=LATER)
    assert sealed.completion.explanation.status == "not_explained"
    assert "scores changed" in sealed.completion.explanation.status_reason


def test_a_new_model_version_is_not_explained_without_asking_it():
    record = pending_record()
    newer = DEFERRED.model_copy(update={"version": "9.9.9"})
    sealed = complete_explanation(record, None, NoModelCalls(newer, (0.3, 0.7), WEIGHTS), deadline=1e9, now=LATER)
    assert sealed.completion.explanation.status == "not_explained"
    assert "version" in sealed.completion.explanation.status_reason


@pytest.mark.parametrize(
    ("erasure_status", "erase_personal", "reason"),
    [("erased", True, ERASED_REASON), (None, True, ERASED_REASON), ("restricted", False, RESTRICTED_REASON)],
)
def test_inputs_erased_or_restricted_before_the_worker_ran_are_not_used(erasure_status, erase_personal, reason):
    record = pending_record(locale="en")
    if erase_personal:
        record = record.model_copy(update={"personal": None})
    sealed = complete_explanation(
        record, erasure_status, NoModelCalls(DEFERRED, (0.3, 0.7), WEIGHTS), deadline=1e9, now=LATER
    )
    explanation = sealed.completion.explanation
    assert (explanation.status, explanation.status_reason) == ("not_explained", reason)
    assert explanation.summary_locale == "en" and "not explained individually" in explanation.summary
    assert completion_verifies(sealed, record)


def test_a_record_that_is_not_pending_cannot_be_completed():
    store = MemoryRecordStore()
    decide("toy", request(), with_manifest(remote(), store), BASE)
    with pytest.raises(ValueError, match="no pending explanation"):
        complete_explanation(store.records[0], None, runtime(), deadline=1e9, now=LATER)


def jobs(record: ExplanationRecord, **runtime_changes) -> tuple[MemoryCompletionStore, FakeCatalog]:
    store = MemoryCompletionStore({record.envelope.decision_id: StoredPending(record, None, completed=False)})
    return store, FakeCatalog({"toy": runtime(**runtime_changes)})


def test_a_job_completes_once_and_a_redelivered_job_is_a_no_op():
    record = pending_record()
    store, models = jobs(record)
    decision_id = record.envelope.decision_id

    assert run_job(decision_id, store=store, models=models, time_left=60, now=LATER) == "complete"
    assert run_job(decision_id, store=store, models=models, time_left=60, now=LATER) == "already_completed"
    assert len(store.saved) == 1


def test_a_job_whose_record_is_not_stored_is_retried():
    store, models = jobs(pending_record())
    with pytest.raises(RecordNotFound):
        run_job("01NOSUCHDECISION0000000000", store=store, models=models, time_left=60, now=LATER)


def test_a_job_for_an_explained_decision_has_nothing_to_do():
    explained = MemoryRecordStore()
    decide("toy", request(), with_manifest(remote(), explained), BASE)
    store, models = jobs(explained.records[0])
    assert run_job(explained.records[0].envelope.decision_id, store=store, models=models, time_left=60, now=LATER) == (
        "not_pending"
    )
    assert store.saved == []


def test_a_model_failure_is_raised_for_a_retry_and_nothing_is_stored():
    record = pending_record()
    store, models = jobs(record, explanation_fails=True)
    with pytest.raises(Exception, match="did not answer in time"):
        run_job(record.envelope.decision_id, store=store, models=models, time_left=60, now=LATER)

    class DownRuntime(FixedRuntime):
        def predict(self, inputs):
            raise DependencyUnavailable("model down (test)")

    store, _ = jobs(record)
    with pytest.raises(DependencyUnavailable):
        run_job(
            record.envelope.decision_id,
            store=store,
            models=FakeCatalog({"toy": DownRuntime(DEFERRED, (0.3, 0.7), WEIGHTS)}),
            time_left=60,
            now=LATER,
        )
    assert store.saved == []


def test_the_explainer_gets_its_manifest_deadline_or_the_time_left_whichever_is_shorter():
    deadlines: list[float] = []

    class Timed(FixedRuntime):
        def explain(self, inputs, prediction, deadline):
            deadlines.append(deadline)
            return super().explain(inputs, prediction, deadline)

    record = pending_record()
    for time_left in (2.0, 600.0):
        store, _ = jobs(record)
        models = FakeCatalog({"toy": Timed(DEFERRED, (0.3, 0.7), WEIGHTS)})
        run_job(
            record.envelope.decision_id,
            store=store,
            models=models,
            time_left=time_left,
            now=LATER,
            monotonic=lambda: 100.0,
        )
    assert deadlines == [102.0, 100.0 + DEFERRED.explainer.deadline_seconds]
