"""The customer's "why this answer" page: server-rendered HTML, no scripts, no external assets.

Every value that came from the request, the model or the store goes through `html.escape`
(`_e`); the only markup is this module's own. Accessibility: `lang` from the decision, one h1
then h2s in order, labelled form controls, text on white at 4.5:1 or more, and the chart is an
inline SVG with `role="img"`, a title and description, followed by the same numbers as a table.
"""

from __future__ import annotations

import base64
import hashlib
from html import escape
from string import Template

from functions.domain.formatting import long_date, number, parse_timestamp, signed, timestamp
from functions.domain.presentation import language_of
from functions.schemas.customer import MAX_REASON_LENGTH, Appeal, CustomerReason, CustomerView
from functions.schemas.settings import CatalogSettings

CHART_ROWS = 8
TOWARDS, AGAINST, INK, MUTED = "#1a5fb4", "#b3261e", "#1f1f1f", "#4d4d4d"  # 6.3, 6.2, 16.6, 8.5 : 1 on white

CSS = f"""
body{{margin:0;font:1rem/1.5 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:{INK};background:#fff}}
main{{max-width:46rem;margin:0 auto;padding:1rem 1.25rem 3rem}}
h1{{font-size:1.6rem;margin:.5rem 0 1rem}}
h2{{font-size:1.2rem;margin:2rem 0 .5rem;border-top:1px solid #c4c4c4;padding-top:1rem}}
.notice{{border:2px solid {TOWARDS};border-radius:6px;padding:.75rem 1rem;background:#f0f5fc}}
.notice strong{{display:block;font-size:1.05rem}}
.outcome{{font-size:1.1rem;font-weight:600}}
.muted{{color:{MUTED}}}
table{{border-collapse:collapse;width:100%;margin:.5rem 0}}
th,td{{text-align:left;padding:.35rem .5rem;border-bottom:1px solid #c4c4c4;vertical-align:top}}
td.num{{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}}
caption{{text-align:left;font-weight:600;padding:.25rem 0}}
dl{{display:grid;grid-template-columns:max-content 1fr;gap:.25rem 1rem}}
dt{{font-weight:600}}
dd{{margin:0;overflow-wrap:anywhere}}
figure{{margin:1rem 0}} svg{{max-width:100%;height:auto}}
label{{display:block;font-weight:600;margin:.5rem 0 .25rem}}
textarea{{width:100%;box-sizing:border-box;font:inherit;padding:.5rem;border:2px solid {MUTED};border-radius:4px}}
textarea:focus,button:focus,a:focus{{outline:3px solid {TOWARDS};outline-offset:2px}}
button{{font:inherit;font-weight:600;color:#fff;background:{TOWARDS};border:0;border-radius:4px;
padding:.6rem 1.2rem;margin-top:.5rem;cursor:pointer}}
a{{color:{TOWARDS}}}
.status{{border-left:4px solid {AGAINST};padding:.5rem 1rem;background:#fdf3f2}}
""".strip()
CSS_HASH = base64.b64encode(hashlib.sha256(CSS.encode()).digest()).decode()

HEADERS = {
    # Only our inline style (by hash); no scripts, no images, no frames; forms post back here only.
    "Content-Security-Policy": f"default-src 'none'; style-src 'sha256-{CSS_HASH}'; form-action 'self'; "
    "base-uri 'none'; frame-ancestors 'none'",
    "Referrer-Policy": "no-referrer",  # the token is in the URL: never send it on
    "Cache-Control": "no-store",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
}

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

_PAGE = Template(
    """<!doctype html>
<html lang="$lang">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<meta name="robots" content="noindex, nofollow">
<title>$title</title>
<style>$css</style>
</head>
<body>
<main>
$body
</main>
</body>
</html>
"""
)


def _e(value: object) -> str:
    return escape(str(value), quote=True)


def _page(lang: str, title: str, body: str) -> str:
    return _PAGE.substitute(lang=_e(lang), title=_e(title), css=CSS, body=body)


def _when(iso: str, locale: str) -> str:
    """A stored time in the reader's words; the ISO form stays in the attribute for machines."""
    return f'<time datetime="{_e(iso)}">{_e(timestamp(iso, locale))}</time>'


def _short(text: str, limit: int = 30) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "\u2026"


