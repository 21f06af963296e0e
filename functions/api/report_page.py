"""The auditor's report as a page: server-rendered HTML, no scripts, charts as inline SVG.

The numbers are the fairness and attribution reports' own (`functions/domain/reports.py`, as the
JSON routes answer them); this module only lays them out: a chart per measure, each followed by
a table of the same numbers, in `functions/templates/report.html`. The page is self-contained (one
inline stylesheet, allowed by its hash), so the same bytes work served by the audit API and saved
to a file by `candor audit report --out report.html`; the policy is repeated in a `<meta>` for the
saved file, without the directives a `<meta>` policy may not carry.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from functions.api import charts, pages
from functions.domain.reports import FOUR_FIFTHS, AttributionReport, FairnessReport

LOCALE = "en"  # auditors read the report in English, with English number formats
CSS = pages.stylesheet("report.css")
HEADERS = pages.security_headers(CSS, form_action="'none'")
META_POLICY = f"default-src 'none'; style-src {pages.style_hash(CSS)}; base-uri 'none'; form-action 'none'"
THRESHOLD_LABEL = f"{FOUR_FIFTHS:g}"


@dataclass(frozen=True)
class FairnessSection:
    """One segment attribute (or intersection): the window's report, and one report per day for the trend."""

    attribute: str
    report: FairnessReport | None
    days: Sequence[tuple[str, FairnessReport | None]] = ()
    note: str | None = None  # why there is no report (no record carries the attribute)


@dataclass(frozen=True)
class ReportPage:
    model_id: str
    model_version: str
    kind: str
    window: dict[str, str]
    generated_at: str
    attributions: AttributionReport
    fairness: Sequence[FairnessSection] = field(default_factory=list)


def number(value: float, locale: str, *, decimals: int = 0) -> str:
    """Babel's number format, imported on the first page rendered: the audit function's JSON routes do without it."""
    from functions.domain.formatting import number as formatted

    return formatted(value, locale, decimals=decimals)


def ratio(value: float | None) -> str:
    return "—" if value is None else number(value, LOCALE, decimals=2)


def percent(value: float | None) -> str:
    return "—" if value is None else number(value * 100, LOCALE, decimals=1) + "%"


def ratio4(value: float) -> str:
    return number(value, LOCALE, decimals=4)


def count(value: int) -> str:
    return number(value, LOCALE)


def impact_chart(section: FairnessSection, report: FairnessReport, index: int) -> charts.BarChart:
    return charts.horizontal_bars(
        [
            (g.group, g.impact_ratio or 0.0, f"{ratio(g.impact_ratio)} · SR {percent(g.selection_rate)}", g.flagged)
            for g in report.groups
        ],
        chart_id=f"impact-{index}",
        title=f"Impact ratio per group of {section.attribute}",
        desc=f"Horizontal bars, one per group, from 0 to 1: the group's selection rate divided by the most favoured "
        f"group's. The dashed line marks {THRESHOLD_LABEL} (the four-fifths rule); red bars are below it. "
        "The table after the chart gives the same numbers.",
        scale=1.0,
        reference=(FOUR_FIFTHS, THRESHOLD_LABEL),
    )


def trend(section: FairnessSection, report: FairnessReport, index: int) -> tuple[charts.LineChart, list[str]]:
    """Impact ratio per group and day, for the window's reportable groups; a day without a rate is a gap."""
    groups = [g.group for g in report.groups]
    days = [day for day, _ in section.days]
    by_day = [{g.group: g for g in (daily.groups if daily else [])} for _, daily in section.days]
    series = [(group, [rates[group].impact_ratio if group in rates else None for rates in by_day]) for group in groups]
    chart = charts.trend_lines(
        days,
        series,
        chart_id=f"trend-{index}",
        title=f"Impact ratio per day and group of {section.attribute}",
        desc=f"Line chart: one line per group, days from left to right, impact ratio from 0 up. The dashed line "
        f"marks {THRESHOLD_LABEL}. A gap is a day on which the group had too few records for a rate. The table "
        "after the chart gives the same numbers.",
        reference=(FOUR_FIFTHS, THRESHOLD_LABEL),
    )
    return chart, groups


def _trend_rows(section: FairnessSection, groups: list[str]) -> list[dict[str, Any]]:
    rows = []
    for day, daily in section.days:
        rates = {g.group: g for g in (daily.groups if daily else [])}
        cells = [
            f"{ratio(rates[g].impact_ratio)} ({percent(rates[g].selection_rate)}, n={count(rates[g].count)})"
            if g in rates
            else "—"
            for g in groups
        ]
        rows.append({"day": day, "records": count(daily.records) if daily else "0", "cells": cells})
    return rows


