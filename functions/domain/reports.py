"""Fairness and attribution reports, computed in one pass over a stream of index items.

Memory grows with the number of groups and features, never with the number of records.
Conventions follow requirements.md section C and are stated in every report.
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping
from typing import Any

from pydantic import BaseModel, Field

FOUR_FIFTHS = 0.8
UNKNOWN = "unknown"


class GroupRate(BaseModel):
    group: str = Field(description="The attribute value, or 'a | b' for an intersection.")
    count: int
    favourable: int
    selection_rate: float
    impact_ratio: float | None = Field(description="selection_rate / the highest selection_rate of a reportable group.")
    flagged: bool = Field(description="impact_ratio below 0.8")


class SmallGroup(BaseModel):
    group: str
    count: int
    favourable: int


class FairnessReport(BaseModel):
    model_id: str
    attributes: list[str]
    window: dict[str, str]
    favourable_outcome: str
    records: int
    groups: list[GroupRate]
    small_groups: list[SmallGroup]
    unknown: int = Field(description="Records without the attribute (not given, erased or restricted).")
    most_favoured_group: str | None
    demographic_parity_difference: float | None
    flagged_groups: list[str]
    conventions: dict[str, str]


def _group_of(segments: Mapping[str, Any] | None, attributes: list[str]) -> str | None:
    values = [(segments or {}).get(a) for a in attributes]
    return None if any(v is None for v in values) else " | ".join(str(v) for v in values)


class FairnessTally:
    """Running counts for one fairness report: per group, records and favourable outcomes; records without it."""

    def __init__(self, attributes: list[str], favourable: str) -> None:
        self.attributes, self.favourable = attributes, favourable
        self.records = self.unknown = 0
        self.totals: Counter[str] = Counter()
        self.favoured: Counter[str] = Counter()

    def add(self, item: Mapping[str, Any]) -> None:
        """One index item; a restricted record's segments are not used (GDPR Art. 18)."""
        self.records += 1
        restricted = item.get("erasure_status") == "restricted"
        group = None if restricted else _group_of(item.get("segments"), self.attributes)
        if group is None:
            self.unknown += 1
            return
        self.totals[group] += 1
        self.favoured[group] += item.get("outcome") == self.favourable

    def add_counts(self, records: int, groups: Mapping[str, tuple[int, int]]) -> None:
        """Counts summed elsewhere (rollups): records, and per group (records, favourable)."""
        self.records += records
        for group, (count, favourable) in groups.items():
            self.totals[group] += count
            self.favoured[group] += favourable
        self.unknown += records - sum(count for count, _ in groups.values())


def fairness_report(
    items: Iterable[Mapping[str, Any]],
    *,
    model_id: str,
    attributes: list[str],
    favourable: str,
    min_group_size: int,
    window: dict[str, str],
) -> FairnessReport:
    """Per-group selection rates, impact ratios against the most favoured group, parity difference."""
    tally = FairnessTally(attributes, favourable)
    for item in items:
        tally.add(item)
    return fairness_report_of(tally, model_id=model_id, min_group_size=min_group_size, window=window)


def fairness_report_of(
    tally: FairnessTally, *, model_id: str, min_group_size: int, window: dict[str, str]
) -> FairnessReport:
    """The report of counts gathered by `tally`, from index items, rollups or both."""
    attributes, favourable = tally.attributes, tally.favourable
    totals, favoured, records, unknown = tally.totals, tally.favoured, tally.records, tally.unknown
    big = {g: favoured[g] / totals[g] for g in totals if totals[g] >= min_group_size}
    best_group = max(big, key=lambda g: (big[g], g)) if big else None
    best = big[best_group] if best_group else 0.0
    groups = [
        GroupRate(
            group=g,
            count=totals[g],
            favourable=favoured[g],
            selection_rate=rate,
            impact_ratio=rate / best if best > 0 else None,
            flagged=best > 0 and rate / best < FOUR_FIFTHS,
        )
        for g, rate in sorted(big.items())
    ]
    return FairnessReport(
        model_id=model_id,
        attributes=attributes,
        window=window,
        favourable_outcome=favourable,
        records=records,
        groups=groups,
        small_groups=[
            SmallGroup(group=g, count=totals[g], favourable=favoured[g]) for g in sorted(totals) if g not in big
        ],
        unknown=unknown,
        most_favoured_group=best_group,
        demographic_parity_difference=max(big.values()) - min(big.values()) if big else None,
        flagged_groups=[g.group for g in groups if g.flagged],
        conventions={
            "selection_rate": f"favourable / total per group; favourable outcome = '{favourable}'",
            "impact_ratio": "SR(group) / max SR over reportable groups (NYC LL 144, EEOC four-fifths rule)",
            "flag": f"impact_ratio < {FOUR_FIFTHS}",
            "demographic_parity_difference": "max SR - min SR over reportable groups (Fairlearn's definition)",
            "reportable_groups": f"groups with at least {min_group_size} records; smaller ones are listed apart "
            "without rates",
            "unknown": "records without the attribute (never given, erased, or restricted) are counted apart",
            "intersection": "with two attributes, groups are their combinations 'a | b'",
        },
    )