def chart_svg(reasons: list[CustomerReason], target: str, labels: dict[str, str], locale: str) -> str:
    """A diverging bar chart of the top contributions, readable by screen readers (title + desc)."""
    rows = reasons[:CHART_ROWS]
    width, label_w, row_h, top = 680, 250, 30, 10
    zero = label_w + (width - label_w) // 2
    half = (width - label_w) // 2 - 60
    largest = max((abs(r.weight) for r in rows), default=1.0) or 1.0
    height = top * 2 + row_h * len(rows)
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" role="img" aria-labelledby="chart-title chart-desc" '
        f'viewBox="0 0 {width} {height}" width="{width}" height="{height}">',
        f'<title id="chart-title">{_e(labels["chart_title"].format(n=len(rows)))}</title>',
        f'<desc id="chart-desc">{_e(labels["chart_desc"].format(target=target))}</desc>',
        f'<line x1="{zero}" y1="0" x2="{zero}" y2="{height}" stroke="{MUTED}" stroke-width="1"/>',
    ]
    for index, reason in enumerate(rows):
        y = top + index * row_h
        length = max(2, round(abs(reason.weight) / largest * half))
        towards = reason.weight >= 0
        x = zero if towards else zero - length
        name = reason.display_name + (f" ({reason.display_value})" if reason.display_value else "")
        value_x = zero + length + 6 if towards else zero - length - 6
        parts += [
            f'<text x="{label_w - 8}" y="{y + 19}" text-anchor="end" font-size="14" fill="{INK}">'
            f"{_e(_short(name))}</text>",
            f'<rect x="{x}" y="{y + 6}" width="{length}" height="18" fill="{TOWARDS if towards else AGAINST}"/>',
            f'<text x="{value_x}" y="{y + 19}" text-anchor="{"start" if towards else "end"}" font-size="13" '
            f'fill="{INK}">{_e(signed(reason.weight, locale))}</text>',
        ]
    parts.append("</svg>")
    return "\n".join(parts)


def _reasons_table(view: CustomerView, labels: dict[str, str]) -> str:
    target = view.reasons_target or ""
    rows = "\n".join(
        f'<tr><th scope="row">{_e(r.display_name)}</th><td>{_e(r.display_value or "")}</td>'
        f"<td>{_e(labels[r.direction].format(target=target))}</td>"
        f'<td class="num">{_e(signed(r.weight, view.locale))}</td></tr>'
        for r in view.reasons[:CHART_ROWS]
    )
    return (
        f'<table id="reasons-table"><caption>{_e(labels["table_caption"])}</caption>'
        f'<thead><tr><th scope="col">{_e(labels["factor"])}</th><th scope="col">{_e(labels["value"])}</th>'
        f'<th scope="col">{_e(labels["effect"])}</th><th scope="col">{_e(labels["weight"])}</th></tr></thead>'
        f"<tbody>{rows}</tbody></table>"
    )


def _appeal_state(appeal: Appeal, locale: str, labels: dict[str, str]) -> str:
    return labels["appealed"].format(
        date=long_date(parse_timestamp(appeal.created_at).date(), locale),
        status=STATUS_NAMES[language_of(locale)][appeal.status],
        appeal_id=appeal.appeal_id,
    )


def _reason_hint(labels: dict[str, str], locale: str) -> str:
    return labels["reason_hint"].format(max=number(MAX_REASON_LENGTH, locale))


def _appeal_form(view: CustomerView, token: str, labels: dict[str, str]) -> str:
    if view.appeal is not None:
        return f'<p class="status" id="appeal-status">{_e(_appeal_state(view.appeal, view.locale, labels))}</p>'
    # Relative action: resolves to .../<decision_id>/appeal under whatever host and stage served this page.
    return (
        f'<form method="post" action="appeal?token={_e(token)}" accept-charset="utf-8">'
        f'<label for="reason">{_e(labels["reason_label"])}</label>'
        f'<textarea id="reason" name="reason" rows="6" required maxlength="{MAX_REASON_LENGTH}" '
        f'aria-describedby="reason-hint"></textarea>'
        f'<p id="reason-hint" class="muted">{_e(_reason_hint(labels, view.locale))}</p>'
        f'<button type="submit">{_e(labels["send"])}</button></form>'
    )


