"""The review queue's service level: how many appeals and referrals wait for a person, and how many too long.

Each model's manifest sets `review_sla_days` (default 30, the GDPR answer period). An item is
open while `received` or `in_review`; it is over the SLA once it has been open longer than that
many days since it was filed. A scheduled function publishes these numbers as CloudWatch metrics
(functions/review_sla_metrics.py), which the AppealsOverSla and ReviewQueueDepth alarms watch.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

from functions.schemas.customer import StoredAppeal

OPEN_STATUSES = ("received", "in_review")
DEFAULT_SLA_DAYS = 30  # for items of a model no longer registered: the manifest default


@dataclass(frozen=True)
class Backlog:
    """One model's open review items."""

    model_id: str
    sla_days: int
    open: int
    over_sla: int
    oldest_days: float  # age of the oldest open item, in days (0 when none is open)
    referrals: int  # of `open`, how many the review policy referred (the rest are customers' appeals)


def _filed(item: StoredAppeal) -> datetime:
    return datetime.fromisoformat(item.created_at.replace("Z", "+00:00"))


def backlogs(items: Iterable[StoredAppeal], sla_days: Mapping[str, int], now: datetime) -> list[Backlog]:
    """Per model (every model in `sla_days`, and any other with open items), sorted by model id."""
    by_model: dict[str, list[StoredAppeal]] = {model_id: [] for model_id in sla_days}
    for item in items:
        if item.status in OPEN_STATUSES:
            by_model.setdefault(item.model_id, []).append(item)
    result = []
    for model_id in sorted(by_model):
        open_items = by_model[model_id]
        days = sla_days.get(model_id, DEFAULT_SLA_DAYS)
        ages = [now - _filed(item) for item in open_items]
        result.append(
            Backlog(
                model_id=model_id,
                sla_days=days,
                open=len(open_items),
                over_sla=sum(age > timedelta(days=days) for age in ages),
                oldest_days=max(ages).total_seconds() / 86400 if ages else 0.0,
                referrals=sum(item.kind == "referral" for item in open_items),
            )
        )
    return result
