"""Monitors: a model's fairness and attribution reports checked against thresholds and a baseline, hourly.

The numbers are those of the auditors' reports (functions/domain/reports.py, fed by the same
rollups and index edges); this module only judges them. A check is `ok`, `violated`, or
`not_enough_data`: groups below the minimum size, or windows with too few records, are never
a violation, so a quiet hour cannot raise a false alarm.

Attribution drift is measured as SageMaker Clarify's feature-attribution drift is: the NDCG of
the current ranking of features by mean |SHAP| against the baseline's (Clarify alerts below
0.90), with Spearman's rank correlation beside it.

Each run's `MonitoringReport` is sealed and signed like an integrity digest and chained to the
model's previous report (functions/stores/monitoring_store.py). Plain Python, no AWS.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from functions.domain.integrity import SIGNING_ALGORITHM
from functions.domain.reports import AttributionReport, AttributionTally, FairnessReport
from functions.domain.review_reports import UNKNOWN as UNKNOWN_GROUP
from functions.domain.review_reports import ReviewReport
from functions.domain.rollups import is_label
from functions.domain.seal import canonical_json, sha256_hex
from functions.schemas.monitor import Thresholds, ValidationBaseline

MONITORING_SCHEMA: Literal["candor.monitoring/1"] = "candor.monitoring/1"
WITHHELD = "(label withheld: personal data)"
Status = Literal["ok", "violated", "not_enough_data"]


class _Frozen(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class GroupStatus(_Frozen):
    attributes: str = Field(description="The protected attribute, or 'a | b' for an intersection.")
    group: str
    count: int
    selection_rate: float | None = Field(description="None for groups below the minimum size.")
    impact_ratio: float | None
    status: Status


class Check(_Frozen):
    check: Literal[
        "impact_ratio", "parity_difference", "attribution_ndcg", "attribution_rank_correlation", "outcome_psi",
        "disclosure_coverage", "overturn_ratio", "appeal_ratio",
    ]  # fmt: skip
    subject: str = Field(description="The protected attribute(s) checked, or 'model'.")
    status: Status
    value: float | None
    threshold: float
    violating_groups: list[str] = Field(default_factory=list, description="Named, for the alarm's reader.")
    detail: str


class MonitoringReport(_Frozen):
    """One run's verdict on one model. Signed over its canonical JSON; chained by `previous_report_sha256`."""

    schema_version: Literal["candor.monitoring/1"] = MONITORING_SCHEMA
    model_id: str
    evaluated_at: str
    window: dict[str, str]
    baseline: dict[str, str] = Field(description="The baseline window, or {'validation': '<records> records'}.")
    records: int
    status: Status
    violations: list[str] = Field(description="One line per violated check, naming the groups.")
    checks: list[Check]
    groups: list[GroupStatus]
    previous_report_sha256: str | None
    signing_key_id: str
    algorithm: str = SIGNING_ALGORITHM


def report_bytes(report: MonitoringReport) -> bytes:
    return canonical_json(report)


def report_sha256(report: MonitoringReport) -> str:
    return sha256_hex(report_bytes(report))


# ------------------------------------------------------------------------- measures


def ndcg(current: Mapping[str, float], baseline: Mapping[str, float]) -> float | None:
    """Clarify's NDCG: features ranked by the current mean |SHAP|, gained by their baseline score.

    DCG = sum a(F'_i) / log2(i + 1) over the current order F', iDCG the same over the baseline's
    own order; 1.0 when the order of what mattered at baseline is kept. None without any baseline weight.
    """
    features = sorted(set(current) | set(baseline))
    now = sorted(features, key=lambda f: (-current.get(f, 0.0), f))
    ideal = sorted(features, key=lambda f: (-baseline.get(f, 0.0), f))
    ideal_gain = sum(baseline.get(f, 0.0) / math.log2(i + 2) for i, f in enumerate(ideal))
    if ideal_gain <= 0:
        return None
    return sum(baseline.get(f, 0.0) / math.log2(i + 2) for i, f in enumerate(now)) / ideal_gain


