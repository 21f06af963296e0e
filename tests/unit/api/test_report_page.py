"""The auditor report page and its charts: escaping, structure, and bars and lines where the numbers put them."""

from __future__ import annotations

import itertools
import re

import pytest

from functions.api import charts, pages, report_page
from functions.domain.reports import AttributionTally, attribution_report, fairness_report
from tests.unit.api.html_tags import tags

EVIL = "<script>alert(1)</script>\"'&<img src=x onerror=alert(2)>"
WINDOW = {"from": "2026-08-01T00:00:00.000Z", "to": "2026-08-03T00:00:00.000Z"}
# Selection rates 0.9, 0.6 and 0.75 (of 40 records each): impact ratios 1, 2/3 and 5/6.
RATES = {"young": 36, "old": 24, EVIL: 30}


def items() -> list[dict]:
    rows = []
    for group, favourable in RATES.items():
        for n in range(40):
            rows.append(
                {
                    "outcome": "approve" if n < favourable else "deny",
                    "segments": {"band": group},
                    "attributions": {"amount": 0.5, "channel": -0.25 if n % 2 else 0.0},
                    "notice_id": "n-1",
                }
            )
    return rows


def page(**changes) -> report_page.ReportPage:
    report = fairness_report(
        items(), model_id="m", attributes=["band"], favourable="approve", min_group_size=30, window=WINDOW
    )
    tally, baseline = AttributionTally(), AttributionTally()
    for item in items():
        tally.add(item)
        baseline.add({**item, "attributions": {"amount": 0.1, "channel": 0.4}})
    tally.appeals.update({"received": 2, "upheld": 1})
    names = {"amount": "Amount", "channel": EVIL}
    attributions = attribution_report("m", tally, WINDOW, names, baseline, WINDOW)
    base = report_page.ReportPage(
        model_id="m",
        model_version="1.0.0",
        kind="decision",
        window=WINDOW,
        generated_at="2026-08-03T00:00:01.000Z",
        attributions=attributions,
        fairness=[
            report_page.FairnessSection("band", report, [("2026-08-01", report), ("2026-08-02", None)]),
            report_page.FairnessSection("gender", None, note="No record in this window carries gender."),
        ],
    )
    return base if not changes else report_page.ReportPage(**{**base.__dict__, **changes})


def test_a_hostile_group_label_or_display_name_is_shown_as_text():
    html = report_page.render_report(page())
    names = [t for t, _ in tags(html)]
    assert "script" not in names
    assert "img" not in names
    assert "&lt;script&gt;alert(1)&lt;/script&gt;&quot;&#x27;&amp;&lt;img" in html  # table cells, whole
    assert "<script" not in html
    assert not re.search(r"<(link|script|img|iframe|form)\b", html)


def test_structure_landmarks_headings_and_a_table_after_every_chart():
    html = report_page.render_report(page())
    assert html.startswith("<!doctype html>")
    assert '<html lang="en">' in html
    found = [t for t, _ in tags(html)]
    for landmark in ("header", "nav", "main", "footer"):
        assert found.count(landmark) == 1
    levels = [int(level) for level in re.findall(r"<h([1-6])", html)]
    assert levels[0] == 1 and levels.count(1) == 1
    assert all(b - a <= 1 for a, b in itertools.pairwise(levels))  # no level skipped
    svgs = [attrs for tag, attrs in tags(html) if tag == "svg"]
    # impact ratios, trend, attributions, outcomes, coverage, appeals
    assert len(svgs) == 6
    for svg in svgs:
        assert svg["role"] == "img"
        title, desc = (svg["aria-labelledby"] or "").split()
        assert f'<title id="{title}">' in html and f'<desc id="{desc}">' in html
    for figure in re.findall(r"<figure class=\"chart\".*?</figure>\s*(<[a-z]+)", html, re.S):
        assert figure in ("<table", "<div")  # the trend's wide table sits in a scrolling div
    assert "No record in this window carries gender." in html


def test_the_numbers_are_the_reports_own():
    html = report_page.render_report(page())
    old = r'<th scope="row">old</th><td class="num">40</td><td class="num">24</td><td class="num">60.0%</td>'
    assert re.search(old + r'<td class="num">0.67</td><td><span class="flag">yes', html)
    assert '<th scope="row">young</th><td class="num">40</td><td class="num">36</td>' in html
    assert '<span class="flag">old</span>' in html  # the summary names the flagged group
    assert ">0.5000</td>" in html  # mean |SHAP| of amount
    # Against the baseline (channel first there), amount rose a rank and channel fell one.
    assert re.search(r'<th scope="row">Amount</th><td class="num">0.5000</td><td class="num">1</td>'
                     r'<td class="num">0.1000</td><td class="num">2</td><td class="num">\+1</td>', html)  # fmt: skip
    assert '<th scope="row">received</th><td class="num">2</td><td class="num">66.7%</td>' in html
    assert '<td class="num">120</td><td class="num">100.0%</td>' in html  # disclosure coverage