def render_view(view: CustomerView, token: str) -> str:
    """The full page for an available, erased or restricted record."""
    labels = LABELS[view.language]
    out: list[str] = [f"<h1>{_e(labels['title'])}</h1>"]
    if view.status == "restricted":
        out += [
            f'<p class="status" id="status-note">{_e(view.status_note)}</p>',
            f'<h2 id="human">{_e(labels["human"])}</h2><p>{_e(view.human_contact)}</p>',
        ]
        out += _record_section(view, labels)
        return _page(view.language, labels["title"], "\n".join(out))

    notice, outcome = view.disclosure, view.outcome
    assert notice is not None  # set for every record that is not restricted
    assert outcome is not None
    notice_parts = [notice.notice, notice.purpose, notice.decision_kind or "", notice.caveat]
    out += [
        f'<section aria-labelledby="notice-h" id="notice"><h2 id="notice-h">{_e(labels["notice"])}</h2>',
        f'<div class="notice"><strong>{_e(notice_parts[0])}</strong>',
        *(f"<p>{_e(text)}</p>" for text in notice_parts[1:] if text),
        "</div></section>",
        f'<section aria-labelledby="outcome-h" id="outcome"><h2 id="outcome-h">{_e(labels["outcome"])}</h2>',
        f'<p class="outcome">{_e(outcome.statement)}</p></section>',
        f'<section aria-labelledby="why-h" id="why"><h2 id="why-h">{_e(labels["why"])}</h2>',
        f'<p id="summary">{_e(view.summary or "")}</p>',
    ]
    if view.reasons:
        target = view.reasons_target or outcome.display_name
        out += [
            f'<figure id="chart">{chart_svg(view.reasons, target, labels, view.locale)}</figure>',
            _reasons_table(view, labels),
            f'<p class="muted">{_e(labels["units"])}</p>',
        ]
    out.append("</section>")

    out.append(f'<section aria-labelledby="data-h" id="data"><h2 id="data-h">{_e(labels["data"])}</h2>')
    if view.data_used is None:
        out.append(f'<p class="status" id="status-note">{_e(view.status_note or "")}</p>')
    else:
        items = "".join(f"<dt>{_e(d.name)}</dt><dd>{_e(d.value)}</dd>" for d in view.data_used)
        out.append(f'<dl id="data-used">{items}</dl><p class="muted">{_e(labels["message"])}</p>')
    out += [
        f"<p>{_e(notice.data_use)}</p><p>{_e(notice.retention)}</p>",
        f'<p><a href="{_e(notice.policy_url)}" rel="noreferrer">{_e(labels["policy"])}</a></p></section>',
        f'<section aria-labelledby="human-h" id="human"><h2 id="human-h">{_e(labels["human"])}</h2>',
        f"<p>{_e(notice.human_contact)}</p></section>",
        f'<section aria-labelledby="contest-h" id="contest"><h2 id="contest-h">{_e(labels["contest"])}</h2>',
        f"<p>{_e(view.how_to_contest)}</p><p>{_e(notice.rights)}</p>",
        _appeal_form(view, token, labels),
        "</section>",
    ]
    out += _record_section(view, labels)
    return _page(view.language, labels["title"], "\n".join(out))


def _record_section(view: CustomerView, labels: dict[str, str]) -> list[str]:
    rows = [(labels["reference"], _e(view.decision_id)), (labels["date"], _when(view.decided_at, view.locale))]
    if view.disclosure is not None:
        rows.append((labels["notice_version"], _e(view.disclosure.notice_id)))
        model = view.disclosure.model or {}
        if model:
            rows.append((labels["model"], _e(f"{model.get('id', '')} {model.get('version', '')}".strip())))
    items = "".join(f"<dt>{_e(name)}</dt><dd>{value}</dd>" for name, value in rows)
    return [
        f'<section aria-labelledby="record-h" id="record"><h2 id="record-h">{_e(labels["record"])}</h2>',
        f"<dl>{items}</dl></section>",
    ]


def render_appeal_received(appeal: Appeal, created: bool, locale: str, token: str) -> str:
    """The answer to the page's form post: what was recorded, in the decision's language."""
    language = language_of(locale)
    labels = LABELS[language]
    title = labels["received_title"]
    body = [
        f"<h1>{_e(title)}</h1>",
        f'<p id="appeal-status">{_e(labels["received"] if created else labels["already"])}</p>',
        f'<p class="status">{_e(_appeal_state(appeal, locale, labels))}</p>',
        f'<p><a href="view?token={_e(token)}">{_e(labels["back"])}</a></p>',
    ]
    return _page(language, title, "\n".join(body))


def render_invalid_appeal(message: str, locale: str, token: str) -> str:
    language = language_of(locale)
    labels = LABELS[language]
    hint = _reason_hint(labels, locale)
    body = [
        f"<h1>{_e(labels['invalid_title'])}</h1>",
        f'<p class="status" id="error">{_e(message)}</p><p>{_e(hint)}</p>',
        f'<p><a href="view?token={_e(token)}">{_e(labels["back"])}</a></p>',
    ]
    return _page(language, labels["invalid_title"], "\n".join(body))


def render_forbidden(settings: CatalogSettings) -> str:
    """One page for every bad link (wrong, altered, expired, other decision, missing): it reveals nothing.

    The decision's language is unknown without a lookup, so the page is in English and Spanish.
    """
    contact = {lang: _e(settings.operator_text("human_contact", lang).rstrip(". ")) for lang in ("en", "es")}
    body = f"""<h1>{_e(LABELS["en"]["forbidden_title"])}</h1>
<p id="forbidden">This link is not valid, or it has expired (links to explanations last 90 days).
To see why an answer was given, or to contest a decision, contact a person: {contact["en"]}.</p>
<section lang="es" aria-labelledby="es-h"><h2 id="es-h">{_e(LABELS["es"]["forbidden_title"])}</h2>
<p>Este enlace no es válido o ha caducado (los enlaces a las explicaciones duran 90 días).
Para saber por qué se dio una respuesta, o para impugnar una decisión, contacte con una persona: {contact["es"]}.</p>
</section>"""
    return _page("en", "403 · " + LABELS["en"]["forbidden_title"], body)