def rank_correlation(current: Mapping[str, float], baseline: Mapping[str, float]) -> float | None:
    """Spearman's rho of the two rankings (ties broken by name, as the reports rank), over both features' union."""
    features = sorted(set(current) | set(baseline))
    n = len(features)
    if n < 2:
        return None

    def ranks(means: Mapping[str, float]) -> dict[str, int]:
        return {f: r for r, f in enumerate(sorted(features, key=lambda f: (-means.get(f, 0.0), f)))}

    a, b = ranks(current), ranks(baseline)
    return 1 - 6 * sum((a[f] - b[f]) ** 2 for f in features) / (n * (n * n - 1))


def validation_tally(validation: ValidationBaseline) -> AttributionTally:
    """The validation report as the tally a baseline window would have given."""
    tally = AttributionTally()
    sums = {f: mean * validation.records for f, mean in validation.mean_abs_attributions.items()}
    tally.add_counts(validation.records, validation.outcomes, sums, disclosed=validation.records)
    return tally


# --------------------------------------------------------------------------- checks


def _label(group: str | None) -> str | None:
    return group if group is None or is_label(group) else WITHHELD


def fairness_checks(report: FairnessReport, thresholds: Thresholds) -> tuple[list[Check], list[GroupStatus]]:
    """Impact ratio and parity difference over the report's reportable groups; small groups are not judged."""
    subject = " | ".join(report.attributes)
    reportable = len(report.groups)
    # Reports and metrics are kept for good, as rollups are: a label redaction would find personal
    # (an e-mail given as a segment) is withheld, as the rollups leave it out.
    report = report.model_copy(
        update={
            "groups": [g if is_label(g.group) else g.model_copy(update={"group": WITHHELD}) for g in report.groups],
            "small_groups": [s if is_label(s.group) else s.model_copy(update={"group": WITHHELD})
                             for s in report.small_groups],
        }
    )  # fmt: skip
    groups = [
        GroupStatus(
            attributes=subject,
            group=g.group,
            count=g.count,
            selection_rate=g.selection_rate,
            impact_ratio=g.impact_ratio,
            status="violated"
            if thresholds.min_impact_ratio is not None
            and g.impact_ratio is not None
            and g.impact_ratio < thresholds.min_impact_ratio
            else "ok",
        )
        for g in report.groups
    ] + [
        GroupStatus(
            attributes=subject,
            group=s.group,
            count=s.count,
            selection_rate=None,
            impact_ratio=None,
            status="not_enough_data",
        )
        for s in report.small_groups
    ]
    enough = reportable >= 2
    too_few = f"fewer than two groups with at least {thresholds.min_group_size} records"
    checks = []
    if thresholds.min_impact_ratio is not None:
        violating = [g.group for g in groups if g.status == "violated"]
        ratios = [g.impact_ratio for g in report.groups if g.impact_ratio is not None]
        checks.append(
            Check(
                check="impact_ratio",
                subject=subject,
                status="not_enough_data" if not enough else "violated" if violating else "ok",
                value=min(ratios) if enough and ratios else None,
                threshold=thresholds.min_impact_ratio,
                violating_groups=violating if enough else [],
                detail=too_few
                if not enough
                else f"lowest impact ratio against {_label(report.most_favoured_group)} (most favoured)",
            )
        )
    if thresholds.max_parity_difference is not None:
        difference = report.demographic_parity_difference
        violated = enough and difference is not None and difference > thresholds.max_parity_difference
        rates = sorted(report.groups, key=lambda g: g.selection_rate)
        checks.append(
            Check(
                check="parity_difference",
                subject=subject,
                status="not_enough_data" if not enough else "violated" if violated else "ok",
                value=difference if enough else None,
                threshold=thresholds.max_parity_difference,
                violating_groups=[rates[0].group, rates[-1].group] if violated else [],
                detail=too_few if not enough else "highest minus lowest selection rate",
            )
        )
    return checks, groups


