"""The review queue's service level as CloudWatch metrics, for a scheduled function to publish (hourly).

    from functions.review_sla_metrics import publish_review_backlog
    publish_review_backlog(AwsOpenReviews(table=..., dynamodb=...).open_items(), registry.manifests())

Embedded metric format (Powertools), so publishing needs no IAM grant: the metrics reach
CloudWatch through the function's log. `AppealsOverSla` and `ReviewQueueDepth` (namespace
`Candor`, dimension `service`, as Powertools sets it from POWERTOOLS_SERVICE_NAME) are what the
template's alarms watch; the same numbers per model also carry `model_id`, for dashboards.
Kept apart from any one function so that the function that runs on a schedule can call it
(the caller needs dynamodb:Scan on the appeals table).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime

from aws_lambda_powertools.metrics import MetricUnit, single_metric

from functions.domain.review_backlog import Backlog, backlogs
from functions.schemas.customer import StoredAppeal
from functions.schemas.manifest import ModelManifest

NAMESPACE = "Candor"
OVER_SLA, QUEUE_DEPTH, OLDEST = "AppealsOverSla", "ReviewQueueDepth", "ReviewOldestOpenDays"


def publish_review_backlog(
    open_items: Iterable[StoredAppeal], manifests: Iterable[ModelManifest], now: datetime | None = None
) -> list[Backlog]:
    """Compute each model's backlog against its `review_sla_days`, emit the metrics, return the backlogs."""
    found = backlogs(open_items, {m.id: m.review_sla_days for m in manifests}, now or datetime.now(UTC))
    totals = {
        OVER_SLA: sum(b.over_sla for b in found),
        QUEUE_DEPTH: sum(b.open for b in found),
        OLDEST: max((b.oldest_days for b in found), default=0.0),
    }
    for name, value in totals.items():
        _emit(name, value, {})
    for backlog in found:
        dimensions = {"model_id": backlog.model_id}
        _emit(OVER_SLA, backlog.over_sla, dimensions)
        _emit(QUEUE_DEPTH, backlog.open, dimensions)
        _emit(OLDEST, backlog.oldest_days, dimensions)
    return found


def _emit(name: str, value: float, dimensions: dict[str, str]) -> None:
    unit = MetricUnit.NoUnit if name == OLDEST else MetricUnit.Count  # days: CloudWatch has no such unit
    with single_metric(name=name, unit=unit, value=value, namespace=NAMESPACE) as metric:
        for key, dimension in dimensions.items():
            metric.add_dimension(name=key, value=dimension)
