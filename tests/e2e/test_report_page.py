"""The auditor report page over HTTP on the local stack, and `candor audit report --out` writing it to a file."""

from __future__ import annotations

import re
from html import unescape
from html.parser import HTMLParser

import pytest

from functions.api import pages, report_page
from infra import cli
from tests.e2e.report_traffic import APPEALS, report_traffic

pytestmark = pytest.mark.e2e

PATH = "/v1/reports/page"


@pytest.fixture(scope="module")
def traffic(api):
    return report_traffic(api)


def window(traffic) -> dict[str, str]:
    return {"from": traffic["from"], "to": traffic["to"]}


class _Text(HTMLParser):
    """Table rows as lists of cell texts, keyed by the row's header cell."""

    def __init__(self) -> None:
        super().__init__()
        self.rows: list[list[str]] = []
        self._cell: list[str] | None = None

    def handle_starttag(self, tag, attrs):
        if tag == "tr":
            self.rows.append([])
        elif tag in ("td", "th"):
            self._cell = []

    def handle_endtag(self, tag):
        if tag in ("td", "th") and self._cell is not None and self.rows:
            self.rows[-1].append("".join(self._cell).strip())
            self._cell = None

    def handle_data(self, data):
        if self._cell is not None:
            self._cell.append(data)


def rows(html: str) -> list[list[str]]:
    parser = _Text()
    parser.feed(html)
    return parser.rows


def section(html: str, section_id: str) -> str:
    found = re.search(rf'<section aria-labelledby="[^"]+" id="{section_id}">(.*?)</section>', html, re.S)
    assert found is not None, section_id
    return found.group(1)


def test_the_page_shows_the_reports_numbers(api, traffic):
    params = {"model_id": "refund-decision", "attributes": "age_band,gender", "min_group_size": 20, **window(traffic)}
    response = api.call("GET", PATH, role="auditor", params=params)
    assert response.status_code == 200, response.text
    assert response.headers["Content-Type"].startswith("text/html")
    policy = response.headers["Content-Security-Policy"]
    assert policy == report_page.HEADERS["Content-Security-Policy"]
    assert policy.startswith("default-src 'none'; style-src 'sha256-")
    assert response.headers["Cache-Control"] == "no-store"
    html = response.text
    style = re.search(r"<style>(.*?)</style>", html, re.S)
    assert style is not None and pages.style_hash(style.group(1)) in policy  # the policy allows the page's style

    asked = {"model_id": "refund-decision", "attribute": "age_band", "min_group_size": 20, **window(traffic)}
    fairness = api.call("GET", "/v1/reports/fairness", role="auditor", params=asked).json()
    assert fairness["records"] == traffic["decisions"]
    age = {row[0]: row for row in rows(section(html, "fairness-1")) if row}
    for group in fairness["groups"]:
        _, records, favourable, rate, ratio, flagged = age[group["group"]][:6]
        assert int(records) == group["count"]
        assert int(favourable) == group["favourable"]
        assert float(ratio) == pytest.approx(group["impact_ratio"], abs=0.005)
        assert float(rate.rstrip("%")) == pytest.approx(group["selection_rate"] * 100, abs=0.05)
        assert flagged == ("yes" if group["flagged"] else "no")
    assert "65+" in fairness["flagged_groups"]  # the planted proxy bias, named in the page's summary
    assert re.search(r'<dt>Flagged groups of age_band</dt><dd><span class="flag">[^<]*65\+', html)
    assert "<dt>Flagged groups of gender</dt><dd>none</dd>" in html  # the control stays clean

    attributions = api.call("GET", "/v1/reports/attributions", role="auditor", params={
        "model_id": "refund-decision", **window(traffic)}).json()  # fmt: skip
    shown = {row[0]: row for row in rows(section(html, "attributions-section"))}
    for feature in attributions["features"]:
        assert float(shown[feature["display_name"]][1]) == pytest.approx(feature["mean_abs_attribution"], abs=5e-5)
        assert int(shown[feature["display_name"]][2]) == feature["rank"]
    outcomes = {row[0]: int(row[1]) for row in rows(section(html, "outcomes-section")) if row[0] in ("approve", "deny")}
    assert outcomes == attributions["current"]["outcomes"]
    appeals = {row[0]: int(row[1]) for row in rows(section(html, "appeals-section")) if row[1].isdigit()}
    assert appeals == {"received": APPEALS} == attributions["current"]["appeals_by_status"]
    assert '<td class="num">100.0%</td>' in section(html, "disclosure-section")

    assert html.count('role="img"') == 2 * 2 + 4  # per attribute impact and trend; attributions, outcomes...