def _fairness_context(section: FairnessSection, index: int) -> dict[str, Any]:
    report = section.report
    if report is None:
        return {"attribute": section.attribute, "report": None, "note": section.note or "no report"}
    trend_chart, groups = trend(section, report, index)
    return {
        "attribute": section.attribute,
        "report": report,
        "note": section.note,
        "index": index,
        "chart": impact_chart(section, report, index) if report.groups else None,
        "groups": [
            {
                "name": g.group,
                "count": count(g.count),
                "favourable": count(g.favourable),
                "rate": percent(g.selection_rate),
                "ratio": ratio(g.impact_ratio),
                "flagged": g.flagged,
            }
            for g in report.groups
        ],
        "parity": ratio(report.demographic_parity_difference),
        "trend": trend_chart if groups and section.days else None,
        "trend_groups": groups,
        "trend_rows": _trend_rows(section, groups),
        "small": [(s.group, count(s.count), count(s.favourable)) for s in report.small_groups],
        "unknown": count(report.unknown),
    }


def _attribution_context(report: AttributionReport) -> dict[str, Any]:
    features = report.features
    has_baseline = report.baseline is not None
    legend = [(charts.TOWARDS, "this window"), (charts.MUTED, "baseline")] if has_baseline else []
    chart = charts.horizontal_bars(
        [(f.display_name, f.mean_abs_attribution, ratio4(f.mean_abs_attribution), False) for f in features],
        chart_id="attributions",
        title="Mean |SHAP value| per feature" + (", against the baseline" if has_baseline else ""),
        desc="Horizontal bars, one per feature, longest = weighed most on average (absolute SHAP value, in the "
        "model's output units)."
        + (" The thin grey bar under each is the baseline window's mean." if has_baseline else "")
        + " The table after the chart gives the same numbers.",
        baseline=[f.baseline_mean_abs_attribution for f in features] if has_baseline else None,
        legend=legend,
    )
    return {
        "chart": chart if features else None,
        "has_baseline": has_baseline,
        "rows": [
            {
                "name": f.display_name,
                "feature": f.feature,
                "mean": ratio4(f.mean_abs_attribution),
                "rank": f.rank,
                "baseline": "—" if f.baseline_mean_abs_attribution is None else ratio4(f.baseline_mean_abs_attribution),
                "baseline_rank": "—" if f.baseline_rank is None else f.baseline_rank,
                "change": "—" if f.rank_change is None else f"{f.rank_change:+d}",
            }
            for f in features
        ],
    }


def _counts_chart(counts: dict[str, int], *, chart_id: str, title: str, what: str) -> charts.BarChart | None:
    total = sum(counts.values())
    if not total:
        return None
    return charts.horizontal_bars(
        [(label, n, f"{count(n)} ({percent(n / total)})", False) for label, n in sorted(counts.items())],
        chart_id=chart_id,
        title=title,
        desc=f"Horizontal bars, one per {what}, longest = most records. The table after the chart gives the same "
        "numbers.",
    )


def _shares(counts: dict[str, int]) -> list[tuple[str, str, str]]:
    total = sum(counts.values()) or 1
    return [(label, count(n), percent(n / total)) for label, n in sorted(counts.items())]


def render_report(page: ReportPage) -> str:
    current = page.attributions.current
    coverage = current.disclosure_coverage
    coverage_chart = None
    if coverage is not None:
        coverage_chart = charts.horizontal_bars(
            [("with a notice", coverage, percent(coverage), coverage < 1)],
            chart_id="coverage",
            title="Disclosure coverage",
            desc="One bar from 0 to 100%: the share of the window's decisions that carried an AI-disclosure notice; "
            "red when under 100%. The table after the chart gives the same number.",
            scale=1.0,
        )
    return pages.render(
        "report.html",
        lang="en",
        title=f"Auditor report: {page.model_id}",
        css=pages.trusted(CSS),
        policy=META_POLICY,
        page=page,
        current=current,
        baseline=page.attributions.baseline,
        psi=None if page.attributions.outcome_psi is None else ratio4(page.attributions.outcome_psi),
        records=count(current.records),
        coverage=percent(coverage),
        coverage_chart=coverage_chart,
        fairness=[_fairness_context(section, index) for index, section in enumerate(page.fairness, start=1)],
        attribution=_attribution_context(page.attributions),
        outcomes_chart=_counts_chart(current.outcomes, chart_id="outcomes", title="Outcomes", what="outcome"),
        outcomes=_shares(current.outcomes),
        appeals_chart=_counts_chart(
            current.appeals_by_status, chart_id="appeals", title="Appeals by status", what="status"
        ),
        appeals=_shares(current.appeals_by_status),
        conventions={**page.attributions.conventions, **_fairness_conventions(page)},
    )


def _fairness_conventions(page: ReportPage) -> dict[str, str]:
    for section in page.fairness:
        if section.report is not None:
            return section.report.conventions
    return {}
