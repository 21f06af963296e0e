"""Composition root of monitors: what the hourly monitoring job, the monitoring route and the CLI call.

    from functions.monitoring_service import monitoring_service
    run = monitoring_service().run(now)                       # every model with a `monitor` (the job)
    backlog = monitoring_service().review_backlog(now)        # the review queue against each model's SLA
    stored = monitoring_service().store.latest("refund-decision", now)

Each run evaluates every model whose manifest has a `monitor` over the last `window_hours`
ending at `now`, from the same sources as the auditors' reports (`functions/report_sources.py`),
seals, signs and chains the report into the archive, and returns it for the handler's metrics.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from functions.coldstart import per_container
from functions.domain.audit import Window
from functions.domain.integrity import iso_utc
from functions.domain.monitoring import (
    Check,
    GroupStatus,
    MonitoringReport,
    drift_checks,
    fairness_checks,
    overall,
    review_check,
    validation_tally,
    violation_lines,
)
from functions.domain.reports import FairnessReport, attribution_report, fairness_report_of
from functions.domain.review_backlog import Backlog
from functions.domain.review_reports import ReviewTally, review_report
from functions.report_sources import ReportSources, report_sources
from functions.review_sla_metrics import publish_review_backlog
from functions.schemas.manifest import ModelManifest
from functions.schemas.monitor import Thresholds
from functions.schemas.settings import audit_settings
from functions.stores import aws_clients
from functions.stores.model_registry import ModelRegistry, source_from_uri
from functions.stores.monitoring_store import AwsMonitoringStore, StoredReport
from functions.stores.open_reviews import AwsOpenReviews


@dataclass(frozen=True)
class MonitoringService:
    manifests: ModelRegistry
    sources: ReportSources
    store: AwsMonitoringStore
    open_reviews: AwsOpenReviews | None  # the review queue; None: no appeals table

    def evaluate(self, manifest: ModelManifest, now: datetime, previous_sha256: str | None) -> MonitoringReport:
        """The model's monitor over the `window_hours` before `now`, judged against its baseline."""
        monitor = manifest.monitor
        if monitor is None:
            raise ValueError(f"{manifest.id} has no monitor")
        thresholds = monitor.thresholds
        window = Window(now - timedelta(hours=monitor.window_hours), now)
        checks: list[Check] = []
        groups: list[GroupStatus] = []
        favourable = manifest.favourable_outcome
        if manifest.kind == "decision" and favourable is not None:
            judge_reviews = thresholds.max_overturn_ratio is not None or thresholds.max_appeal_ratio is not None
            cases = list(self.sources.review_cases(window, manifest.id)) if judge_reviews else []
            for attributes in [[a] for a in monitor.protected_attributes] + [list(p) for p in monitor.intersections]:
                tally, _ = self.sources.fairness(window, manifest.id, attributes, favourable=favourable)
                report = fairness_report_of(
                    tally, model_id=manifest.id, min_group_size=thresholds.min_group_size, window=window.as_dict()
                )
                found, statuses = fairness_checks(report, thresholds)
                checks += found
                groups += statuses
                checks += _review_checks(cases, attributes, tally.totals, report, thresholds)
        current, _ = self.sources.attributions(window, manifest.id)
        if monitor.baseline.window is not None:
            span = Window(monitor.baseline.window.start, monitor.baseline.window.end)
            baseline, described = self.sources.attributions(span, manifest.id)[0], span.as_dict()
        else:
            assert monitor.baseline.validation is not None  # one of the two, by the schema
            baseline = validation_tally(monitor.baseline.validation)
            described = {"validation": f"{monitor.baseline.validation.records} records"}
        names = {f.name: f.display_names["en"] for f in manifest.features}
        attributions = attribution_report(manifest.id, current, window.as_dict(), names, baseline)
        checks += drift_checks(attributions, thresholds, baseline.means())
        return MonitoringReport(
            model_id=manifest.id,
            evaluated_at=iso_utc(now),
            window=window.as_dict(),
            baseline=described,
            records=current.records,
            status=overall(checks),
            violations=violation_lines(checks),
            checks=checks,
            groups=groups,
            previous_report_sha256=previous_sha256,
            signing_key_id=self.store.signing_key_id,
        )

    def run(self, now: datetime | None = None) -> list[StoredReport]:
        """Evaluate and store every monitored model's report at `now`.

        Once per minute: a redelivered schedule event (same `time`) gets the stored report back.
        """
        moment = now or datetime.now(UTC)  # the window ends here; the report is stored under its minute
        stored = []
        for manifest in self.manifests.manifests():
            if manifest.monitor is None:
                continue
            previous = self.store.latest(manifest.id, moment)
            report = self.evaluate(manifest, moment, previous.sha256 if previous else None)
            stored.append(self.store.put(report, moment))
        return stored

    def review_backlog(self, now: datetime) -> list[Backlog]:
        """Each model's open reviews against its SLA, published as the metrics the queue's alarms watch."""
        if self.open_reviews is None:
            return []
        return publish_review_backlog(self.open_reviews.open_items(), self.manifests.manifests(), now)


def _review_checks(
    cases: Sequence[tuple[dict[str, Any], dict[str, Any] | None]],
    attributes: list[str],
    decisions: Mapping[str, int],
    fairness: FairnessReport,
    thresholds: Thresholds,
) -> list[Check]:
    """Human review by group: overturn and appeal ratios of the window's review cases (and its decisions)."""
    tally = ReviewTally(attributes)
    for case, decision in cases:
        tally.add(case, decision)
    reviews = review_report(
        tally, model_id=fairness.model_id, window=fairness.window, min_group_size=thresholds.min_group_size,
        decisions=decisions,
    )  # fmt: skip
    limits: dict[Literal["overturn_ratio", "appeal_ratio"], float | None] = {
        "overturn_ratio": thresholds.max_overturn_ratio,
        "appeal_ratio": thresholds.max_appeal_ratio,
    }
    return [review_check(reviews, check, limit) for check, limit in limits.items() if limit is not None]


@per_container
def monitoring_service() -> MonitoringService:
    settings = audit_settings()
    return MonitoringService(
        manifests=ModelRegistry(source_from_uri(settings.models_uri, aws_clients.s3)),
        sources=report_sources(),
        store=AwsMonitoringStore.from_settings(settings, aws_clients.s3(), aws_clients.kms()),
        open_reviews=AwsOpenReviews(table=settings.appeals_table, dynamodb=aws_clients.dynamodb())
        if settings.appeals_table
        else None,
    )
