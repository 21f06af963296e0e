"""The review queue's service level: open items per model, those over the model's SLA, and the metrics."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from functions.domain.review_backlog import DEFAULT_SLA_DAYS, backlogs
from functions.review_sla_metrics import publish_review_backlog
from functions.schemas.customer import StoredAppeal
from tests.unit.domain.test_inputs import MANIFEST

NOW = datetime(2026, 12, 2, 9, 0, tzinfo=UTC)


def item(n: int, *, days: float, status="received", kind="appeal", model_id="toy") -> StoredAppeal:
    filed = (NOW - timedelta(days=days)).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    return StoredAppeal(
        appeal_id=f"A{n}",
        decision_id=f"D{n}",
        status=status,
        kind=kind,
        reason="why",
        created_at=filed,
        model_id=model_id,
        model_day=f"{model_id}#{filed[:10]}",
        locale="en",
    )


def test_open_items_older_than_the_models_sla_are_over_it():
    items = [
        item(1, days=31),  # over a 30-day SLA
        item(2, days=29, status="in_review"),
        item(3, days=40, status="upheld"),  # answered: not open
        item(4, days=2, kind="referral"),
        item(5, days=10, model_id="other"),  # a model no longer registered: the default SLA
    ]
    other, toy = backlogs(items, {"toy": 30}, NOW)  # sorted by model id
    assert (toy.model_id, toy.open, toy.over_sla, toy.referrals, toy.sla_days) == ("toy", 3, 1, 1, 30)
    assert toy.oldest_days == pytest.approx(31)
    assert (other.open, other.over_sla, other.sla_days) == (1, 0, DEFAULT_SLA_DAYS)
    (short,) = backlogs(items[:2], {"toy": 7}, NOW)
    assert short.over_sla == 2


def test_a_model_with_nothing_open_reports_zero():
    (toy,) = backlogs([], {"toy": 30}, NOW)
    assert (toy.open, toy.over_sla, toy.oldest_days) == (0, 0, 0.0)


def test_the_manifest_sla_defaults_to_the_gdpr_answer_period():
    assert MANIFEST.review_sla_days == 30


def test_the_metrics_go_out_as_embedded_metric_format(capsys, monkeypatch):
    monkeypatch.setenv("POWERTOOLS_SERVICE_NAME", "candor")
    manifest = MANIFEST.model_copy(update={"review_sla_days": 14})
    publish_review_backlog([item(1, days=15), item(2, days=1)], [manifest], NOW)
    emitted = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    totals = {
        e["_aws"]["CloudWatchMetrics"][0]["Metrics"][0]["Name"]: e
        for e in emitted
        if e["_aws"]["CloudWatchMetrics"][0]["Dimensions"] == [["service"]]
    }
    assert totals["AppealsOverSla"]["AppealsOverSla"] == [1.0]
    assert totals["ReviewQueueDepth"]["ReviewQueueDepth"] == [2.0]
    assert totals["ReviewOldestOpenDays"]["ReviewOldestOpenDays"][0] == pytest.approx(15)
    assert all(e["_aws"]["CloudWatchMetrics"][0]["Namespace"] == "Candor" for e in emitted)
    per_model = [e for e in emitted if e.get("model_id") == "toy"]
    assert {e["_aws"]["CloudWatchMetrics"][0]["Metrics"][0]["Name"] for e in per_model} == set(totals)
