"""Completing a pending explanation after the answer: what the explanation worker decides.

The worker explains the very answer the customer got, or nothing: it asks the model again with
the stored inputs, and only if the model reproduces the recorded output does it explain it.
A model that changed since the decision, or inputs erased or restricted since, complete the
record as not explained, with the reason; the record itself is never rewritten.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Literal, Protocol

from functions.domain.completion_seal import seal_completion
from functions.domain.customer_view import ERASED, RESTRICTED
from functions.domain.decide import ADDITIVITY_TOLERANCE
from functions.domain.errors import ModelOutputInvalid
from functions.domain.explanation import Decided, explained, recorded
from functions.domain.narrative import unexplained_summary
from functions.domain.ports import ModelCatalog, ModelRun, ModelRuntime, Prediction
from functions.domain.presentation import language_of, localized
from functions.schemas.manifest import ModelManifest
from functions.schemas.record import (
    Envelope,
    ExplainerRef,
    ExplanationCompletion,
    ExplanationRecord,
    RecordedExplanation,
    SealedCompletion,
)

# Remote models answer over JSON: the same answer may come back a few ulps apart, not more.
SAME_ANSWER_TOLERANCE = 1e-6

ERASED_REASON = "the inputs were erased before the explanation was computed"
RESTRICTED_REASON = "the inputs are restricted (GDPR Art. 18): they may not be used to compute the explanation"


class RecordNotFound(Exception):
    """No record for the job yet: it is still being stored, or storing it failed (the decision got a 503).

    The job is retried; one whose record never appears ends in the dead-letter queue.
    """


@dataclass(frozen=True)
class StoredPending:
    """What the worker reads of a decision: the record, its erasure status, whether it was completed."""

    record: ExplanationRecord
    erasure_status: str | None
    completed: bool


class CompletionStore(Protocol):
    def for_completion(self, decision_id: str) -> StoredPending | None:
        """The stored decision, or None when it does not exist; raises DependencyUnavailable."""
        ...

    def save(self, record: ExplanationRecord, sealed: SealedCompletion) -> bool:
        """Store the completion once; False when the record was completed already. Raises DependencyUnavailable."""
        ...


JobOutcome = Literal["complete", "partial", "not_explained", "already_completed", "not_pending"]
_COMPLETED: dict[str, JobOutcome] = {"complete": "complete", "partial": "partial", "not_explained": "not_explained"}


def run_job(
    decision_id: str,
    *,
    store: CompletionStore,
    models: ModelCatalog,
    time_left: float,
    now: datetime,
    monotonic: Callable[[], float] = time.monotonic,
) -> JobOutcome:
    """Complete the pending explanation of one decision; a repeated job is a no-op.

    `time_left`: seconds the explainer may use at most (the manifest's deadline may be shorter).
    Raises RecordNotFound, or what the model or the stores raise: the job is then retried.
    """
    stored = store.for_completion(decision_id)
    if stored is None:
        raise RecordNotFound(f"decision {decision_id} is not stored (yet)")
    if stored.completed:
        return "already_completed"
    if not is_pending(stored.record):
        return "not_pending"  # explained or left out when decided: nothing to complete
    runtime = models.runtime(stored.record.envelope.model.id)
    deadline = monotonic() + min(runtime.manifest.explainer.deadline_seconds, time_left)
    sealed = complete_explanation(stored.record, stored.erasure_status, runtime, deadline=deadline, now=now)
    if not store.save(stored.record, sealed):
        return "already_completed"  # a concurrent delivery of the same job finished first
    return _COMPLETED[sealed.completion.explanation.status]


def is_pending(record: ExplanationRecord) -> bool:
    return record.envelope.explanation.status == "pending"


def complete_explanation(
    record: ExplanationRecord,
    erasure_status: str | None,
    runtime: ModelRuntime,
    *,
    deadline: float,
    now: datetime,
) -> SealedCompletion:
    """The sealed completion of a pending record: explained (complete or partial) or not explained, with the reason.

    `erasure_status` comes from the index item ('erased', 'restricted' or None); `deadline` is a
    time.monotonic() value. Raises what the runtime raises (DependencyUnavailable,
    ExplanationUnavailable, ModelOutputInvalid) when the model fails: the job is retried.
    """
    env = record.envelope
    if not is_pending(record):
        raise ValueError(f"decision {env.decision_id} has no pending explanation")
    manifest = runtime.manifest
    if erasure_status == RESTRICTED:
        return _sealed(record, env.explainer, _not_explained(env, manifest, RESTRICTED_REASON), now)
    if record.personal is None or erasure_status == ERASED:
        return _sealed(record, env.explainer, _not_explained(env, manifest, ERASED_REASON), now)
    if manifest.version != env.model.version:
        reason = (
            f"the model changed since the decision (version {env.model.version} then, {manifest.version} now);"
            " a different model's answer is not explained"
        )
        return _sealed(record, env.explainer, _not_explained(env, manifest, reason), now)

    inputs = record.personal.inputs
    prediction = runtime.predict(inputs)
    changed = _changed_answer(env, manifest, prediction)
    if changed is not None:
        return _sealed(record, env.explainer, _not_explained(env, manifest, changed), now)

    run = runtime.explain(inputs, prediction, deadline)
    _check_additivity(manifest, run)
    language = language_of(env.locale)
    decided = Decided(
        manifest, prediction, inputs, env.locale, _outcome_display(manifest, env, language), env.outcome.adverse
    )
    explainer = run.explainer or runtime.explainer  # a pinned artifact's, or its black-box fallback
    explanation = recorded(explained(decided, explainer, run), decided)
    return _sealed(record, explainer, explanation, now)


def _changed_answer(env: Envelope, manifest: ModelManifest, prediction: Prediction) -> str | None:
    """Why the model's answer now differs from the recorded one, or None when it is the same answer."""
    recorded_output = env.explanation.model_output
    if not _close(prediction.model_output, recorded_output):
        return (
            f"the model's answer changed since the decision ({recorded_output:.6g} then, "
            f"{prediction.model_output:.6g} now, in {manifest.output_units}); a different answer is not explained"
        )
    labels = [label.name for label in manifest.labels]
    now = dict(zip(labels, prediction.probabilities, strict=False))
    if len(prediction.probabilities) != len(labels) or any(
        not _close(now.get(label, math.nan), p) for label, p in env.outcome.probabilities.items()
    ):
        return "the model's scores changed since the decision; a different answer is not explained"
    return None


def _close(a: float, b: float) -> bool:
    return math.isclose(a, b, rel_tol=SAME_ANSWER_TOLERANCE, abs_tol=1e-12)


def _check_additivity(manifest: ModelManifest, run: ModelRun) -> None:
    # The same promise as the decision path's: attributions add up to the output they explain.
    if run.attribution.additivity_error > ADDITIVITY_TOLERANCE * max(1.0, abs(run.attribution.model_output)):
        raise ModelOutputInvalid(f"model {manifest.id}: attributions do not add up to the model output")


def _outcome_display(manifest: ModelManifest, env: Envelope, language: str) -> str:
    label = next((lbl for lbl in manifest.labels if lbl.name == env.outcome.label), None)
    return localized(label.display_names, language) if label else env.outcome.label


def _not_explained(env: Envelope, manifest: ModelManifest, reason: str) -> RecordedExplanation:
    """The pending explanation, closed as not explained: same outputs, no attributions, the customer's words."""
    summary = unexplained_summary(
        status="not_explained",
        kind=env.model.kind,
        locale=env.locale,
        outcome=_outcome_display(manifest, env, language_of(env.locale)),
        adverse=env.outcome.adverse,
    )
    return env.explanation.model_copy(
        update={
            "status": "not_explained",
            "status_reason": reason,
            "summary": summary.text,
            "summary_locale": summary.locale,
        }
    )


def _sealed(
    record: ExplanationRecord, explainer: ExplainerRef, explanation: RecordedExplanation, now: datetime
) -> SealedCompletion:
    return seal_completion(
        ExplanationCompletion(
            decision_id=record.envelope.decision_id,
            envelope_sha256=record.content_sha256,
            completed_at=now.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
            explainer=explainer,
            explanation=explanation,
        )
    )
