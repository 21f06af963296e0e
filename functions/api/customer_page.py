"""The customer's "why this answer" page: server-rendered HTML, no scripts, no external assets.

The markup is in `functions/templates/customer/` (Jinja2, autoescaped: see `functions/api/pages.py`);
this module picks the texts of the decision's language, formats numbers and dates in its locale
(Babel, `functions/domain/formatting.py`) and lays out the chart. Accessibility: `lang` from the
decision, one h1 then h2s in order, labelled form controls, text on white at 4.5:1 or more, and
the chart is an inline SVG with `role="img"`, a title and description, followed by the same
numbers as a table.
"""

from __future__ import annotations

from typing import Any

from functions.api import charts, pages
from functions.domain.formatting import long_date, number, parse_timestamp, signed, timestamp
from functions.domain.presentation import language_of
from functions.schemas.customer import MAX_REASON_LENGTH, Appeal, CustomerReason, CustomerView
from functions.schemas.settings import CatalogSettings

CHART_ROWS = 8
CSS = pages.stylesheet("customer.css")
CSS_HASH = pages.style_hash(CSS)[len("'sha256-") : -1]
# Forms post back here only; the token is in the URL, so the referrer is never sent on.
HEADERS = pages.security_headers(CSS, form_action="'self'")

LABELS: dict[str, dict[str, str]] = {
    "en": {
        "title": "Why this answer",
        "notice": "You are dealing with an AI system",
        "outcome": "What was decided",
        "why": "Why: the main reasons",
        "chart_title": "The {n} factors that weighed most",
        "chart_desc": "Bar chart. Bars to the right pushed towards “{target}”, bars to the left pushed against it; "
        "longer bars weighed more. The table below gives the same numbers.",
        "table_caption": "The factors that weighed most, as a table",
        "factor": "Factor",
        "value": "Value",
        "effect": "Effect",
        "weight": "Weight",
        "towards": "towards “{target}”",
        "against": "against “{target}”",
        "units": "Weights are SHAP values: how much each factor moved the AI's score, in the model's own units.",
        "data": "What data was used",
        "message": "What you wrote is shown as stored: e-mail addresses, phone numbers, card numbers and IBANs "
        "were masked before the AI saw it.",
        "human": "Talk to a person",
        "contest": "Contest this answer or decision",
        "reason_label": "Why do you think it is wrong?",
        "reason_hint": "Up to {max} characters. Do not include passwords or card numbers; "
        "contact details you write are masked.",
        "send": "Send to a person for review",
        "appealed": "You contested this decision on {date}. Status: {status}. Reference: {appeal_id}.",
        "review_reason": "The reviewer's reason:",
        "referred": "A person from our team is deciding on your request. Once they have decided, you can "
        "contest their decision here.",
        "record": "Record of this decision",
        "reference": "Reference",
        "date": "Date",
        "notice_version": "Notice version",
        "model": "AI model",
        "policy": "Privacy policy",
        "received_title": "We have received your appeal",
        "received": "A person will review the decision and your reason. You do not need to do anything else.",
        "already": "You had already contested this decision. We keep one appeal per decision; this is its state.",
        "back": "Back to the explanation",
        "invalid_title": "Please check your appeal",
        "forbidden_title": "This link is not valid",
    },
    "es": {
        "title": "Por qué esta respuesta",
        "notice": "Está tratando con un sistema de IA",
        "outcome": "Qué se decidió",
        "why": "Por qué: los motivos principales",
        "chart_title": "Los {n} factores que más pesaron",
        "chart_desc": "Gráfico de barras. Las barras hacia la derecha empujaron hacia «{target}», las barras hacia "
        "la izquierda en contra; cuanto más larga la barra, más pesó. La tabla siguiente da las mismas cifras.",
        "table_caption": "Los factores que más pesaron, en una tabla",
        "factor": "Factor",
        "value": "Valor",
        "effect": "Efecto",
        "weight": "Peso",
        "towards": "hacia «{target}»",
        "against": "en contra de «{target}»",
        "units": "Los pesos son valores SHAP: cuánto movió cada factor la puntuación de la IA, en las unidades "
        "del propio modelo.",
        "data": "Qué datos se usaron",
        "message": "Lo que usted escribió se muestra tal como se guardó: las direcciones de correo, teléfonos, "
        "números de tarjeta e IBAN se ocultaron antes de que la IA lo viera.",
        "human": "Hablar con una persona",
        "contest": "Impugnar esta respuesta o decisión",
        "reason_label": "¿Por qué cree que es incorrecta?",
        "reason_hint": "Hasta {max} caracteres. No incluya contraseñas ni números de tarjeta; "
        "los datos de contacto que escriba se ocultan.",
        "send": "Enviar para que la revise una persona",
        "appealed": "Usted impugnó esta decisión el {date}. Estado: {status}. Referencia: {appeal_id}.",
        "review_reason": "Motivo de la persona que la revisó:",
        "referred": "Una persona de nuestro equipo está decidiendo sobre su solicitud. Cuando haya decidido, "
        "podrá impugnar su decisión aquí.",
        "record": "Registro de esta decisión",
        "reference": "Referencia",
        "date": "Fecha",
        "notice_version": "Versión del aviso",
        "model": "Modelo de IA",
        "policy": "Política de privacidad",
        "received_title": "Hemos recibido su impugnación",
        "received": "Una persona revisará la decisión y su motivo. No tiene que hacer nada más.",
        "already": "Usted ya había impugnado esta decisión. Guardamos una impugnación por decisión; este es su estado.",
        "back": "Volver a la explicación",
        "invalid_title": "Revise su impugnación",
        "forbidden_title": "Este enlace no es válido",
    },
}
STATUS_NAMES = {
    "en": {"received": "received", "in_review": "being reviewed", "upheld": "upheld", "overturned": "overturned"},
    "es": {"received": "recibida", "in_review": "en revisión", "upheld": "confirmada", "overturned": "revocada"},
}


