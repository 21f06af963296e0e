"""An explanation as customers read it and as the record keeps it, whatever its status.

Shared by the decision path (inline explanations) and the worker that completes pending
ones, so both present the same attributions in the same words.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

from functions.domain.narrative import Reason, Summary, message_words_summary, summarize, unexplained_summary
from functions.domain.ports import ModelRun, Prediction
from functions.domain.presentation import item_display, language_of, localized, span_of
from functions.schemas.api import Contribution, Explanation, FeatureValue, Sampling
from functions.schemas.manifest import ModelManifest
from functions.schemas.record import (
    ExplainerRef,
    RecordedContribution,
    RecordedExplanation,
    RecordedSampling,
)


@dataclass(frozen=True)
class Decided:
    """What was decided, in the customer's words: the context every explanation is written in."""

    manifest: ModelManifest
    prediction: Prediction
    inputs: Mapping[str, FeatureValue]
    locale: str
    outcome_display: str
    adverse: bool | None


def explained(decided: Decided, explainer: ExplainerRef, run: ModelRun) -> Explanation:
    """The explanation of a model run: complete, or partial when the deadline cut sampling short."""
    manifest, language = decided.manifest, language_of(decided.locale)
    contributions = _contributions(manifest, run, decided.inputs, decided.locale)
    target = localized(manifest.label(decided.prediction.explained_label).display_names, language)
    summary = summarize(
        kind=manifest.kind,
        locale=decided.locale,
        target=target,
        outcome=decided.outcome_display,
        reasons=[Reason(c.display_name, c.display_value, c.attribution, c.spans is not None) for c in contributions],
        adverse=decided.adverse,
    )
    sampling = run.sampling
    return Explanation(
        method=explainer.method,
        exact=explainer.exact,
        status="partial" if run.partial else "complete",
        status_reason="; ".join(_reasons(run)) or None,
        output_units=run.attribution.output_units,
        explained_output=_explained_output(decided),
        base_value=run.attribution.base_value,
        contributions=contributions,
        summary=summary.text,
        summary_locale=summary.locale,
        additivity_error=run.attribution.additivity_error,
        sampling=Sampling(**vars(sampling)) if sampling else None,
    )


def _reasons(run: ModelRun) -> list[str]:
    partial = "the explanation deadline cut sampling short: fewer evaluations than planned"
    return [reason for reason in (run.note, partial if run.partial else None) if reason]


def unexplained(decided: Decided, status: Literal["pending", "not_explained"], reason: str) -> Explanation:
    """An explanation still to come (pending) or left out by the model's policy, with the reason."""
    manifest = decided.manifest
    summary = unexplained_summary(
        status=status,
        kind=manifest.kind,
        locale=decided.locale,
        outcome=decided.outcome_display,
        adverse=decided.adverse,
    )
    return Explanation(
        method=manifest.explainer.method,
        exact=manifest.explainer.exact,
        status=status,
        status_reason=reason,
        output_units=manifest.output_units,
        explained_output=_explained_output(decided),
        base_value=None,
        contributions=[],
        summary=summary.text,
        summary_locale=summary.locale,
        additivity_error=None,
    )


def recorded(explanation: Explanation, decided: Decided) -> RecordedExplanation:
    """The record's form: attributions by feature name only (display values are personal).

    Words of a free-text message are keyed by position (`span_key`), and a summary that
    would quote them is kept in general terms: the archive outlives any erasure.
    """
    sampling = explanation.sampling
    quotes_message = any(span_of(c.feature) for c in explanation.contributions)
    summary = _general_summary(decided).text if quotes_message else explanation.summary
    return RecordedExplanation(
        status=explanation.status,
        status_reason=explanation.status_reason,
        output_units=explanation.output_units,
        explained_output=explanation.explained_output,
        base_value=explanation.base_value,
        model_output=decided.prediction.model_output,
        additivity_error=explanation.additivity_error,
        contributions=[
            RecordedContribution(feature=c.feature, attribution=c.attribution) for c in explanation.contributions
        ],
        summary=summary,
        summary_locale=explanation.summary_locale,
        sampling=RecordedSampling(**sampling.model_dump()) if sampling else None,
    )


def _general_summary(decided: Decided) -> Summary:
    """The summary without the message's words, which the record's reasons point at by position."""
    return message_words_summary(
        kind=decided.manifest.kind, locale=decided.locale, outcome=decided.outcome_display, adverse=decided.adverse
    )


def _explained_output(decided: Decided) -> str:
    return f"{decided.manifest.output_units} of '{decided.prediction.explained_label}'"


def _contributions(
    manifest: ModelManifest, run: ModelRun, inputs: Mapping[str, FeatureValue], locale: str
) -> list[Contribution]:
    text = next((str(inputs[f.name]) for f in manifest.features if f.type == "text"), "")
    contributions = []
    for item in run.items:
        if item.is_token and item.attribution == 0.0:
            continue  # a word the model gives no weight: nothing to explain
        display_name, display = item_display(manifest, item, text, locale)
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
