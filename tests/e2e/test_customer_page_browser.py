"""The customer's page in real headless Chromium (Debian's package, `make browser`), driven by Playwright.

For English and Spanish decisions of both bundled models: the page renders with its notice, reasons
and chart; the appeal form posts without JavaScript and the appeal is stored; a bad token shows the
403 page. Screenshots go to test-output/screenshots/ (git-ignored).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.e2e.browser import chromium, screenshot
from tests.e2e.customer import appeal_item, decided

pytestmark = pytest.mark.e2e

CASES = {
    # turn of the demo conversation -> (language, words the page must show)
    "ticket-router-en": ("demo-chat-1", "en", ["You are dealing with an AI system", "Why: the main reasons"]),
    "ticket-router-es": ("demo-chat-2", "es", ["Está tratando con un sistema de IA", "Por qué: los motivos"]),
    "refund-decision-en": ("demo-refund-1", "en", ["Decision: Refund", "Delivery status"]),
    "refund-decision-es": ("demo-refund-2", "es", ["Decisión: Reembolso", "Canal de contacto"]),
}
CONFIRMATION = {"en": "We have received your appeal", "es": "Hemos recibido su impugnación"}


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    yield from chromium()


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    context = browser.new_context(java_script_enabled=False, viewport={"width": 900, "height": 1200})
    yield context.new_page()
    context.close()


@pytest.mark.parametrize("case", sorted(CASES))
def test_the_page_renders_and_the_appeal_form_works(api, page, case):
    turn, language, words = CASES[case]
    decision_id, _, link = decided(api, turn)

    response = page.goto(link)
    assert response is not None and response.status == 200
    assert page.get_attribute("html", "lang") == language
    text = page.inner_text("body")
    for word in words:
        assert word in text
    assert page.locator("#notice .notice strong").inner_text().strip()
    assert page.locator("#summary").inner_text().strip()
    assert decision_id in page.inner_text("#record")

    # The chart: an image to assistive technology, named by its title and described, with bars drawn.
    chart = page.locator("#chart svg")
    assert chart.get_attribute("role") == "img"
    assert chart.get_attribute("aria-labelledby") == "chart-title chart-desc"
    assert page.locator("#chart svg rect").count() >= 1
    assert chart.bounding_box()["height"] > 20
    assert page.locator("#reasons-table tbody tr").count() == page.locator("#chart svg rect").count()

    # Headings in order: one h1, then h2s only.
    levels = page.eval_on_selector_all("h1, h2, h3, h4, h5, h6", "els => els.map(e => e.tagName)")
    assert levels[0] == "H1"
    assert levels.count("H1") == 1
    assert set(levels[1:]) == {"H2"}
    # The form's control has a visible label.
    assert page.locator("label[for=reason]").is_visible()
    screenshot(page, f"{case}-page")

    page.fill("#reason", "I disagree: <b>please</b> have a person look at this")
    with page.expect_navigation():
        page.click("form button[type=submit]")
    assert CONFIRMATION[language] in page.inner_text("h1")
    assert page.get_attribute("html", "lang") == language
    screenshot(page, f"{case}-appeal")

    item = appeal_item(api, decision_id)
    assert item is not None
    assert item["status"]["S"] == "received"
    assert item["reason"]["S"] == "I disagree: <b>please</b> have a person look at this"

    # Back on the page the form is replaced by the appeal's state.
    page.goto(link)
    assert page.locator("#appeal-status").is_visible()
    assert page.locator("form").count() == 0


@pytest.mark.parametrize("case", ["ticket-router-en", "refund-decision-es"])
def test_a_bad_token_shows_the_403_page(api, page, case):
    turn, _, _ = CASES[case]
    decision_id, token, link = decided(api, turn)
    response = page.goto(link.replace(token, token[:-3] + "xyz"))
    assert response is not None and response.status == 403
    assert "This link is not valid" in page.inner_text("h1")
    assert "Este enlace no es válido" in page.inner_text("body")
    assert decision_id not in page.content()
    screenshot(page, f"{case}-forbidden")


def test_markup_in_the_message_is_shown_as_text_in_the_browser(api, page):
    message = "<script>document.title='pwned'</script><b id=injected>bold</b> I was charged twice"
    _, _, link = decided(api, "demo-chat-1", inputs={"text": message})
    page.goto(link)
    assert page.title() != "pwned"
    assert page.locator("#injected").count() == 0
    assert "<script>document.title='pwned'</script>" in page.inner_text("#data-used")


@pytest.mark.parametrize("language", ["en", "es"])
def test_a_referred_decision_says_a_person_will_decide_and_offers_no_form(api, page, language):
    from tests.e2e.test_referrals import large_denial

    model_id, request = large_denial(locale="en-GB" if language == "en" else "es-ES")
    response = api.decide(model_id, request)
    assert response.status_code == 200 and response.json()["outcome"]["status"] == "referred"
    link = response.json()["links"]["customer_view"]

    assert page.goto(link).status == 200
    assert page.get_attribute("html", "lang") == language
    outcome = page.locator("#outcome .outcome").inner_text()
    assert outcome.startswith("A person from our team" if language == "en" else "Una persona de nuestro equipo")
    assert page.locator("form").count() == 0 and page.locator("#why").count() == 0  # no reasons, no form
    assert page.locator("#appeal-status").is_visible()
    text = page.inner_text("body")
    assert "Refund denied" not in text and "Reembolso denegado" not in text
    levels = page.eval_on_selector_all("h1, h2, h3, h4, h5, h6", "els => els.map(e => e.tagName)")
    assert levels.count("H1") == 1 and set(levels[1:]) == {"H2"}
    screenshot(page, f"refund-decision-referred-{language}-page")