def test_a_baseline_window_adds_the_baseline_columns(api, traffic):
    params = {"model_id": "refund-decision", **window(traffic)}
    html = api.call("GET", PATH, role="auditor", params={
        **params, "baseline_from": traffic["from"], "baseline_to": traffic["to"]}).text  # fmt: skip
    assert "Baseline rank" in html
    assert "<dt>Outcome PSI vs baseline</dt><dd>0.0000</dd>" in html
    assert 'class="baseline"' in html  # the baseline's bars in the chart


@pytest.mark.parametrize(
    ("params", "status", "field"),
    [
        ({"model_id": "nope"}, 404, None),
        ({"model_id": "refund-decision", "from": "2026-02-01", "to": "2026-01-01"}, 422, "from"),
        ({"model_id": "ticket-router", "attributes": "age_band"}, 422, "attributes"),
        ({"model_id": "refund-decision", "attributes": "age band<script>"}, 422, "query.attributes"),
        ({"model_id": "refund-decision", "baseline_from": "2026-01-01"}, 422, "baseline_from"),
        ({"model_id": "refund-decision", "colour": "red"}, 422, "query.colour"),
    ],
)
def test_bad_requests_get_a_clear_4xx_in_the_error_envelope(api, params, status, field):
    response = api.call("GET", PATH, role="auditor", params=params)
    assert response.status_code == status, response.text
    if field:
        assert response.json()["error"]["field"] == field


def test_only_auditors_see_it(api):
    params = {"model_id": "refund-decision"}
    assert api.call("GET", PATH, role="chatbot", params=params).status_code == 403
    assert api.call("GET", PATH, role="privacy", params=params).status_code == 403
    assert api.call("GET", PATH, role=None, params=params).status_code == 401


def test_an_attribute_no_record_carries_is_said_not_an_error(api, traffic):
    params = {"model_id": "refund-decision", "attributes": "shoe_size", **window(traffic)}
    response = api.call("GET", PATH, role="auditor", params=params)
    assert response.status_code == 200
    assert "No record in this window carries shoe_size." in response.text


def test_the_cli_writes_a_self_contained_file(api, traffic, tmp_path, capsys):
    out = tmp_path / "report.html"
    base = ["audit", "--api", api.stack.api_url, "--token", api.stack.tokens["auditor"]]
    args = ["report", "--model", "refund-decision", "--attribute", "age_band", "--attribute", "gender",
            "--min-group-size", "20", "--from", traffic["from"], "--to", traffic["to"], "--out", str(out)]  # fmt: skip
    assert cli.main([*base, *args]) == 0
    assert f"report written to {out}" in capsys.readouterr().err
    html = out.read_text(encoding="utf-8")
    assert html.startswith("<!doctype html>")
    assert "Fairness: age_band" in html and "Fairness: gender" in html
    meta = re.search(r'<meta http-equiv="Content-Security-Policy" content="([^"]+)">', html)
    assert meta is not None and unescape(meta.group(1)) == report_page.META_POLICY  # the policy travels with the file
    assert not re.search(r"<(script|link|img|iframe)\b", html)
    assert not re.search(r"(src|href)=\"(https?:)?//", html)  # nothing to fetch: it opens offline

    with pytest.raises(SystemExit, match="404"):
        cli.main([*base, "report", "--model", "nope", "--out", str(tmp_path / "never.html")])
    assert not (tmp_path / "never.html").exists()


def test_an_intersection_of_two_attributes(api, traffic):
    params = {"model_id": "refund-decision", "attributes": "age_band:gender", "min_group_size": 5, **window(traffic)}
    response = api.call("GET", PATH, role="auditor", params=params)
    assert response.status_code == 200, response.text
    assert '<h2 id="fairness-1-h">Fairness: age_band:gender</h2>' in response.text
    first_table = re.search(r"<table.*?</table>", section(response.text, "fairness-1"), re.S)
    assert first_table is not None
    groups = [row[0] for row in rows(first_table.group(0))[1:]]  # after the header row
    assert groups and all(" | " in group for group in groups)  # e.g. "65+ | female"
