"""One decision, end to end: validate, call the model, explain, narrate, disclose, seal, store.

Nothing leaves this function unless its record was stored first (fail closed).
"""

from __future__ import annotations

import calendar
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime

from functions.domain.customer_links import customer_view_url
from functions.domain.disclosure import NoticeCatalogue, OperatorProfile
from functions.domain.errors import CandorError, DependencyUnavailable, ModelOutputInvalid
from functions.domain.ids import new_ulid
from functions.domain.inputs import validate_inputs
from functions.domain.narrative import Reason, summarize
from functions.domain.ports import ModelCatalog, ModelRun, ModelRuntime, RecordStore
from functions.domain.presentation import item_display, language_of, localized
from functions.domain.redaction import redact
from functions.domain.seal import new_salt, personal_digest, seal
from functions.schemas.api import (
    Alternative,
    Contribution,
    DecisionRequest,
    DecisionResponse,
    Explanation,
    FeatureValue,
    Links,
    Outcome,
)
from functions.schemas.manifest import ModelManifest
from functions.schemas.record import (
    Envelope,
    ModelRef,
    PersonalPart,
    RecordedContribution,
    RecordedExplanation,
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
    now: Callable[[], datetime] = utc_now


def decide(model_id: str, request: DecisionRequest, services: DecisionServices, links_base: str) -> DecisionResponse:
    """Decide on `request` with model `model_id`; `links_base` is the public URL the customer link starts with."""
    runtime = services.models.runtime(model_id)
    manifest = runtime.manifest
    inputs, redactions = _minimised(manifest, validate_inputs(manifest, request.inputs))
    run = _run_model(runtime, inputs)
    _check_run(manifest, run)

    decided = services.now()
    decided_at = decided.isoformat(timespec="milliseconds").replace("+00:00", "Z")
    decision_id = new_ulid(decided)
    language = language_of(request.locale)
    model = {"id": manifest.id, "version": manifest.version}

    outcome = _outcome(manifest, run, language)
    contributions = _contributions(manifest, run, inputs, language)
    summary = summarize(
        kind=manifest.kind,
        locale=request.locale,
        target=localized(manifest.label(run.explained_label).display_names, language),
        outcome=outcome.display_name,
        reasons=[Reason(c.display_name, c.display_value, c.attribution, c.spans is not None) for c in contributions],
        adverse=outcome.adverse,
    )
    notice = services.notices.notice(
        locale=request.locale,
        jurisdiction=request.jurisdiction,
        operator=services.operator,
        model=model,
        kind=manifest.kind,
    )
    explanation = Explanation(
        method=manifest.explainer.method,
        exact=runtime.explainer.exact,
        output_units=run.attribution.output_units,
        explained_output=f"{manifest.output_units} of '{run.explained_label}'",
        base_value=run.attribution.base_value,
        contributions=contributions,
        summary=summary.text,
        summary_locale=summary.locale,
        additivity_error=run.attribution.additivity_error,
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
        model=ModelRef(**model, kind=manifest.kind, artifact_sha256=manifest.artifact.sha256),
        explainer=runtime.explainer,
        outcome=RecordedOutcome(
            label=outcome.label,
            score=outcome.score,
            threshold=manifest.decision_threshold,
            adverse=outcome.adverse,
            probabilities={label.name: p for label, p in zip(manifest.labels, run.probabilities, strict=True)},
        ),
        explanation=RecordedExplanation(
            output_units=explanation.output_units,
            explained_output=explanation.explained_output,
            base_value=explanation.base_value,
            model_output=run.attribution.model_output,
            additivity_error=explanation.additivity_error,
            contributions=[RecordedContribution(feature=c.feature, attribution=c.attribution) for c in contributions],
            summary=summary.text,
            summary_locale=summary.locale,
        ),
        disclosure=RecordedNotice(notice_id=notice.notice_id, locale=notice.locale, jurisdiction=notice.jurisdiction),
        retention=Retention(
            retention_class=manifest.retention_class,
            delete_after=_delete_after(decided.date(), manifest.retention_class, services.operator).isoformat(),
        ),
        personal_sha256=personal_digest(personal),
    )
    services.records.put(seal(envelope, personal))  # raises DependencyUnavailable: nothing is released

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


def _run_model(runtime: ModelRuntime, inputs: dict[str, FeatureValue]) -> ModelRun:
    """A model that fails is a dependency that failed: 503, nothing decided, nothing stored."""
    try:
        return runtime.run(inputs)
    except CandorError:
        raise
    except Exception as error:  # any adapter fault, in-process or remote, means the same to the caller
        raise DependencyUnavailable(f"model {runtime.manifest.id} failed: {type(error).__name__}") from error


def _check_run(manifest: ModelManifest, run: ModelRun) -> None:
    probabilities = run.probabilities
    if len(probabilities) != len(manifest.labels) or not all(0.0 <= p <= 1.0 for p in probabilities):
        raise ModelOutputInvalid(f"model {manifest.id} returned {len(probabilities)} scores outside [0, 1]")
    if run.attribution.additivity_error > ADDITIVITY_TOLERANCE * max(1.0, abs(run.attribution.model_output)):
        raise ModelOutputInvalid(f"model {manifest.id}: attributions do not add up to the model output")


def _outcome(manifest: ModelManifest, run: ModelRun, language: str) -> Outcome:
    scores = dict(zip((label.name for label in manifest.labels), run.probabilities, strict=True))
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


def _contributions(
    manifest: ModelManifest, run: ModelRun, inputs: dict[str, FeatureValue], language: str
) -> list[Contribution]:
    text = next((str(inputs[f.name]) for f in manifest.features if f.type == "text"), "")
    contributions = []
    for item in run.items:
        if item.is_token and item.attribution == 0.0:
            continue  # a word the model gives no weight: nothing to explain
        display_name, display = item_display(manifest, item, text, language)
        contributions.append(
            Contribution(
                feature=item.key,
                display_name=display_name,
                value=item.value,
                display_value=display,
                attribution=item.attribution,
                spans=list(item.spans) if item.spans else None,
            )
        )
    return sorted(contributions, key=lambda c: abs(c.attribution), reverse=True)
