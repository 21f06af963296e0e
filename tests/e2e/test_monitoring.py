"""The hourly monitor on the local stack: bundled refund traffic trips the age-band monitor, not the gender
control; traffic leaning on another feature trips attribution drift; an empty window is "not enough data".

The monitoring job runs on demand (`LocalStack.run_scheduled`) as its EventBridge rule would run it,
with its own role; its reports are read back over the audit API and the CLI.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from infra import cli
from infra.synthetic import refund_requests
from tests.e2e.report_traffic import report_traffic

SHIFTED = 150  # customers with many complaints, few days since delivery, many orders: other features lead


def run_monitor(api, time: datetime) -> dict[str, Any]:
    """The refund model's entry of the run (the remote copies of the bundled models are monitored too)."""
    run = api.stack.run_scheduled("MonitoringFunction", time)
    (summary,) = [r for r in run["reports"] if r["model_id"] == "refund-decision"]
    return summary


def latest(api) -> dict[str, Any]:
    ahead = (datetime.now(UTC) + timedelta(hours=1)).isoformat()  # runs on demand are stamped up to minutes ahead
    response = api.call("GET", "/v1/monitoring/refund-decision", role="auditor", params={"to": ahead})
    assert response.status_code == 200, response.text
    return response.json()


def checks_of(report: dict[str, Any]) -> dict[tuple[str, str], dict[str, Any]]:
    return {(c["check"], c["subject"]): c for c in report["checks"]}


@pytest.fixture(scope="module")
def first_run(api) -> dict[str, Any]:
    report_traffic(api)  # 240 refund decisions of the bundled synthetic traffic (shared with the page tests)
    return run_monitor(api, datetime.now(UTC))


def test_bundled_traffic_trips_the_age_band_monitor_not_the_gender_control(api, first_run):
    assert first_run["status"] == "violated"
    report = latest(api)["latest"]
    checks = checks_of(report)
    age = checks["impact_ratio", "age_band"]
    assert age["status"] == "violated"
    assert age["violating_groups"] == ["65+"]  # the planted proxy bias, named
    assert age["value"] < 0.8
    assert checks["impact_ratio", "gender"]["status"] == "ok"
    assert checks["impact_ratio", "gender"]["violating_groups"] == []
    assert checks["attribution_ndcg", "model"]["status"] == "ok"  # same distribution as the validation set
    assert checks["disclosure_coverage", "model"]["status"] == "ok"
    assert any("65+" in line and "age_band" in line for line in report["violations"])
    assert not any("gender" in line for line in report["violations"])
    groups = {(g["attributes"], g["group"]): g for g in report["groups"]}
    assert groups["age_band", "65+"]["status"] == "violated"
    assert all(g["status"] != "violated" for (attribute, _), g in groups.items() if attribute == "gender")


def test_a_shift_in_what_drives_decisions_trips_the_drift_monitor(api, first_run):
    for n, request in enumerate(refund_requests(SHIFTED, seed=71)):
        inputs = {**request["inputs"], "days_since_delivery": 5, "previous_complaints": 12, "orders_12m": 150}
        body = {"request_id": f"monitor-shift-{n}", "locale": "en", "inputs": inputs, "segments": request["segments"]}
        response = api.decide("refund-decision", body)
        assert response.status_code == 200, response.text

    second = run_monitor(api, datetime.now(UTC) + timedelta(minutes=2))  # a later run than the first
    assert second["status"] == "violated"
    status = latest(api)
    report = status["latest"]
    drift = checks_of(report)["attribution_ndcg", "model"]
    assert drift["status"] == "violated"
    assert drift["value"] < 0.9
    assert "Previous complaints" in drift["violating_groups"]  # the feature that rose, by its display name
    assert any(line.startswith("attribution_ndcg of model") for line in report["violations"])
    assert status["latest_signature_valid"] is True

    # Chained and signed like the digests: the newest names the previous report's hash.
    history = status["history"]
    assert [run["signature_valid"] for run in history[:2]] == [True, True]
    assert history[0]["previous_report_sha256"] == history[1]["report_sha256"]


def test_an_empty_window_is_not_enough_data_never_an_alarm(api, first_run):
    quiet = run_monitor(api, datetime(2024, 1, 10, 9, tzinfo=UTC))  # before any record
    assert quiet["status"] == "not_enough_data"
    assert quiet["violations"] == []
    page = api.call(
        "GET",
        "/v1/monitoring/refund-decision",
        role="auditor",
        params={"from": "2024-01-10T00:00:00Z", "to": "2024-01-11T00:00:00Z"},
    ).json()
    (run,) = page["history"]
    assert run["status"] == "not_enough_data"
    assert run["violations"] == []


def test_history_pages_and_bad_input(api, first_run):
    one = api.call("GET", "/v1/monitoring/refund-decision", role="auditor", params={"limit": 1}).json()
    assert len(one["history"]) == 1
    assert one["next_cursor"]
    more = api.call(
        "GET", "/v1/monitoring/refund-decision", role="auditor", params={"limit": 1, "cursor": one["next_cursor"]}
    ).json()
    assert more["history"][0]["report_sha256"] != one["history"][0]["report_sha256"]

    assert api.call("GET", "/v1/monitoring/no-such-model", role="auditor").status_code == 404
    assert api.call("GET", "/v1/monitoring/refund-decision", role="chatbot").status_code == 403
    foreign = api.call("GET", "/v1/monitoring/refund-decision", role="auditor", params={"cursor": "monitoring/x/y"})
    assert foreign.status_code == 400
    assert api.call("GET", "/v1/monitoring/ticket-router", role="auditor").json()["monitored"] is False


def test_the_cli_shows_the_monitor(api, first_run, capsys):
    base = ["audit", "--api", api.stack.api_url, "--token", api.stack.tokens["auditor"]]
    assert cli.main([*base, "monitor", "--model", "refund-decision", "--limit", "2"]) == 0
    out, err = capsys.readouterr()
    assert json.loads(out)["latest"]["model_id"] == "refund-decision"
    assert "refund-decision: violated" in err
    assert "impact_ratio of age_band (65+)" in err
