"""The customer page's HTML: escaping, structure, accessibility hooks. No network: a view built in memory."""

from __future__ import annotations

import re

from functions.api.customer_page import CSS_HASH, HEADERS, render_appeal_received, render_forbidden, render_view
from functions.domain.disclosure import NoticeCatalogue, OperatorProfile
from functions.schemas.customer import Appeal, CustomerLinks, CustomerOutcome, CustomerReason, CustomerView, DataUsed
from functions.schemas.settings import CatalogSettings
from tests.unit.api.html_tags import tags

EVIL = "<script>alert(1)</script>\"'&<img src=x onerror=alert(2)>"
OPERATOR = OperatorProfile(
    name="Acme <b>Retail</b>", ai_system_name="Bot", human_contact="call 900", policy_url="https://example.com/p"
)


def view(**changes) -> CustomerView:
    notice = NoticeCatalogue.load().notice(
        locale="es-ES", jurisdiction="EU", operator=OPERATOR, model={"id": "m", "version": "1"}, kind="decision"
    )
    base = CustomerView(
        decision_id="01JF0000000000000000000000",
        decided_at="2026-08-03T09:00:00.000Z",
        language="es",
        locale="es-ES",
        status="available",
        disclosure=notice,
        outcome=CustomerOutcome(
            label="deny", display_name="Reembolso denegado", statement=EVIL, automated_decision=True, adverse=True
        ),
        summary=EVIL,
        reasons_target=EVIL,
        reasons=[
            CustomerReason(display_name=EVIL, display_value=EVIL, weight=1.5, direction="towards"),
            CustomerReason(display_name="b", weight=-0.5, direction="against"),
        ],
        data_used=[DataUsed(name="Su mensaje", value=EVIL)],
        human_contact="call 900.",
        how_to_contest=EVIL,
        links=CustomerLinks(view="/v", appeal="/a"),
    )
    return base.model_copy(update=changes)


def test_everything_from_the_model_or_the_request_is_escaped():
    html = render_view(view(), token='tok"><script>x</script>')
    names = [t for t, _ in tags(html)]
    assert "script" not in names
    assert "img" not in names
    assert "b" not in names  # the operator name's markup too
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert 'action="appeal?token=tok&quot;&gt;&lt;script&gt;x&lt;/script&gt;"' in html


def test_structure_lang_headings_labels_and_chart():
    html = render_view(view(), token="t")
    assert html.startswith("<!doctype html>")
    assert '<html lang="es">' in html
    headings = re.findall(r"<h([1-6])", html)
    assert headings[0] == "1"
    assert headings.count("1") == 1
    assert set(headings[1:]) == {"2"}
    found = tags(html)
    svg = next(attrs for tag, attrs in found if tag == "svg")
    assert svg["role"] == "img"
    assert svg["aria-labelledby"] == "chart-title chart-desc"
    assert ("title", {"id": "chart-title"}) in found
    assert ("desc", {"id": "chart-desc"}) in found
    assert sum(1 for tag, _ in found if tag == "rect") == 2
    textarea = next(attrs for tag, attrs in found if tag == "textarea")
    assert ("label", {"for": textarea["id"]}) in found
    assert textarea["maxlength"] == "2000"
    assert "\u22120,500" in html  # Spanish decimals, a real minus sign


def test_no_external_assets_and_the_style_is_pinned_by_hash():
    html = render_view(view(), token="t")
    assert "http://" not in html.replace('xmlns="http://www.w3.org/2000/svg"', "")
    assert not re.search(r"<(link|script|img|iframe)\b", html)
    assert f"'sha256-{CSS_HASH}'" in HEADERS["Content-Security-Policy"]
    assert "default-src 'none'" in HEADERS["Content-Security-Policy"]


def test_an_erased_record_says_so_and_a_restricted_one_shows_nothing_else():
    erased = render_view(view(status="erased", data_used=None, status_note="borrado"), token="t")
    assert "borrado" in erased
    assert 'id="data-used"' not in erased
    restricted = render_view(
        view(status="restricted", status_note="limitado", disclosure=None, outcome=None, reasons=[], data_used=None),
        token="t",
    )
    assert "limitado" in restricted
    assert "<svg" not in restricted
    assert "<form" not in restricted


def test_an_existing_appeal_replaces_the_form():
    appeal = Appeal(appeal_id="A1", decision_id="D", status="in_review", reason=EVIL, created_at="2026-08-04T10:00:00Z")
    html = render_view(view(appeal=appeal), token="t")
    assert "<form" not in html
    assert "en revisión" in html
    confirmation = render_appeal_received(appeal, created=False, locale="en-GB", token="t")
    assert '<html lang="en">' in confirmation
    assert "already contested" in confirmation


def test_the_forbidden_page_reveals_nothing_and_speaks_both_languages():
    html = render_forbidden(CatalogSettings())
    assert "This link is not valid" in html
    assert 'lang="es"' in html
    assert "01JF" not in html
    english, spanish = html.split('<section lang="es"')
    assert "Write &#x27;agent&#x27; in the chat" in english
    assert "Escriba «agente» en el chat" in spanish
    assert "Write" not in spanish


def test_numbers_and_dates_follow_the_decisions_locale():
    appeal = Appeal(appeal_id="A1", decision_id="D", status="received", reason="r", created_at="2026-08-04T10:00:00Z")
    spain = render_view(view(appeal=appeal), token="t")
    assert "+1,500" in spain and "\u22120,500" in spain
    assert ">3 de agosto de 2026, 9:00 UTC</time>" in spain
    assert 'datetime="2026-08-03T09:00:00.000Z"' in spain  # the machine form stays for machines
    assert "el 4 de agosto de 2026." in spain
    assert "Hasta 2.000 caracteres" in render_view(view(), token="t")
    mexico = render_view(view(locale="es-MX"), token="t")
    assert "+1.500" in mexico  # es-MX writes a decimal point
    assert "9:00\u202fa.m. UTC" in mexico
    english = render_view(view(language="en", locale="en-GB"), token="t")
    assert ">3 August 2026, 09:00 UTC</time>" in english
    assert "\u22120.500" in english
    assert "Up to 2,000 characters" in english
