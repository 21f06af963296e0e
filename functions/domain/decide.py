"""One decision, end to end: validate, call the model, explain, narrate, disclose, seal, store.

Nothing leaves this function unless its record was stored first (fail closed).
"""

from __future__ import annotations

import calendar
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime

from functions.domain.customer_links import customer_view_url
from functions.domain.disclosure import NoticeCatalogue, OperatorProfile
from functions.domain.errors import CandorError, DependencyUnavailable, ExplanationUnavailable, ModelOutputInvalid
from functions.domain.explanation import Decided, explained, recorded, unexplained
from functions.domain.ids import new_ulid
from functions.domain.inputs import validate_inputs
from functions.domain.policy import reason_not_explained, reason_referred
from functions.domain.ports import ExplanationQueue, ModelCatalog, ModelRun, ModelRuntime, Prediction, RecordStore
from functions.domain.presentation import language_of, localized
from functions.domain.redaction import redact
from functions.domain.referral import ReferralQueue, referral_of, referred_outcome, withheld_explanation
from functions.domain.seal import new_salt, personal_digest, seal
from functions.schemas.api import (
    Alternative,
    DecisionRequest,
    DecisionResponse,
    Explanation,
    FeatureValue,
    Links,
    Outcome,
)
from functions.schemas.manifest import (
    HttpsEndpointAdapter,
    LambdaFunctionAdapter,
    ModelManifest,
    SageMakerEndpointAdapter,
)
from functions.schemas.record import (
    Envelope,
    ExplainerRef,
    HumanReview,
    ModelRef,
    PersonalPart,
    RecordedNotice,
    RecordedOutcome,
    Retention,
)

ADDITIVITY_TOLERANCE = 1e-6


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class DecisionServices:
    """Everything `decide` needs from outside, injected so tests can swap each part."""

    models: ModelCatalog
    notices: NoticeCatalogue
    operator: OperatorProfile
    records: RecordStore
    hash_subject: Callable[[str], str]
    sign_customer_token: Callable[[str, datetime], str]  # (decision id, decided at) -> token
    explanation_queue: ExplanationQueue | None = None  # None: nothing can be explained later
    referrals: ReferralQueue | None = None  # None: no review queue, a decision to refer fails closed (503)
    now: Callable[[], datetime] = utc_now
    monotonic: Callable[[], float] = time.monotonic


def decide(model_id: str, request: DecisionRequest, services: DecisionServices, links_base: str) -> DecisionResponse:
    """Decide on `request` with model `model_id`; `links_base` is the public URL the customer link starts with."""
    runtime = services.models.runtime(model_id)
    manifest = runtime.manifest
    inputs, redactions = _minimised(manifest, validate_inputs(manifest, request.inputs))
    prediction = _predict(runtime, inputs)
    _check_prediction(manifest, prediction)

    decided = services.now()
    decided_at = decided.isoformat(timespec="milliseconds").replace("+00:00", "Z")
    decision_id = new_ulid(decided)
    model = {"id": manifest.id, "version": manifest.version}
    outcome = _outcome(manifest, prediction, language_of(request.locale))
    referred = reason_referred(manifest, request, inputs, outcome, prediction.probabilities)
    if referred is not None and services.referrals is None:
        raise DependencyUnavailable(f"model {manifest.id} refers this decision to a person, but no review queue is set")
    context = Decided(manifest, prediction, inputs, request.locale, outcome.display_name, outcome.adverse)
    explanation, explainer = _explanation(runtime, request, context, outcome, services)  # the reviewer reads it
    notice = services.notices.notice(
        locale=request.locale,
        jurisdiction=request.jurisdiction,
        operator=services.operator,
        model=model,
        kind=manifest.kind,
        referred=referred is not None,
    )

    personal = PersonalPart(inputs=inputs, redactions=redactions, segments=dict(request.segments), salt=new_salt())
    envelope = Envelope(
        decision_id=decision_id,
        request_id=request.request_id,
        decided_at=decided_at,
        subject_hash=services.hash_subject(request.subject_id) if request.subject_id else None,
        channel=request.channel,
        locale=request.locale,
        jurisdiction=notice.jurisdiction,
        model=ModelRef(
            **model,
            kind=manifest.kind,
            artifact_sha256=manifest.artifact.sha256 if manifest.artifact else None,
            endpoint=endpoint_of(manifest),
        ),
        explainer=explainer,
        outcome=RecordedOutcome(
            label=outcome.label,
            score=outcome.score,
            threshold=manifest.decision_threshold,
            adverse=outcome.adverse,
            probabilities={label.name: p for label, p in zip(manifest.labels, prediction.probabilities, strict=True)},
        ),
        explanation=recorded(explanation, context),
        disclosure=RecordedNotice(notice_id=notice.notice_id, locale=notice.locale, jurisdiction=notice.jurisdiction),
        appeal=HumanReview(status="referred", reason=referred) if referred is not None else HumanReview(),
        retention=Retention(
            retention_class=manifest.retention_class,
            delete_after=_delete_after(decided.date(), manifest.retention_class, services.operator).isoformat(),
        ),
        personal_sha256=personal_digest(personal),
    )
    if explanation.status == "pending" and services.explanation_queue is not None:
        # Queued before the record is stored: if storing fails the worker finds no record and
        # drops the job, whereas a job lost after a stored record would leave it pending forever.
        services.explanation_queue.enqueue(decision_id, manifest.id)
    services.records.put(seal(envelope, personal))  # raises DependencyUnavailable: nothing is released
    if referred is not None and services.referrals is not None:
        # On the decision path this joins the record's puts and the remembered answer in one transaction
        # (functions/stores/decision_commit.py): the referral and the decision exist together.
        services.referrals.refer(referral_of(envelope, referred, new_ulid(decided)))
        outcome, explanation = referred_outcome(request.locale), withheld_explanation(explanation, request.locale)

    return DecisionResponse(
        decision_id=decision_id,
        decided_at=decided_at,
        model=model,
        outcome=outcome,
        explanation=explanation,
        disclosure=notice,
        links=Links(
            customer_view=customer_view_url(links_base, decision_id, services.sign_customer_token(decision_id, decided))
        ),
    )