def drift_checks(
    report: AttributionReport, thresholds: Thresholds, baseline_means: Mapping[str, float] | None = None
) -> list[Check]:
    """Attribution drift (NDCG, rank correlation), outcome PSI, and disclosure coverage of the window.

    `baseline_means`: mean |attribution| per feature of the baseline, every feature of it (the report
    lists only the window's features: one the window never attributed to would drop out of the ranking).
    """
    checks: list[Check] = []
    baseline_records = report.baseline.records if report.baseline else 0
    enough = report.current.records >= thresholds.min_records and baseline_records >= thresholds.min_records
    too_few = (
        f"{report.current.records} records in the window, {baseline_records} in the baseline; "
        f"drift needs {thresholds.min_records} in each"
    )
    current = {f.feature: f.mean_abs_attribution for f in report.features}
    if baseline_means is not None:
        baseline = dict(baseline_means)
    else:
        baseline = {f.feature: f.baseline_mean_abs_attribution or 0.0 for f in report.features}
    correlation = rank_correlation(current, baseline)
    measures: list[tuple[Literal["attribution_ndcg", "attribution_rank_correlation"], float | None, float | None]] = [
        ("attribution_ndcg", thresholds.min_attribution_ndcg, ndcg(current, baseline)),
        ("attribution_rank_correlation", thresholds.min_attribution_rank_correlation, correlation),
    ]
    for name, threshold, value in measures:
        if threshold is None:
            continue
        ok = value is None or value >= threshold
        risers = [f.display_name for f in report.features if (f.rank_change or 0) > 0][:3]
        checks.append(
            Check(
                check=name,
                subject="model",
                status="not_enough_data" if not enough or value is None else "ok" if ok else "violated",
                value=value if enough else None,
                threshold=threshold,
                violating_groups=risers if enough and not ok else [],
                detail=too_few if not enough else "mean |SHAP| per feature, ranked, against the baseline's ranking",
            )
        )
    if thresholds.max_outcome_psi is not None:
        psi = report.outcome_psi
        violated = enough and psi is not None and psi > thresholds.max_outcome_psi
        checks.append(
            Check(
                check="outcome_psi",
                subject="model",
                status="not_enough_data" if not enough else "violated" if violated else "ok",
                value=psi if enough else None,
                threshold=thresholds.max_outcome_psi,
                detail=too_few if not enough else "population stability index of the outcome distribution",
            )
        )
    if thresholds.min_disclosure_coverage is not None:
        coverage = report.current.disclosure_coverage
        violated = coverage is not None and coverage < thresholds.min_disclosure_coverage
        checks.append(
            Check(
                check="disclosure_coverage",
                subject="model",
                status="not_enough_data" if coverage is None else "violated" if violated else "ok",
                value=coverage,
                threshold=thresholds.min_disclosure_coverage,
                detail="share of the window's decisions that carried an AI-disclosure notice",
            )
        )
    return checks


def review_check(report: ReviewReport, check: Literal["overturn_ratio", "appeal_ratio"], threshold: float) -> Check:
    """One group's decisions overturned (or appealed) more often than all's; only groups with enough cases judged."""
    ratio_of = {"overturn_ratio": lambda g: g.overturn_ratio, "appeal_ratio": lambda g: g.appeal_ratio}[check]
    judged = [g for g in report.groups if ratio_of(g) is not None and g.group != UNKNOWN_GROUP]
    violating = [str(_label(g.group)) for g in judged if ratio_of(g) >= threshold]
    what = "resolved review cases" if check == "overturn_ratio" else "decisions, and as many cases in the window"
    return Check(
        check=check,
        subject=" | ".join(report.attributes),
        status="not_enough_data" if not judged else "violated" if violating else "ok",
        value=max(ratio_of(g) for g in judged) if judged else None,
        threshold=threshold,
        violating_groups=violating,
        detail=f"no group with {report.min_group_size} {what}"
        if not judged
        else f"highest {check.replace('_', ' ')} of a group against all (human review)",
    )


def overall(checks: Sequence[Check]) -> Status:
    """Violated if any check is; ok if any could be judged; otherwise not enough data."""
    if any(c.status == "violated" for c in checks):
        return "violated"
    return "ok" if any(c.status == "ok" for c in checks) else "not_enough_data"


def violation_lines(checks: Sequence[Check]) -> list[str]:
    lines = []
    for c in checks:
        if c.status != "violated":
            continue
        named = f" ({', '.join(c.violating_groups)})" if c.violating_groups else ""
        bound = "<" if c.check in {"impact_ratio", "attribution_ndcg", "attribution_rank_correlation",
                                   "disclosure_coverage"} else ">=" if c.check.endswith("_ratio") else ">"  # fmt: skip
        lines.append(f"{c.check} of {c.subject}{named}: {c.value:.3f} {bound} {c.threshold}")
    return lines
