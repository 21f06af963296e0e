"""The auditor report page in real headless Chromium (Debian's package, `make browser`), driven by Playwright.

Served by the audit API (the local stack's auditor bearer token, as a browser extension or proxy
would add it) and opened as the file `candor audit report --out` saves: the page renders with its
charts, the Content-Security-Policy lets its own style through and nothing else (no console errors),
and the landmarks, headings and keyboard order are sane. Screenshots go to test-output/screenshots/.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlencode

import pytest

from infra import cli
from tests.e2e.browser import chromium, screenshot
from tests.e2e.report_traffic import report_traffic

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def traffic(api):
    return report_traffic(api)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    yield from chromium()


@pytest.fixture
def auditor_page(browser: Any, api: Any) -> Iterator[tuple[Any, list[str]]]:
    """A page without JavaScript, sending the auditor's token, and every console message it logs."""
    context = browser.new_context(
        java_script_enabled=False,
        viewport={"width": 1000, "height": 1200},
        extra_http_headers={"Authorization": f"Bearer {api.stack.tokens['auditor']}"},
    )
    page = context.new_page()
    messages: list[str] = []
    page.on("console", lambda message: messages.append(f"{message.type}: {message.text}"))
    page.on("pageerror", lambda error: messages.append(f"pageerror: {error}"))
    yield page, messages
    context.close()


def check_page(page: Any, messages: list[str], name: str) -> None:
    assert page.get_attribute("html", "lang") == "en"
    assert "Auditor report: refund-decision" in page.inner_text("h1")

    # Charts: images to assistive technology, each named and described, drawn, and followed by its table.
    charts = page.locator("figure.chart svg")
    assert charts.count() == 2 * 2 + 4  # impact ratios and trend per attribute; attributions, outcomes, ...
    for index in range(charts.count()):
        chart = charts.nth(index)
        assert chart.get_attribute("role") == "img"
        title, desc = chart.get_attribute("aria-labelledby").split()
        assert page.locator(f"#{title}").count() == 1 and page.locator(f"#{desc}").count() == 1
        assert chart.bounding_box()["height"] > 20
        assert chart.locator("rect, polyline, circle").count() >= 1
    assert page.locator("#impact-1 svg line.reference").count() == 1  # the 0.8 line
    assert page.locator("#impact-1 svg rect[fill='#b3261e']").count() >= 1  # 65+ under it, in red
    following = page.eval_on_selector_all(
        "figure.chart", "els => els.map(e => e.nextElementSibling && e.nextElementSibling.tagName)"
    )
    assert set(following) <= {"TABLE", "DIV"}  # the trend's wide table scrolls in a div

    # The CSP lets the page's own style through (by hash): the stylesheet applied, and nothing was refused.
    assert page.eval_on_selector("h1", "e => getComputedStyle(e).fontSize") == "25.6px"  # 1.6rem
    assert page.eval_on_selector("main", "e => getComputedStyle(e).maxWidth") == "960px"  # 60rem
    assert [m for m in messages if m.startswith(("error", "pageerror"))] == []

    # Landmarks and headings: one banner, navigation, main and contentinfo; one h1, no level skipped.
    for landmark in ("header", "nav", "main", "footer"):
        assert page.locator(landmark).count() == 1
    assert page.get_attribute("nav", "aria-label")
    tags = page.eval_on_selector_all("h1, h2, h3, h4, h5, h6", "els => els.map(e => e.tagName)")
    levels = [int(tag[1]) for tag in tags]
    assert levels[0] == 1 and levels.count(1) == 1
    assert all(b - a <= 1 for a, b in itertools.pairwise(levels))

    # Keyboard: Tab walks the section links in order, and each leads to its section.
    links = page.locator("nav a")
    for index in range(links.count()):
        page.keyboard.press("Tab")
        focused = page.locator(":focus")
        assert focused.inner_text() == links.nth(index).inner_text()
        assert page.locator(focused.get_attribute("href")).count() == 1
    screenshot(page, name)


def query(traffic: dict[str, Any]) -> dict[str, Any]:
    return {"model_id": "refund-decision", "attributes": "age_band,gender", "min_group_size": 20,
            "from": traffic["from"], "to": traffic["to"]}  # fmt: skip


def test_the_report_page_served_by_the_audit_api(api, traffic, auditor_page):
    page, messages = auditor_page
    response = page.goto(f"{api.stack.api_url}/v1/reports/page?{urlencode(query(traffic))}")
    assert response is not None and response.status == 200
    assert response.headers["content-security-policy"].startswith("default-src 'none'")
    check_page(page, messages, "auditor-report")


def test_the_report_saved_by_the_cli_opens_as_a_file(api, traffic, auditor_page, tmp_path, capsys):
    out = tmp_path / "report.html"
    base = ["audit", "--api", api.stack.api_url, "--token", api.stack.tokens["auditor"]]
    args = ["report", "--model", "refund-decision", "--attribute", "age_band", "--attribute", "gender",
            "--min-group-size", "20", "--from", traffic["from"], "--to", traffic["to"], "--out", str(out)]  # fmt: skip
    assert cli.main([*base, *args]) == 0
    capsys.readouterr()
    page, messages = auditor_page
    page.goto(out.as_uri())
    check_page(page, messages, "auditor-report-file")  # its <meta> policy lets the style through too