def test_the_style_is_pinned_by_hash_in_the_header_and_the_meta_policy():
    html = report_page.render_report(page())
    style = re.search(r"<style>(.*?)</style>", html, re.S)
    assert style is not None
    source = pages.style_hash(style.group(1))
    assert source in report_page.HEADERS["Content-Security-Policy"]
    assert "default-src 'none'" in report_page.HEADERS["Content-Security-Policy"]
    meta = next(attrs for tag, attrs in tags(html) if tag == "meta" and attrs.get("http-equiv"))
    assert meta["content"] == report_page.META_POLICY
    assert source in report_page.META_POLICY
    assert "frame-ancestors" not in report_page.META_POLICY  # ignored (and complained about) in a <meta> policy


def test_impact_bars_and_the_four_fifths_line_sit_at_their_values():
    chart = charts.horizontal_bars(
        [("a", 1.0, "1.00", False), ("b", 0.5, "0.50", True)],
        chart_id="c", title="t", desc="d", scale=1.0, reference=(0.8, "0.8"),
    )  # fmt: skip
    left = chart.axis_x
    full = chart.bars[0].width
    assert chart.bars[0].x == chart.bars[1].x == left
    assert chart.bars[1].width == pytest.approx(full / 2, abs=0.1)
    (rule,) = chart.rules
    assert rule.x1 == rule.x2 == pytest.approx(left + 0.8 * full, abs=0.1)
    assert rule.y1 < chart.bars[0].y and rule.y2 > chart.bars[1].y + chart.bars[1].height  # across every bar
    assert chart.bars[0].colour == charts.TOWARDS and chart.bars[1].colour == charts.AGAINST  # flagged in red
    assert chart.bars[0].x + chart.bars[0].width <= chart.width


def test_a_baseline_bar_is_drawn_to_the_same_scale():
    chart = charts.horizontal_bars(
        [("a", 0.2, "", False)], chart_id="c", title="t", desc="d", baseline=[0.4], legend=[("#000", "x")]
    )
    bar = chart.bars[0]
    assert bar.second is not None
    assert bar.second[2] == pytest.approx(2 * bar.width, abs=0.1)  # the scale's end is the largest value, 0.4


def test_trend_lines_place_days_and_values_and_break_at_missing_days():
    chart = charts.trend_lines(
        ["d1", "d2", "d3", "d4"],
        [("g", [1.0, 0.5, None, 0.0])],
        chart_id="t", title="t", desc="d", reference=(0.8, "0.8"),
    )  # fmt: skip
    left, top, right, bottom = chart.plot
    (series,) = chart.series
    xs = [x for x, _ in series.points]
    ys = [y for _, y in series.points]
    assert xs == pytest.approx([left, left + (right - left) / 3, right], abs=0.1)  # d3 has no value: no point
    assert ys == pytest.approx([top, (top + bottom) / 2, bottom], abs=0.1)
    assert len(series.lines) == 1 and len(series.lines[0]) == 2  # d1-d2 joined, d4 alone after the gap
    (rule,) = chart.rules
    assert rule.y1 == rule.y2 == pytest.approx(bottom - 0.8 * (bottom - top), abs=0.1)
    assert [text for _, text in chart.x_ticks] == ["d1", "d3", "d4"]


def test_the_svg_markup_carries_the_geometry():
    html = report_page.render_report(page())
    impact = re.search(r'<figure class="chart" id="impact-1">(.*?)</figure>', html, re.S)
    assert impact is not None
    rects = re.findall(r'<rect x="([\d.]+)" y="[\d.]+" width="([\d.]+)" height="18" fill="(#[0-9a-f]+)"', impact[1])
    assert len(rects) == 3
    widths = {float(w) for _, w, _ in rects}
    line = re.search(r'<line class="reference" x1="([\d.]+)"', impact[1])
    assert line is not None
    left = float(rects[0][0])
    assert float(line[1]) == pytest.approx(left + 0.8 * max(widths), abs=0.2)
    assert sum(fill == charts.AGAINST for _, _, fill in rects) == 1  # only "old" (0.67) is under 0.8


def test_a_misspelt_template_variable_is_an_error_not_an_empty_string():
    from jinja2 import UndefinedError

    with pytest.raises(UndefinedError):
        pages.environment().from_string("{{ nothing_here }}").render()