def _page(template: str, language: str, title: str, **context: Any) -> str:
    return pages.render(template, lang=language, title=title, css=pages.trusted(CSS), **context)


def chart(reasons: list[CustomerReason], target: str, labels: dict[str, str], locale: str) -> charts.BarChart:
    """A diverging bar chart of the top contributions, readable by screen readers (title + desc)."""
    rows = reasons[:CHART_ROWS]
    return charts.diverging_bars(
        [
            (r.display_name + (f" ({r.display_value})" if r.display_value else ""), r.weight, signed(r.weight, locale))
            for r in rows
        ],
        chart_id="chart",
        title=labels["chart_title"].format(n=len(rows)),
        desc=labels["chart_desc"].format(target=target),
    )


def _appeal_state(appeal: Appeal, locale: str, labels: dict[str, str]) -> str:
    return labels["appealed"].format(
        date=long_date(parse_timestamp(appeal.created_at).date(), locale),
        status=STATUS_NAMES[language_of(locale)][appeal.status],
        appeal_id=appeal.appeal_id,
    )


def _reason_hint(labels: dict[str, str], locale: str) -> str:
    return labels["reason_hint"].format(max=number(MAX_REASON_LENGTH, locale))


def _record_rows(view: CustomerView, labels: dict[str, str]) -> list[tuple[str, str, str | None]]:
    """(name, shown value, ISO time for a `<time datetime>` or None) of the record section."""
    rows: list[tuple[str, str, str | None]] = [
        (labels["reference"], view.decision_id, None),
        (labels["date"], timestamp(view.decided_at, view.locale), view.decided_at),
    ]
    if view.disclosure is not None:
        rows.append((labels["notice_version"], view.disclosure.notice_id, None))
        model = view.disclosure.model or {}
        if model:
            rows.append((labels["model"], f"{model.get('id', '')} {model.get('version', '')}".strip(), None))
    return rows


def render_view(view: CustomerView, token: str) -> str:
    """The full page for an available, erased or restricted record."""
    labels = LABELS[view.language]
    context: dict[str, Any] = {"view": view, "t": labels, "token": token, "record": _record_rows(view, labels)}
    context.update(chart=None, reasons=[], appeal_state=None, max_reason=MAX_REASON_LENGTH, reason_hint="")
    if view.status != "restricted":
        assert view.disclosure is not None  # set for every record that is not restricted
        assert view.outcome is not None
        if view.reasons:
            target = view.reasons_target or view.outcome.display_name
            context["chart"] = chart(view.reasons, target, labels, view.locale)
            context["reasons"] = [
                {
                    "name": r.display_name,
                    "value": r.display_value or "",
                    "effect": labels[r.direction].format(target=view.reasons_target or ""),
                    "weight": signed(r.weight, view.locale),
                }
                for r in view.reasons[:CHART_ROWS]
            ]
        if view.appeal is not None:
            context["appeal_state"] = _appeal_state(view.appeal, view.locale, labels)
        elif view.outcome.referred:  # no form: the decision is already with a person
            context["appeal_state"] = labels["referred"]
        context["reason_hint"] = _reason_hint(labels, view.locale)
    return _page("customer/view.html", view.language, labels["title"], **context)


def render_appeal_received(appeal: Appeal, created: bool, locale: str, token: str) -> str:
    """The answer to the page's form post: what was recorded, in the decision's language."""
    language = language_of(locale)
    labels = LABELS[language]
    return _page(
        "customer/appeal_received.html",
        language,
        labels["received_title"],
        t=labels,
        created=created,
        appeal_state=_appeal_state(appeal, locale, labels),
        token=token,
    )


def render_invalid_appeal(message: str, locale: str, token: str) -> str:
    language = language_of(locale)
    labels = LABELS[language]
    return _page(
        "customer/invalid_appeal.html",
        language,
        labels["invalid_title"],
        t=labels,
        message=message,
        reason_hint=_reason_hint(labels, locale),
        token=token,
    )


def render_referred_appeal(locale: str, token: str) -> str:
    """The form post's 409 on a decision a person is already making, in the decision's language."""
    return render_invalid_appeal(LABELS[language_of(locale)]["referred"], locale, token)


def render_forbidden(settings: CatalogSettings) -> str:
    """One page for every bad link (wrong, altered, expired, other decision, missing): it reveals nothing.

    The decision's language is unknown without a lookup, so the page is in English and Spanish.
    """
    contact = {lang: settings.operator_text("human_contact", lang).rstrip(". ") for lang in ("en", "es")}
    title = "403 · " + LABELS["en"]["forbidden_title"]
    return _page("customer/forbidden.html", "en", title, en=LABELS["en"], es=LABELS["es"], contact=contact)
