"""Where the fairness and attribution reports get their counts: rollups for whole hours, the index for the rest.

    from functions.report_sources import report_sources
    tally, note = report_sources().fairness(window, model_id, ["age_band"], favourable="approve")
    tally, note = report_sources().attributions(window, model_id)

`functions.domain.rollups.plan_window` cuts the window into whole settled hours and days
(read from the rollups table: a few Queries, however many records) and the partial hours at
its edges (read from the index item by item, through `index_items`, the one place the index is
asked). Without a rollups table, or for an intersection the rollups do not hold, the index
answers for the whole window, as before.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from functions.coldstart import per_container
from functions.domain.audit import Window, model_partitions
from functions.domain.reports import AttributionTally, FairnessTally
from functions.domain.rollups import ModelTotals, WindowPlan, appeal_count_key, fairness_counts, plan_window
from functions.schemas.settings import audit_settings, intersection_pairs
from functions.stores import aws_clients
from functions.stores.record_index import RecordIndex
from functions.stores.rollup_store import AwsRollupStore

FROM_INDEX = "every record of the window, from the index"


def _note(plan: WindowPlan) -> str:
    if not plan.spans:
        return FROM_INDEX
    spans = "; ".join(f"{s.first}..{s.last}" for s in plan.spans)
    return f"whole hours and days from the rollups ({spans} UTC), the rest of the window from the index"


@dataclass(frozen=True)
class ReportSources:
    index: RecordIndex
    appeals: RecordIndex | None
    rollups: AwsRollupStore | None
    intersections: Sequence[tuple[str, str]]
    since: datetime | None
    settle: timedelta
    shards: int  # of the records' index keys (functions/domain/index_shards.py)

    def index_items(self, window: Window, model_id: str, projection: Sequence[str]) -> Iterator[dict[str, Any]]:
        """Every index item of the model in the window (the one read of the index for reports)."""
        return self.index.stream(model_partitions(window, model_id, self.shards), *window.bounds, projection=projection)

    def _plan(self, window: Window, now: datetime, rolled_up: bool) -> WindowPlan:
        if self.rollups is None or not rolled_up:
            return WindowPlan([], [(window.start, window.end)])
        return plan_window(window.start, window.end, settled_before=now - self.settle, since=self.since)

    def fairness(
        self, window: Window, model_id: str, attributes: list[str], *, favourable: str, now: datetime | None = None
    ) -> tuple[FairnessTally, str]:
        tally = FairnessTally(attributes, favourable)
        rolled_up = len(attributes) == 1 or tuple(sorted(attributes)) in self.intersections
        plan = self._plan(window, now or datetime.now(UTC), rolled_up)
        if plan.spans and self.rollups is not None:
            totals = self.rollups.read(model_id, [], plan.spans)
            groups = self.rollups.read(model_id, sorted(attributes), plan.spans)
            tally.add_counts(*fairness_counts(totals, groups, attributes, favourable))
        for start, end in plan.edges:
            for item in self.index_items(Window(start, end), model_id, ("outcome", "segments", "erasure_status")):
                tally.add(item)
        return tally, _note(plan)

    def attributions(
        self, window: Window, model_id: str, *, now: datetime | None = None
    ) -> tuple[AttributionTally, str]:
        tally = AttributionTally()
        plan = self._plan(window, now or datetime.now(UTC), True)
        if plan.spans and self.rollups is not None:
            totals = ModelTotals.of(self.rollups.read(model_id, [], plan.spans))
            tally.add_counts(totals.records, totals.outcomes, totals.abs_attributions, totals.notices)
            tally.appeals.update(totals.appeals)
        for start, end in plan.edges:
            edge = Window(start, end)
            for item in self.index_items(edge, model_id, ("outcome", "attributions", "notice_id")):
                tally.add(item)
            if self.appeals is not None:
                partitions = model_partitions(edge, model_id, shards=1)  # appeals come a few a day: not sharded
                tally.appeals.update(
                    appeal_count_key(a)
                    for a in self.appeals.stream(partitions, *edge.bounds, projection=("status", "kind"))
                )
        return tally, _note(plan)

    def review_cases(self, window: Window, model_id: str) -> Iterator[tuple[dict[str, Any], dict[str, Any] | None]]:
        """The model's review cases filed in the window, each with its decision's index item (None: gone)."""
        if self.appeals is None:
            return
        partitions = model_partitions(window, model_id, shards=1)  # appeals come a few a day: not sharded
        fields = ("decision_id", "status", "kind", "created_at", "resolved_at")
        cases = self.appeals.stream(partitions, *window.bounds, projection=fields, batch=100)
        while batch := list(itertools.islice(cases, 100)):
            decisions = {
                str(item["decision_id"]): item
                for item in self.index.by_id([str(c["decision_id"]) for c in batch], ("segments", "model_version"))
            }
            for case in batch:
                yield case, decisions.get(str(case["decision_id"]))


def _utc(moment: datetime | None) -> datetime | None:
    return moment.replace(tzinfo=UTC) if moment is not None and moment.tzinfo is None else moment


@per_container
def report_sources() -> ReportSources:
    settings = audit_settings()
    dynamodb = aws_clients.dynamodb()
    return ReportSources(
        index=RecordIndex(table=settings.records_table, dynamodb=dynamodb),
        appeals=RecordIndex(table=settings.appeals_table, dynamodb=dynamodb, sort_key="created_at")
        if settings.appeals_table
        else None,
        rollups=AwsRollupStore(table=settings.rollups_table, dynamodb=dynamodb) if settings.rollups_table else None,
        intersections=intersection_pairs(settings.rollup_intersections),
        since=_utc(settings.rollups_since),
        settle=timedelta(seconds=settings.rollup_settle_seconds),
        shards=settings.index_shards,
    )
