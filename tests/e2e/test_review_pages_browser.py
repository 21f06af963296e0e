"""The reviewer's pages in real headless Chromium (Debian's package), driven by Playwright, without JavaScript.

The customer appeals from their page; a reviewer finds the case in the queue page, opens it, claims it
and overturns it with the forms (keyboard only for the verdict); the customer's page then shows the
verdict in their language. The reviewer's requests carry the local stack's bearer token, as a browser
extension or proxy would add it. Screenshots go to test-output/screenshots/ (git-ignored).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.e2e.browser import chromium, screenshot
from tests.e2e.customer import appeal_item, decided

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    yield from chromium()


def _context(browser: Any, **extra: Any) -> Any:
    return browser.new_context(java_script_enabled=False, viewport={"width": 1000, "height": 1200}, **extra)


@pytest.mark.parametrize(("turn", "language"), [("demo-refund-2", "es"), ("demo-refund-1", "en")])
def test_an_appeal_from_the_page_is_resolved_on_the_reviewer_pages_and_shown_to_the_customer(
    api, browser, turn, language
):
    decision_id, _, link = decided(api, turn)
    customer = _context(browser)
    page = customer.new_page()
    page.goto(link)
    page.fill("#reason", "Please have a person look at this")
    with page.expect_navigation():
        page.click("form button[type=submit]")

    reviewer = _context(browser, extra_http_headers={"Authorization": f"Bearer {api.stack.tokens['reviewer']}"})
    messages: list[str] = []
    desk = reviewer.new_page()
    desk.on("console", lambda message: messages.append(f"{message.type}: {message.text}"))
    response = desk.goto(f"{api.stack.api_url}/v1/reviewer/queue?model_id=refund-decision&status=received&limit=200")
    assert response is not None and response.status == 200
    assert desk.get_attribute("html", "lang") == "en"
    assert desk.locator("label[for=status]").is_visible()
    screenshot(desk, f"reviewer-queue-{language}")
    with desk.expect_navigation():
        desk.click(f"a[href='cases/{decision_id}']")
    assert decision_id in desk.inner_text("h1")
    assert desk.inner_text("#appeal-reason") == "Please have a person look at this"
    levels = desk.eval_on_selector_all("h1, h2, h3, h4, h5, h6", "els => els.map(e => e.tagName)")
    assert levels[0] == "H1" and levels.count("H1") == 1 and set(levels[1:]) == {"H2"}

    with desk.expect_navigation():
        desk.click("#verdict form button[type=submit]")  # claim
    assert desk.inner_text("#case-status") == "in_review"
    assert "You hold this case now." in desk.inner_text("#message")

    # The verdict by keyboard: the radio group, the outcome, the reason, then Enter on the button.
    desk.focus("#overturned")
    desk.keyboard.press("Space")
    assert desk.is_checked("#overturned")
    labels = [o for o in desk.eval_on_selector_all("#new_outcome option", "os => os.map(o => o.value)") if o]
    case = api.call("GET", f"/v1/reviews/{decision_id}", role="reviewer").json()
    original = case["record"]["envelope"]["outcome"]["label"]
    new_outcome = next(label for label in labels if label != original)
    desk.select_option("#new_outcome", new_outcome)
    desk.fill("#reason", "Photos show the damage.")
    desk.focus("#verdict form button[type=submit]")
    with desk.expect_navigation():
        desk.keyboard.press("Enter")
    assert "Resolved: overturned" in desk.inner_text("#message")
    assert "Photos show the damage." in desk.inner_text("#review")
    screenshot(desk, f"reviewer-case-{language}")
    assert messages == []  # the CSP let the page's own style through and nothing else was tried

    page.goto(link)
    verdict = page.inner_text("#review-verdict")
    expected = "la revocó" if language == "es" else "overturned it"
    assert expected in verdict and "Photos show the damage." in verdict
    screenshot(page, f"reviewer-verdict-customer-{language}")
    customer.close()
    reviewer.close()


def test_a_bad_verdict_on_the_form_answers_the_page_with_the_reason(api, browser):
    decision_id, token, _ = decided(api, "demo-refund-1")
    api.call("POST", f"/v1/explanations/{decision_id}/appeal", role=None, params={"token": token},
             json={"reason": "check"})  # fmt: skip
    reviewer = _context(browser, extra_http_headers={"Authorization": f"Bearer {api.stack.tokens['reviewer']}"})
    desk = reviewer.new_page()
    desk.goto(f"{api.stack.api_url}/v1/reviewer/cases/{decision_id}")
    with desk.expect_navigation():
        desk.click("#verdict form button[type=submit]")  # claim
    desk.check("#overturned")
    desk.fill("#reason", "No outcome chosen")
    with desk.expect_navigation() as navigation:
        desk.click("#verdict form button[type=submit]")
    assert navigation.value.status == 422
    assert desk.get_attribute("#message", "role") == "alert"
    assert "new_outcome" in desk.inner_text("#message")
    assert appeal_item(api, decision_id)["status"]["S"] == "in_review"
    reviewer.close()