class FeatureAttribution(BaseModel):
    feature: str
    display_name: str
    mean_abs_attribution: float
    rank: int
    baseline_mean_abs_attribution: float | None = None
    baseline_rank: int | None = None
    rank_change: int | None = Field(default=None, description="baseline rank - rank: positive = more important now")


class WindowSummary(BaseModel):
    window: dict[str, str]
    records: int
    outcomes: dict[str, int]
    disclosure_coverage: float | None = Field(description="Share of the window's decisions that carried a notice.")
    appeals_by_status: dict[str, int] = Field(
        default_factory=dict,
        description="Appeals filed in the window, by status; `referred`: decisions the review policy sent to a person.",
    )


class AttributionReport(BaseModel):
    model_id: str
    current: WindowSummary
    baseline: WindowSummary | None
    features: list[FeatureAttribution]
    outcome_psi: float | None = Field(description="Population stability index of the outcome distribution vs baseline.")
    conventions: dict[str, str]


class AttributionTally:
    """Running sums for one window: mean |attribution| per feature and the outcome counts."""

    def __init__(self) -> None:
        self.records = 0
        self.outcomes: Counter[str] = Counter()
        self.abs_sums: defaultdict[str, float] = defaultdict(float)
        self.disclosed = 0
        self.appeals: Counter[str] = Counter()

    def add(self, item: Mapping[str, Any]) -> None:
        self.records += 1
        self.disclosed += bool(item.get("notice_id"))
        self.outcomes[str(item.get("outcome"))] += 1
        for feature, value in (item.get("attributions") or {}).items():
            self.abs_sums[feature] += abs(float(value))

    def add_counts(
        self, records: int, outcomes: Mapping[str, int], abs_sums: Mapping[str, float], disclosed: int
    ) -> None:
        """Sums gathered elsewhere (rollups) for `records` decisions."""
        self.records += records
        self.disclosed += disclosed
        self.outcomes.update(outcomes)
        for feature, value in abs_sums.items():
            self.abs_sums[feature] += value

    def means(self) -> dict[str, float]:
        return {f: s / self.records for f, s in self.abs_sums.items()} if self.records else {}

    def summary(self, window: dict[str, str]) -> WindowSummary:
        return WindowSummary(
            window=window,
            records=self.records,
            outcomes=dict(self.outcomes),
            disclosure_coverage=self.disclosed / self.records if self.records else None,
            appeals_by_status=dict(self.appeals),
        )


def _ranks(means: Mapping[str, float]) -> dict[str, int]:
    ordered = sorted(means, key=lambda f: (-means[f], f))
    return {feature: rank for rank, feature in enumerate(ordered, start=1)}


def population_stability_index(current: Mapping[str, int], baseline: Mapping[str, int], epsilon: float = 1e-4) -> float:
    """PSI = sum (p - q) ln(p / q) over outcome categories; empty categories smoothed by `epsilon`."""
    labels = set(current) | set(baseline)
    n, m = sum(current.values()) or 1, sum(baseline.values()) or 1
    psi = 0.0
    for label in labels:
        p, q = max(current.get(label, 0) / n, epsilon), max(baseline.get(label, 0) / m, epsilon)
        psi += (p - q) * math.log(p / q)
    return psi


def attribution_report(
    model_id: str,
    current: AttributionTally,
    window: dict[str, str],
    display_names: Mapping[str, str],
    baseline: AttributionTally | None = None,
    baseline_window: dict[str, str] | None = None,
) -> AttributionReport:
    """Mean |attribution| per feature (display names), outcome distribution, and drift against a baseline."""
    means, ranks = current.means(), _ranks(current.means())
    base_means = baseline.means() if baseline else {}
    base_ranks = _ranks(base_means)
    features = [
        FeatureAttribution(
            feature=f,
            display_name=display_names.get(f, f),
            mean_abs_attribution=means[f],
            rank=ranks[f],
            baseline_mean_abs_attribution=base_means.get(f) if baseline else None,
            baseline_rank=base_ranks.get(f) if baseline else None,
            rank_change=base_ranks[f] - ranks[f] if f in base_ranks else None,
        )
        for f in sorted(means, key=ranks.__getitem__)
    ]
    return AttributionReport(
        model_id=model_id,
        current=current.summary(window),
        baseline=baseline.summary(baseline_window or {}) if baseline else None,
        features=features,
        outcome_psi=population_stability_index(current.outcomes, baseline.outcomes) if baseline else None,
        conventions={
            "mean_abs_attribution": "mean over the window's records of |SHAP value|, in the model's output units; "
            "a feature absent from a record's stored attributions counts as 0",
            "rank": "1 = largest mean |attribution|",
            "outcome_psi": "sum over outcomes of (p - q) ln(p / q), p current and q baseline shares, "
            "empty shares smoothed to 1e-4; < 0.1 stable, 0.1-0.25 moderate shift, > 0.25 large shift",
        },
    )
