"""The hourly monitor on the local stack: bundled refund traffic trips the age-band monitor, not the gender
control; a second model version that leans on other features trips attribution drift against the first
version's baseline (infra/training/drifted_model.py); an empty window is "not enough data".

The monitoring job runs on demand (`LocalStack.run_scheduled`) as its EventBridge rule would run it,
with its own role; its reports are read back over the audit API and the CLI.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from infra import cli
from infra.template import load_template
from infra.training.synthetic import refund_requests
from tests.e2e.cli_output import printed_json
from tests.e2e.report_traffic import report_traffic

MORE = 200  # more of the bundled traffic: 240 requests alone leave the 65+ ratio near the line by chance
VERSION_2 = "refund-decision-v2"  # retrained without days since delivery; version 1's baseline


def run_monitor(api, time: datetime, model_id: str = "refund-decision") -> dict[str, Any]:
    """One model's entry of a run of the monitoring job (every monitored model is evaluated)."""
    run = api.stack.run_scheduled("MonitoringFunction", time)
    (summary,) = [r for r in run["reports"] if r["model_id"] == model_id]
    return summary


def latest(api, model_id: str = "refund-decision") -> dict[str, Any]:
    ahead = (datetime.now(UTC) + timedelta(hours=1)).isoformat()  # runs on demand are stamped up to minutes ahead
    response = api.call("GET", f"/v1/monitoring/{model_id}", role="auditor", params={"to": ahead})
    assert response.status_code == 200, response.text
    return response.json()


def checks_of(report: dict[str, Any]) -> dict[tuple[str, str], dict[str, Any]]:
    return {(c["check"], c["subject"]): c for c in report["checks"]}


@pytest.fixture(scope="module")
def first_run(api) -> dict[str, Any]:
    report_traffic(api)  # 240 refund decisions of the bundled synthetic traffic (shared with the page tests)
    for n, request in enumerate(refund_requests(MORE, seed=7)):
        body = {"request_id": f"monitor-{n}", "locale": "en", **{k: request[k] for k in ("inputs", "segments")}}
        response = api.decide("refund-decision", body)
        assert response.status_code == 200, response.text
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
    # Human review: a handful of resolved appeals at most, far from 30 per group: never a false alarm.
    assert checks["overturn_ratio", "age_band"]["status"] == "not_enough_data"
    assert checks["appeal_ratio", "gender"]["status"] == "not_enough_data"
    assert any("65+" in line and "age_band" in line for line in report["violations"])
    assert not any("gender" in line for line in report["violations"])
    groups = {(g["attributes"], g["group"]): g for g in report["groups"]}
    assert groups["age_band", "65+"]["status"] == "violated"
    assert all(g["status"] != "violated" for (attribute, _), g in groups.items() if attribute == "gender")


def test_a_version_leaning_on_other_features_trips_the_drift_monitor(api, first_run):
    for n, request in enumerate(refund_requests(150, seed=71)):  # the same kind of traffic, to version 2
        body = {"request_id": f"monitor-v2-{n}", "locale": "en", **{k: request[k] for k in ("inputs", "segments")}}
        response = api.decide(VERSION_2, body)
        assert response.status_code == 200, response.text

    second = run_monitor(api, datetime.now(UTC) + timedelta(minutes=2), VERSION_2)  # a later run than the first
    assert second["status"] == "violated"
    status = latest(api, VERSION_2)
    report = status["latest"]
    drift = checks_of(report)["attribution_ndcg", "model"]
    assert drift["status"] == "violated"
    assert drift["value"] < 0.9
    assert "Days since delivery" not in drift["violating_groups"]  # it fell; the features that rose are named
    assert drift["violating_groups"]
    assert any(line.startswith("attribution_ndcg of model") for line in report["violations"])
    assert status["latest_signature_valid"] is True
    # Version 1, on the same kind of traffic, keeps its attributions: no drift there.
    assert checks_of(latest(api)["latest"])["attribution_ndcg", "model"]["status"] == "ok"

    # Chained and signed like the digests: the newest names the previous report's hash.
    history = latest(api)["history"]
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
    ahead = (datetime.now(UTC) + timedelta(hours=1)).isoformat()
    params = {"limit": 1, "to": ahead}
    one = api.call("GET", "/v1/monitoring/refund-decision", role="auditor", params=params).json()
    assert len(one["history"]) == 1
    assert one["next_cursor"]
    more = api.call(
        "GET", "/v1/monitoring/refund-decision", role="auditor", params={**params, "cursor": one["next_cursor"]}
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
    assert printed_json(out)["latest"]["model_id"] == "refund-decision"
    assert "refund-decision: violated" in err
    assert "impact_ratio of age_band (65+)" in err


def test_an_appeal_older_than_its_sla_is_published_for_its_alarm(api, first_run):
    """The hourly job counts the review queue against each model's SLA (30 days for refund-decision)."""
    filed = datetime.now(UTC) - timedelta(days=41)  # the schedule event's time has whole seconds
    created_at = filed.isoformat(timespec="milliseconds").replace("+00:00", "Z")
    item = {
        "decision_id": "01OVERDUEDECISION000000000", "appeal_id": "01OVERDUEAPPEAL00000000000",
        "status": "received", "kind": "appeal", "reason": "I was charged twice", "created_at": created_at,
        "model_id": "refund-decision", "model_day": f"refund-decision#{created_at[:10]}", "locale": "en",
    }  # fmt: skip
    appeals = api.stack.env["CANDOR_APPEALS_TABLE"]
    api.aws("dynamodb").put_item(TableName=appeals, Item={k: {"S": v} for k, v in item.items()})
    try:
        run = api.stack.run_scheduled("MonitoringFunction", datetime.now(UTC))
    finally:
        api.aws("dynamodb").delete_item(TableName=appeals, Key={"decision_id": {"S": item["decision_id"]}})
    (backlog,) = [b for b in run["review_backlog"] if b["model_id"] == "refund-decision"]
    assert backlog["sla_days"] == 30
    assert backlog["over_sla"] >= 1 and backlog["oldest_days"] >= 40

    # What AppealsOverSlaAlarm watches is what the job published (namespace Candor, per service).
    alarm = load_template(api.stack.template_path)["Resources"]["AppealsOverSlaAlarm"]["Properties"]
    assert (alarm["MetricName"], alarm["Namespace"]) == ("AppealsOverSla", "Candor")
    assert alarm["ComparisonOperator"] == "GreaterThanOrEqualToThreshold" and alarm["Threshold"] == 1
