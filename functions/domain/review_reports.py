"""Human review as a fairness signal: appeals, verdicts and overturn rates by group and by model version.

A group whose decisions people overturn more often than others' is one the model treats worse
than the people who check it do. The report counts the review cases (customers' appeals and
policy referrals) filed in a window, joined with their decisions' segments and model version:

- per group of `attributes` (and per model version): cases, resolved, upheld, overturned, the
  overturn rate (overturned / resolved) and the median days from filing to verdict;
- `overturn_ratio`: a group's overturn rate over the rate of all resolved cases; a group is
  flagged at `FLAG_RATIO` (1.25, the four-fifths rule turned round: 1 / 0.8) or more;
- groups with fewer than `min_group_size` resolved cases get counts but no rate or flag;
- given the window's decisions per group, the appeal rate (cases / decisions) and its ratio to all
  decisions' rate, for groups with `min_group_size` decisions once the window has as many cases;
- a case whose decision no longer carries the attribute (erased, or never given) counts as `unknown`.
"""

from __future__ import annotations

import statistics
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field

FLAG_RATIO = 1.25
UNKNOWN = "unknown"
RESOLVED = ("upheld", "overturned")


class ReviewGroup(BaseModel):
    group: str
    cases: int
    resolved: int
    upheld: int
    overturned: int
    overturn_rate: float | None = Field(description="overturned / resolved; None under min_group_size resolved.")
    overturn_ratio: float | None = Field(description="This group's overturn rate over all resolved cases' rate.")
    flagged: bool
    median_days_to_verdict: float | None
    decisions: int | None = Field(default=None, description="The group's decisions made in the window.")
    appeal_rate: float | None = Field(default=None, description="cases / decisions; None when either is too few.")
    appeal_ratio: float | None = Field(default=None, description="This group's appeal rate over all decisions'.")


class ReviewReport(BaseModel):
    model_id: str
    window: dict[str, str] = Field(description="Cases filed in this window (by filing time).")
    attributes: list[str]
    min_group_size: int
    cases: int
    by_kind: dict[str, int] = Field(description="appeal: customers contested; referral: the review policy sent it.")
    overall: ReviewGroup
    groups: list[ReviewGroup] = Field(description="By the decisions' segments; highest overturn ratio first.")
    by_model_version: list[ReviewGroup]
    flagged_groups: list[str]
    conventions: dict[str, str]


@dataclass
class _Counts:
    cases: int = 0
    upheld: int = 0
    overturned: int = 0
    days: list[float] = field(default_factory=list)

    def add(self, status: str, days: float | None) -> None:
        self.cases += 1
        self.upheld += status == "upheld"
        self.overturned += status == "overturned"
        if status in RESOLVED and days is not None:
            self.days.append(days)


def _days(created_at: str, resolved_at: str | None) -> float | None:
    if not resolved_at:
        return None
    start, end = (datetime.fromisoformat(t.replace("Z", "+00:00")) for t in (created_at, resolved_at))
    return (end - start).total_seconds() / 86400


@dataclass
class ReviewTally:
    attributes: Sequence[str]
    everyone: _Counts = field(default_factory=_Counts)
    groups: dict[str, _Counts] = field(default_factory=lambda: defaultdict(_Counts))
    versions: dict[str, _Counts] = field(default_factory=lambda: defaultdict(_Counts))
    kinds: dict[str, int] = field(default_factory=lambda: defaultdict(int))

    def add(self, case: Mapping[str, Any], decision: Mapping[str, Any] | None) -> None:
        """One review case (appeals-table item) and its decision's index item (None: the record is gone)."""
        status, days = str(case["status"]), _days(str(case["created_at"]), case.get("resolved_at"))
        segments = (decision or {}).get("segments") or {}
        known = all(a in segments for a in self.attributes)
        group = " | ".join(str(segments[a]) for a in self.attributes) if known else UNKNOWN
        self.everyone.add(status, days)
        self.groups[group].add(status, days)
        self.versions[str((decision or {}).get("model_version") or UNKNOWN)].add(status, days)
        self.kinds[str(case.get("kind") or "appeal")] += 1


def _group(name: str, counts: _Counts, overall_rate: float | None, min_group_size: int) -> ReviewGroup:
    resolved = counts.upheld + counts.overturned
    rate = counts.overturned / resolved if resolved >= min_group_size else None
    ratio = rate / overall_rate if rate is not None and overall_rate else None
    return ReviewGroup(
        group=name,
        cases=counts.cases,
        resolved=resolved,
        upheld=counts.upheld,
        overturned=counts.overturned,
        overturn_rate=rate,
        overturn_ratio=ratio,
        flagged=ratio is not None and ratio >= FLAG_RATIO and name != UNKNOWN,
        median_days_to_verdict=statistics.median(counts.days) if counts.days else None,
    )


def _with_appeal_rates(
    groups: list[ReviewGroup], decisions: Mapping[str, int], cases: int, min_group_size: int
) -> list[ReviewGroup]:
    total = sum(decisions.values())
    overall = cases / total if total and cases >= min_group_size else None
    rated = []
    for group in groups:
        count = decisions.get(group.group)
        rate = group.cases / count if overall is not None and count and count >= min_group_size else None
        ratio = rate / overall if rate is not None and overall else None
        rated.append(group.model_copy(update={"decisions": count, "appeal_rate": rate, "appeal_ratio": ratio}))
    return rated


def review_report(
    tally: ReviewTally,
    *,
    model_id: str,
    window: dict[str, str],
    min_group_size: int,
    decisions: Mapping[str, int] | None = None,
) -> ReviewReport:
    """`decisions`: the window's decisions per group (the fairness tally's), for appeal rates; None: none given."""
    resolved = tally.everyone.upheld + tally.everyone.overturned
    overall_rate = tally.everyone.overturned / resolved if resolved else None
    overall = _group("all", tally.everyone, overall_rate, 1)
    groups = [_group(n, c, overall_rate, min_group_size) for n, c in sorted(tally.groups.items())]
    if decisions is not None:
        groups = _with_appeal_rates(groups, decisions, tally.everyone.cases, min_group_size)
    groups.sort(key=lambda g: (g.overturn_ratio is None, -(g.overturn_ratio or 0), g.group))
    versions = [_group(n, c, overall_rate, min_group_size) for n, c in sorted(tally.versions.items())]
    return ReviewReport(
        model_id=model_id,
        window=window,
        attributes=list(tally.attributes),
        min_group_size=min_group_size,
        cases=tally.everyone.cases,
        by_kind=dict(tally.kinds),
        overall=overall,
        groups=groups,
        by_model_version=versions,
        flagged_groups=[g.group for g in groups if g.flagged],
        conventions={
            "overturn_rate": "overturned / resolved (upheld + overturned), among cases filed in the window",
            "overturn_ratio": "a group's overturn rate / the overturn rate of every resolved case in the window",
            "flag": f"overturn_ratio >= {FLAG_RATIO} (1 / 0.8) with at least min_group_size resolved cases",
            "unknown": "the decision carries no value for the attribute (erased, restricted or never given)",
            "appeal_rate": "cases filed in the window / the group's decisions made in the window (decision models)",
        },
    )