def _explanation(
    runtime: ModelRuntime, request: DecisionRequest, context: Decided, outcome: Outcome, services: DecisionServices
) -> tuple[Explanation, ExplainerRef]:
    """Explain now, later (pending) or not at all (the model's policy); never silently missing.

    With the explainer the record names: the run's own when it differs from the runtime's (a remote
    model explained from its pinned artifact, or as a black box when the artifact no longer matches).
    """
    manifest = runtime.manifest
    skipped = reason_not_explained(manifest, request, context.inputs, outcome)
    if skipped is not None:
        return unexplained(context, "not_explained", skipped), runtime.explainer
    can_defer = services.explanation_queue is not None and manifest.is_remote
    if manifest.explainer.timing == "deferred" and can_defer:
        later = "computed after the answer, as the model's manifest asks"
        return unexplained(context, "pending", later), runtime.explainer
    deadline = services.monotonic() + manifest.explainer.deadline_seconds
    try:
        run = runtime.explain(context.inputs, context.prediction, deadline)
    except ExplanationUnavailable as error:
        if can_defer:
            return unexplained(context, "pending", f"{error.message}; a worker completes it"), runtime.explainer
        return unexplained(context, "not_explained", error.message), runtime.explainer
    _check_additivity(manifest, run)
    explainer = run.explainer or runtime.explainer
    return explained(context, explainer, run), explainer


def endpoint_of(manifest: ModelManifest) -> str | None:
    """Where a remote model answers, for the record: which system made the decision."""
    adapter = manifest.adapter
    if isinstance(adapter, SageMakerEndpointAdapter):
        return f"sagemaker:{adapter.endpoint_name}"
    if isinstance(adapter, LambdaFunctionAdapter):
        return f"lambda:{adapter.function_name}" + (f":{adapter.qualifier}" if adapter.qualifier else "")
    if isinstance(adapter, HttpsEndpointAdapter):
        return adapter.url
    return None


def _minimised(
    manifest: ModelManifest, inputs: dict[str, FeatureValue]
) -> tuple[dict[str, FeatureValue], dict[str, int]]:
    """Redact personal data from free text before the model or the store sees it."""
    counts: dict[str, int] = {}
    for feature in manifest.features:
        if feature.type == "text":
            redacted = redact(str(inputs[feature.name]))
            inputs[feature.name] = redacted.text
            for kind, n in redacted.counts.items():
                counts[kind] = counts.get(kind, 0) + n
    return inputs, counts


def _delete_after(day: date, retention_class: str, operator: OperatorProfile) -> date:
    """The same periods the notice promises the customer (the operator's retention months)."""
    months = (
        operator.retention_months_consequential if retention_class == "consequential" else operator.retention_months
    )
    year, month = divmod(day.month - 1 + months, 12)
    year, month = day.year + year, month + 1
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def _predict(runtime: ModelRuntime, inputs: dict[str, FeatureValue]) -> Prediction:
    """A model that fails is a dependency that failed: 503, nothing decided, nothing stored."""
    try:
        return runtime.predict(inputs)
    except CandorError:
        raise
    except Exception as error:  # any adapter fault, in-process or remote, means the same to the caller
        raise DependencyUnavailable(f"model {runtime.manifest.id} failed: {type(error).__name__}") from error


def _check_prediction(manifest: ModelManifest, prediction: Prediction) -> None:
    probabilities = prediction.probabilities
    if len(probabilities) != len(manifest.labels) or not all(0.0 <= p <= 1.0 for p in probabilities):
        raise ModelOutputInvalid(f"model {manifest.id} returned {len(probabilities)} scores outside [0, 1]")


def _check_additivity(manifest: ModelManifest, run: ModelRun) -> None:
    if run.attribution.additivity_error > ADDITIVITY_TOLERANCE * max(1.0, abs(run.attribution.model_output)):
        raise ModelOutputInvalid(f"model {manifest.id}: attributions do not add up to the model output")


def _outcome(manifest: ModelManifest, prediction: Prediction, language: str) -> Outcome:
    scores = dict(zip((label.name for label in manifest.labels), prediction.probabilities, strict=True))
    if manifest.decision_threshold is not None:
        negative, positive = manifest.labels
        label = positive.name if scores[positive.name] >= manifest.decision_threshold else negative.name
    else:
        label = max(scores, key=scores.__getitem__)
    others = sorted((name for name in scores if name != label), key=scores.__getitem__, reverse=True)
    return Outcome(
        label=label,
        display_name=localized(manifest.label(label).display_names, language),
        score=scores[label],
        adverse=(label != manifest.favourable_outcome) if manifest.kind == "decision" else None,
        alternatives=[Alternative(label=name, score=scores[name]) for name in others[:3]],
    )
