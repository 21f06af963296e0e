"""Lambda entry point of the monitoring job (EventBridge, hourly; the integrity job's small zip).

Each run also publishes the review queue's backlog against each model's SLA (functions/review_sla_metrics.py).
Each run evaluates every monitored model at the schedule event's `time` (functions/monitoring_service.py),
stores the sealed reports and publishes CloudWatch metrics (EMF): per model, the count of violated
checks and the drift measures; per model and group, selection rate and impact ratio. The alarm on
`MonitorViolations` notifies the alarm topic; the report it points to names the violating groups.
"""

import dataclasses
from datetime import UTC, datetime
from typing import Any

from aws_lambda_powertools import Logger, Metrics, single_metric
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from functions.domain.integrity import parse_utc
from functions.domain.monitoring import WITHHELD, MonitoringReport
from functions.monitoring_service import monitoring_service
from functions.tracing import handler_tracer

logger = Logger()
tracer = handler_tracer()
metrics = Metrics()
_MEASURES = {
    "attribution_ndcg": "AttributionNDCG",
    "attribution_rank_correlation": "AttributionRankCorrelation",
    "outcome_psi": "OutcomePSI",
    "disclosure_coverage": "DisclosureCoverage",
    "overturn_ratio": "OverturnRatio",
    "appeal_ratio": "AppealRatio",
}


def _put(name: str, value: float, dimensions: dict[str, str], unit: MetricUnit = MetricUnit.NoUnit) -> None:
    """One metric with its own dimensions (an EMF object of a single metric: one `single_metric` each)."""
    with single_metric(name=name, unit=unit, value=value, default_dimensions=dimensions):
        pass


def publish(report: MonitoringReport) -> None:
    violated = sum(c.status == "violated" for c in report.checks)
    metrics.add_metric(name="MonitorViolations", unit=MetricUnit.Count, value=violated)  # what the alarm watches
    model = {"model_id": report.model_id}
    _put("MonitorViolations", violated, model, MetricUnit.Count)
    for check in report.checks:
        if check.check in _MEASURES and check.value is not None:
            _put(_MEASURES[check.check], check.value, model)
    for group in report.groups:
        if group.selection_rate is None or group.group == WITHHELD:
            continue  # too small to have a rate, or a label not fit to keep
        dimensions = {**model, "attribute": group.attributes, "group": group.group}
        _put("SelectionRate", group.selection_rate, dimensions)
        if group.impact_ratio is not None:
            _put("ImpactRatio", group.impact_ratio, dimensions)


@logger.inject_lambda_context(log_event=False)
@tracer.capture_lambda_handler(capture_response=False)
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    # The schedule's `time` is the evaluation time: a delayed retry still judges the hour it was for.
    now = parse_utc(event["time"]) if isinstance(event.get("time"), str) else datetime.now(UTC)
    service = monitoring_service()
    stored = service.run(now)
    summary = []
    for item in stored:
        if item.report is None:
            continue
        publish(item.report)
        if item.report.status == "violated":
            logger.warning("monitor violated", extra={"model_id": item.report.model_id, "report": item.key,
                                                      "violations": item.report.violations})  # fmt: skip
        summary.append({"model_id": item.report.model_id, "status": item.report.status, "report": item.key,
                        "violations": item.report.violations})  # fmt: skip
    # The review queue's SLA, hourly too: AppealsOverSlaAlarm and ReviewQueueDepthAlarm watch these metrics.
    backlog = [dataclasses.asdict(b) for b in service.review_backlog(now)]
    return {"evaluated_at": now.isoformat(), "reports": summary, "review_backlog": backlog}
