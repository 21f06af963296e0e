"""The customer's view of one decision, in the decision's language (ICO: rationale, responsibility, data).

Built from what was stored: the sealed envelope (outcome, reasons, summary, notice id), the
personal part while it exists (display values; free text as redacted), and the model's manifest
(display names). The notice is rendered again from the catalogue, at the decision's date, so it
is the version that was shown.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import date
from functools import partial
from typing import Any

from functions.domain.disclosure import NoticeCatalogue, OperatorProfile
from functions.domain.formatting import locale_tag, long_date, parse_timestamp
from functions.domain.presentation import display_value, language_of, localized, span_of
from functions.domain.referral import texts as referral_texts
from functions.schemas.customer import (
    Appeal,
    CustomerLinks,
    CustomerOutcome,
    CustomerReason,
    CustomerReview,
    CustomerView,
    DataUsed,
    Verdict,
)
from functions.schemas.manifest import ModelManifest
from functions.schemas.record import Envelope, ExplanationRecord, RecordedExplanation

ERASED, RESTRICTED = "erased", "restricted"
_QUOTES = {"en": ("\u201c", "\u201d"), "es": ("\u00ab", "\u00bb")}

TEXTS: dict[str, dict[str, str]] = {
    "en": {
        "routed": "Your message was passed to our {label} team.",
        "decided": "Decision: {label}.",
        "automated": "This decision was made automatically by an AI system, without a person.",
        "adverse": "It is not the outcome you asked for. You can contest it and ask for a person to review it.",
        "contest": "If you think this answer or decision is wrong, tell us why with the form on this page "
        "(or by sending your reason to the appeal link). A person will review it; the AI will not. "
        "You can also contact us directly: {contact}",
        "erased": "The personal data of this decision (what you wrote and the details of your request) have "
        "been erased. The decision itself, its reasons and the notice you were shown are kept as the law requires.",
        "restricted": "This record is restricted: we may not show or use it while your request about it is "
        "handled. To talk about it, contact a person: {contact}",
        "erased_word": "a word of your message (erased)",
        "upheld": "A person reviewed this decision on {date} and upheld it: {label} stands.",
        "overturned": "A person reviewed this decision on {date} and overturned it: the decision is now {label}.",
        "person_decided": "A person decided on {date}: {label}.",
    },
    "es": {
        "routed": "Su mensaje se ha enviado a nuestro equipo de {label}.",
        "decided": "Decisión: {label}.",
        "automated": "Esta decisión la ha tomado automáticamente un sistema de IA, sin intervención de una persona.",
        "adverse": "No es el resultado que usted pidió. Puede impugnarla y pedir que la revise una persona.",
        "contest": "Si cree que esta respuesta o decisión es incorrecta, díganos por qué con el formulario de esta "
        "página (o enviando su motivo al enlace de impugnación). La revisará una persona, no la IA. "
        "También puede contactarnos directamente: {contact}",
        "erased": "Los datos personales de esta decisión (lo que usted escribió y los detalles de su solicitud) "
        "se han borrado. La decisión, sus motivos y el aviso que se le mostró se conservan como exige la ley.",
        "restricted": "Este registro está limitado: no podemos mostrarlo ni usarlo mientras se tramita su "
        "solicitud sobre él. Para hablar de ello, contacte con una persona: {contact}",
        "erased_word": "una palabra de su mensaje (borrada)",
        "upheld": "Una persona revisó esta decisión el {date} y la confirmó: se mantiene {label}.",
        "overturned": "Una persona revisó esta decisión el {date} y la revocó: la decisión es ahora {label}.",
        "person_decided": "Una persona decidió el {date}: {label}.",
    },
}


def links_for(decision_id: str) -> CustomerLinks:
    return CustomerLinks(view=f"/v1/explanations/{decision_id}/view", appeal=f"/v1/explanations/{decision_id}/appeal")


def _contact(operator: OperatorProfile, language: str) -> str:
    return operator.in_language(language).human_contact.rstrip(". ") + "."


def restricted_view(decision_id: str, decided_at: str, locale: str, operator: OperatorProfile) -> CustomerView:
    """GDPR Art. 18: only that the record is restricted and how to reach a person."""
    language = language_of(locale)
    texts, contact = TEXTS[language], _contact(operator, language)
    return CustomerView(
        decision_id=decision_id,
        decided_at=decided_at,
        language=language,
        locale=locale_tag(locale),
        status="restricted",
        status_note=texts["restricted"].format(contact=contact),
        human_contact=contact,
        how_to_contest=texts["contest"].format(contact=contact),
        links=links_for(decision_id),
    )


def customer_view(
    record: ExplanationRecord,
    item: dict[str, Any],
    *,
    manifest: ModelManifest | None,
    notices: NoticeCatalogue,
    operator: OperatorProfile,
    appeal: Appeal | None,
    explanation: RecordedExplanation | None = None,
    referral: Appeal | None = None,
) -> CustomerView:
    """What the customer may see of their decision; `manifest` None when the model is no longer registered.

    `explanation`: a pending explanation's verified completion, once the worker stored it.
    `referral`: the review queue's item of a referred decision; once resolved, the person's decision is shown.
    """
    env = record.envelope
    explanation = explanation or env.explanation
    if item.get("erasure_status") == RESTRICTED:
        return restricted_view(env.decision_id, env.decided_at, env.locale, operator)
    language = language_of(env.locale)
    texts = TEXTS[language]
    erased = record.personal is None or item.get("erasure_status") == ERASED
    inputs = {} if erased or record.personal is None else dict(record.personal.inputs)

    notice = notices.notice(
        locale=env.locale,
        jurisdiction=env.disclosure.jurisdiction,
        operator=operator,
        model={"id": env.model.id, "version": env.model.version},
        kind=env.model.kind,
        at=date.fromisoformat(env.decided_at[:10]),
        referred=env.appeal.status == "referred",
    )
    review = _review(appeal or referral, env.outcome.label, partial(_label_name, manifest, language), texts, env.locale)
    if env.appeal.status == "referred":  # a person decides: the automated outcome and its reasons are not shown
        referred = referral_texts(env.locale)
        outcome = CustomerOutcome(
            label=None,
            display_name=referred["display"],
            statement=referred["statement"],
            automated_decision=False,
            referred=True,
        )
        if review is not None and appeal is None:  # the person has decided: their decision, never the AI's reasons
            when = long_date(parse_timestamp(review.resolved_at).date(), env.locale)
            outcome = outcome.model_copy(
                update={
                    "label": review.outcome,
                    "display_name": review.outcome_display_name,
                    "statement": texts["person_decided"].format(date=when, label=review.outcome_display_name),
                }
            )
            review = review.model_copy(update={"statement": outcome.statement})
        explanation = explanation.model_copy(update={"contributions": []})  # they would give the outcome away
        target: str | None = None
    else:
        outcome, target = _decided(env, manifest, language)

    features = {f.name: f for f in manifest.features} if manifest else {}
    reasons = []
    for contribution in explanation.contributions:
        feature = features.get(contribution.feature)
        if feature is not None:
            name = localized(feature.display_names, language)
            value = display_value(feature, inputs[feature.name], env.locale) if feature.name in inputs else None
        else:  # a word of the customer's message (text models)
            name, value = _word(contribution.feature, inputs, manifest, language), None
        reasons.append(
            CustomerReason(
                display_name=name,
                display_value=value,
                weight=contribution.attribution,
                direction="towards" if contribution.attribution >= 0 else "against",
            )
        )

    data_used = None
    if not erased:
        data_used = [
            DataUsed(
                name=localized(f.display_names, language),
                value=display_value(f, inputs[f.name], env.locale),
            )
            for f in (manifest.features if manifest else [])
            if f.name in inputs
        ]

    return CustomerView(
        decision_id=env.decision_id,
        decided_at=env.decided_at,
        language=language,
        locale=locale_tag(env.locale),
        status="erased" if erased else "available",
        status_note=texts["erased"] if erased else None,
        disclosure=notice,
        outcome=outcome,
        summary=None if outcome.referred else explanation.summary,
        explanation_status=None if outcome.referred else explanation.status,
        reasons_target=target,
        reasons=reasons,
        data_used=data_used,
        human_contact=_contact(operator, language),
        how_to_contest=texts["contest"].format(contact=_contact(operator, language)),
        appeal=appeal,
        review=review,
        links=links_for(env.decision_id),
    )


def _review(
    appeal: Appeal | None, original: str, label_name: Callable[[str], str], texts: Mapping[str, str], locale: str
) -> CustomerReview | None:
    """The reviewer's verdict in the customer's language, once the appeal is resolved."""
    if appeal is None or appeal.status not in ("upheld", "overturned") or appeal.resolved_at is None:
        return None
    verdict: Verdict = "overturned" if appeal.status == "overturned" else "upheld"
    outcome = appeal.new_outcome if verdict == "overturned" and appeal.new_outcome else original
    name = label_name(outcome)
    when = long_date(parse_timestamp(appeal.resolved_at).date(), locale)
    return CustomerReview(
        verdict=verdict,
        statement=texts[verdict].format(date=when, label=name),
        reason=appeal.review_reason or "",
        outcome=outcome,
        outcome_display_name=name,
        resolved_at=appeal.resolved_at,
    )


def _label_name(manifest: ModelManifest | None, language: str, label: str) -> str:
    found = next((lbl for lbl in manifest.labels if lbl.name == label), None) if manifest else None
    return localized(found.display_names, language) if found else label


def _decided(env: Envelope, manifest: ModelManifest | None, language: str) -> tuple[CustomerOutcome, str]:
    """The automated outcome in the customer's words, and what the reasons' weights push towards."""
    texts = TEXTS[language]

    def label_name(label: str) -> str:
        return _label_name(manifest, language, label)

    outcome_name = label_name(env.outcome.label)
    automated = env.model.kind == "decision"
    if automated:
        statement = " ".join(
            [texts["decided"].format(label=outcome_name), texts["automated"]]
            + ([texts["adverse"]] if env.outcome.adverse else [])
        )
        # Binary models explain the second label's output (the favourable one, by convention of the manifests).
        target = label_name(manifest.labels[-1].name) if manifest else outcome_name
    else:
        statement = texts["routed"].format(label=outcome_name)
        target = outcome_name
    outcome = CustomerOutcome(
        label=env.outcome.label,
        display_name=outcome_name,
        statement=statement,
        automated_decision=automated,
        adverse=env.outcome.adverse,
    )
    return outcome, target


def _word(key: str, inputs: Mapping[str, Any], manifest: ModelManifest | None, language: str) -> str:
    """A word that weighed, quoted: a model's vocabulary word, or by position the customer's own word."""
    opening, closing = _QUOTES[language]
    span = span_of(key)
    if span is None:
        return f"{opening}{key}{closing}"
    message = next((str(inputs[f.name]) for f in (manifest.features if manifest else []) if f.name in inputs), None)
    return f"{opening}{message[span[0] : span[1]]}{closing}" if message is not None else TEXTS[language]["erased_word"]
