"""Rollups: what the fairness and attribution reports need, summed per model and hour (and day) at write time.

A decision is counted once, when its index item is inserted, into the rollup items of its
hour and of its day (`decided_at`, UTC): one item for the whole model, one per segment group
of each attribute, one per group of each configured intersection of two attributes. A
deferred explanation's attributions are counted when the worker completes it; an appeal when
it is filed (the hour of `created_at`, as the reports read appeals).

Each of these is a `Contribution`: a marker (decision id and kind) that makes it count once
however often the stream delivers it, and the ADD increments it makes. An erasure removes a
record's segments later: nothing is taken back; the counts it fed stay (group labels are
categories such as an age band, never a value that identifies anyone). Rollups cannot be
erased, so a segment whose name or value holds what redaction finds personal (an e-mail, a
phone, card or bank number) is not rolled up: the record counts as unknown for that attribute
in whole hours, and its label stays only in the erasable index item and personal part.

Keys (one DynamoDB table, see docs/auditors.md#rollups):
- partition `pk`: JSON `[model_id, "D", attribute, ...]` for days, `[model_id, "H", day,
  attribute, ...]` for the hours of one day: the model total has no attribute; a group item
  names its attribute (or two, for an intersection);
- sort `sk`: the period (`2026-12-02T05` or `2026-12-02`), then for groups `#` and the
  group's values as JSON, so that one Query BETWEEN two periods reads every item between.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from functions.domain.redaction import redact

HOUR, DAY = "H", "D"
_PERIOD_LENGTH = {HOUR: 13, DAY: 10}  # "2026-12-02T05", "2026-12-02": fixed lengths keep sort order exact
_AFTER_GROUPS = "$"  # sorts after "#": `sk <= period + "$"` includes every group of `period`
ATTRIBUTION_PLACES = Decimal("1e-9")  # sums stay within DynamoDB's 38 digits over any number of records

# Attribute names of rollup items; a label, feature or status follows the colon.
RECORDS = "n"
NOTICES = "notices"
OUTCOME = "o:"
EXPLANATION = "x:"
ABS_ATTRIBUTION = "abs:"
ATTRIBUTION = "sum:"
APPEAL = "ap:"

DECISION, EXPLAINED, APPEALED = "decision", "explained", "appeal"


def partition_key(model_id: str, period: str, attributes: Sequence[str] = ()) -> str:
    """Day items of a model (or of its groups) share a partition; hour items have one per day.

    Hour partitions per day keep each partition small (24 periods) and move the write heat to a
    new partition every day; a window's hours are only ever those of its first and last days.
    """
    head = [model_id, DAY] if len(period) == _PERIOD_LENGTH[DAY] else [model_id, HOUR, period[:10]]
    return json.dumps([*head, *attributes], ensure_ascii=False, separators=(",", ":"))


def sort_key(period: str, group: Sequence[str] | None = None) -> str:
    if group is None:
        return period
    return f"{period}#{json.dumps(list(group), ensure_ascii=False, separators=(',', ':'))}"


def periods(moment: str) -> dict[str, str]:
    """The hour and the day an ISO-8601 UTC timestamp (`decided_at`, `created_at`) falls in."""
    return {HOUR: moment[:13], DAY: moment[:10]}


@dataclass(frozen=True)
class RollupKey:
    pk: str
    sk: str


@dataclass
class Contribution:
    """What one event adds to the rollups, and the marker that lets it count only once."""

    decision_id: str
    kind: str
    increments: dict[RollupKey, dict[str, Decimal]] = field(default_factory=dict)

    @property
    def marker(self) -> RollupKey:
        return RollupKey(pk=f"counted#{self.decision_id}", sk=self.kind)

    def add(self, key: RollupKey, name: str, amount: Decimal | int) -> None:
        bucket = self.increments.setdefault(key, {})
        bucket[name] = bucket.get(name, Decimal(0)) + Decimal(amount)


def _attribution_increments(attributions: Mapping[str, Any]) -> dict[str, Decimal]:
    sums: dict[str, Decimal] = {}
    for feature, value in attributions.items():
        number = Decimal(str(value)).quantize(ATTRIBUTION_PLACES)
        number = number if number else Decimal(0)  # not 0E-9: a feature the model ignores is attributed exactly 0
        sums[ABS_ATTRIBUTION + feature] = abs(number)
        sums[ATTRIBUTION + feature] = number
    return sums


def _model_keys(model_id: str, moment: str) -> list[RollupKey]:
    return [RollupKey(partition_key(model_id, p), sort_key(p)) for p in periods(moment).values()]


def is_label(*texts: str) -> bool:
    """A group label fit to keep for good: nothing in it that redaction would take out."""
    return not any(any(redact(text).counts.values()) for text in texts)


def decision_contribution(item: Mapping[str, Any], intersections: Sequence[tuple[str, str]]) -> Contribution:
    """A new index item: its count, outcome, notice, explanation status, attributions and segment groups."""
    contribution = Contribution(str(item["decision_id"]), DECISION)
    model_id, moment, outcome = str(item["model_id"]), str(item["decided_at"]), str(item.get("outcome"))
    status = str(item.get("explanation_status") or "unknown")
    for key in _model_keys(model_id, moment):
        contribution.add(key, RECORDS, 1)
        contribution.add(key, OUTCOME + outcome, 1)
        contribution.add(key, EXPLANATION + status, 1)
        if item.get("notice_id"):
            contribution.add(key, NOTICES, 1)
        for name, amount in _attribution_increments(item.get("attributions") or {}).items():
            contribution.add(key, name, amount)
    segments = {str(a): str(v) for a, v in (item.get("segments") or {}).items() if is_label(str(a), str(v))}
    dimensions: list[tuple[str, ...]] = [(a,) for a in sorted(segments)]
    dimensions += [pair for pair in intersections if all(a in segments for a in pair)]
    for attributes in dimensions:
        group = [segments[a] for a in attributes]
        for period in periods(moment).values():
            key = RollupKey(partition_key(model_id, period, attributes), sort_key(period, group))
            contribution.add(key, RECORDS, 1)
            contribution.add(key, OUTCOME + outcome, 1)
    return contribution


def completion_contribution(old: Mapping[str, Any], new: Mapping[str, Any]) -> Contribution | None:
    """A deferred explanation completed by the worker: its attributions and its final status, once.

    Any other change to an index item (an erasure that removes the segments, a restriction, a
    legal hold) contributes nothing: the decision was counted when it was inserted.
    """
    if "completion_sha256" not in new or "completion_sha256" in old:
        return None
    contribution = Contribution(str(new["decision_id"]), EXPLAINED)
    before = str(old.get("explanation_status") or "unknown")
    after = str(new.get("explanation_status") or "unknown")
    for key in _model_keys(str(new["model_id"]), str(new["decided_at"])):
        if before != after:
            contribution.add(key, EXPLANATION + before, -1)
            contribution.add(key, EXPLANATION + after, 1)
        for name, amount in _attribution_increments(new.get("attributions") or {}).items():
            contribution.add(key, name, amount)
    return contribution


REFERRED = "referred"  # the count of referrals, next to the appeals' statuses


def appeal_count_key(appeal: Mapping[str, Any]) -> str:
    """What a new queue item counts as: an appeal by its status, or a referral (the review policy's) apart."""
    return REFERRED if appeal.get("kind") == "referral" else str(appeal["status"])


def appeal_contribution(appeal: Mapping[str, Any]) -> Contribution:
    """A new appeal, in the hour and day it was filed, by status; a referral as `referred`."""
    contribution = Contribution(str(appeal["decision_id"]), APPEALED)
    for key in _model_keys(str(appeal["model_id"]), str(appeal["created_at"])):
        contribution.add(key, APPEAL + appeal_count_key(appeal), 1)
    return contribution


# ---------------------------------------------------------------- reading


@dataclass(frozen=True)
class Span:
    """[first, last] periods of one granularity, both whole and inside the window."""

    granularity: str
    first: str
    last: str

    def bounds(self, grouped: bool) -> tuple[str, str]:
        """The sort-key range of the span's items (with their groups when `grouped`)."""
        return (self.first + "#", self.last + _AFTER_GROUPS) if grouped else (self.first, self.last)


@dataclass(frozen=True)
class WindowPlan:
    """A window as rollup spans of whole hours and days, and the edges left to the index."""

    spans: list[Span]
    edges: list[tuple[datetime, datetime]]


_MS = timedelta(milliseconds=1)


def _hour(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H")


def plan_window(start: datetime, end: datetime, *, settled_before: datetime, since: datetime | None) -> WindowPlan:
    """Whole hours of [start, end] that are settled (ended before `settled_before`) and not before `since`.

    The window is inclusive at both ends, like the index's BETWEEN on `decided_at` (milliseconds).
    Whole days among those hours are read as day items; the rest of the window is read from the index.
    """
    start, end = start.astimezone(UTC), end.astimezone(UTC)
    first = start.replace(minute=0, second=0, microsecond=0)
    if first < start:
        first += timedelta(hours=1)
    if since is not None:
        floor = since.astimezone(UTC).replace(minute=0, second=0, microsecond=0)
        first = max(first, floor if floor == since.astimezone(UTC) else floor + timedelta(hours=1))
    stop = min(end + _MS, settled_before.astimezone(UTC)).replace(minute=0, second=0, microsecond=0)
    if stop <= first:  # no whole settled hour: the index answers for all of it
        return WindowPlan([], [(start, end)])
    edges = []
    if start < first:
        edges.append((start, first - _MS))
    if stop <= end:
        edges.append((stop, end))
    first_day = first.replace(hour=0)
    if first_day < first:
        first_day += timedelta(days=1)
    stop_day = stop.replace(hour=0)
    spans = []
    if first_day < stop_day:
        if first < first_day:
            spans.append(Span(HOUR, _hour(first), _hour(first_day - timedelta(hours=1))))
        spans.append(Span(DAY, first_day.date().isoformat(), (stop_day - timedelta(days=1)).date().isoformat()))
        if stop_day < stop:
            spans.append(Span(HOUR, _hour(stop_day), _hour(stop - timedelta(hours=1))))
    else:
        spans += _hour_spans(first, stop)
    return WindowPlan(spans, edges)


def _hour_spans(first: datetime, stop: datetime) -> list[Span]:
    """Hours [first, stop), one span per calendar day (hour items are partitioned by day)."""
    spans = []
    while first < stop:
        midnight = first.replace(hour=0) + timedelta(days=1)
        end = min(stop, midnight)
        spans.append(Span(HOUR, _hour(first), _hour(end - timedelta(hours=1))))
        first = end
    return spans


def group_of(item: Mapping[str, Any]) -> list[str]:
    """The group values of a group item, from its sort key."""
    return list(json.loads(str(item["sk"]).split("#", 1)[1]))


def counters(item: Mapping[str, Any], prefix: str) -> dict[str, Decimal]:
    """The item's counters named `prefix` + label, by label."""
    return {name[len(prefix) :]: Decimal(value) for name, value in item.items() if name.startswith(prefix)}


def total(items: Iterable[Mapping[str, Any]], name: str) -> int:
    return sum(int(item.get(name, 0)) for item in items)


def fairness_counts(
    totals: Iterable[Mapping[str, Any]], groups: Iterable[Mapping[str, Any]], attributes: Sequence[str], favourable: str
) -> tuple[int, dict[str, tuple[int, int]]]:
    """Records, and per group label ('a | b' in the order asked) its records and favourable outcomes."""
    stored = sorted(attributes)  # intersections are keyed by their attributes in sorted order
    order = [stored.index(a) for a in attributes]
    counts: dict[str, tuple[int, int]] = {}
    for item in groups:
        values = group_of(item)
        label = " | ".join(values[i] for i in order)
        count, favoured = counts.get(label, (0, 0))
        counts[label] = (count + int(item.get(RECORDS, 0)), favoured + int(item.get(OUTCOME + favourable, 0)))
    return total(totals, RECORDS), counts


@dataclass
class ModelTotals:
    """The model-wide rollup items of a window, summed: what the attribution report reads."""

    records: int = 0
    notices: int = 0
    outcomes: dict[str, int] = field(default_factory=dict)
    abs_attributions: dict[str, float] = field(default_factory=dict)
    appeals: dict[str, int] = field(default_factory=dict)
    explanations: dict[str, int] = field(default_factory=dict)

    @classmethod
    def of(cls, items: Iterable[Mapping[str, Any]]) -> ModelTotals:
        totals = cls()
        abs_sums: dict[str, Decimal] = {}
        for item in items:
            totals.records += int(item.get(RECORDS, 0))
            totals.notices += int(item.get(NOTICES, 0))
            for target, prefix in (
                (totals.outcomes, OUTCOME),
                (totals.appeals, APPEAL),
                (totals.explanations, EXPLANATION),
            ):
                for label, value in counters(item, prefix).items():
                    target[label] = target.get(label, 0) + int(value)
            for feature, value in counters(item, ABS_ATTRIBUTION).items():
                abs_sums[feature] = abs_sums.get(feature, Decimal(0)) + value
        totals.abs_attributions = {f: float(v) for f, v in abs_sums.items()}
        return totals
