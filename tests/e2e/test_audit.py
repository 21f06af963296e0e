"""Auditors and privacy officers over HTTP, on records made by real decisions."""

import csv
import dataclasses
import io
import json
from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest

from functions.domain.index_shards import object_spread
from functions.stores.idempotency_keys import decision_idempotency_key
from functions.stores.record_store import personal_key
from infra import cli
from infra.local.invocation import running
from infra.training.synthetic import refund_requests, ticket_messages
from tests.e2e.cli_output import printed

pytestmark = pytest.mark.e2e

SUBJECTS = [f"audit-subject-{n}" for n in range(8)]


@pytest.fixture(scope="module")
def traffic(api):
    """Decisions of both models from this module only (the window starts now)."""
    start = (datetime.now(UTC) - timedelta(milliseconds=1)).isoformat()  # decided_at's rounding, no more
    refunds = refund_requests(240, seed=21)
    for n, request in enumerate(refunds):
        body = {
            "request_id": f"audit-refund-{n}",
            "subject_id": SUBJECTS[n % len(SUBJECTS)],
            "locale": "en",
            "inputs": request["inputs"],
            "segments": request["segments"],
        }
        assert api.decide("refund-decision", body).status_code == 200
    for n, (text, _, _) in enumerate(ticket_messages(16, seed=21)):
        body = {"request_id": f"audit-ticket-{n}", "subject_id": SUBJECTS[n % 2], "inputs": {"text": text}}
        assert api.decide("ticket-router", body).status_code == 200
    end = (datetime.now(UTC) + timedelta(milliseconds=1)).isoformat()
    api.stack.drain()  # archived: the digest of their window would wait for the copy
    return {"from": start, "to": end, "refunds": len(refunds)}


def audit(api, path, role="auditor", **params):
    return api.call("GET", path, role=role, params=params)


def test_listing_pages_through_every_record_newest_first_without_scans(api, traffic, dynamodb_calls):
    seen, cursor = [], None
    while True:
        params = {"model_id": "refund-decision", "from": traffic["from"], "to": traffic["to"], "limit": 50}
        page = audit(api, "/v1/explanations", **params, **({"cursor": cursor} if cursor else {})).json()
        seen.extend(page["items"])
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert len(seen) == traffic["refunds"]
    assert len({i["decision_id"] for i in seen}) == len(seen)
    times = [i["decided_at"] for i in seen]
    assert times == sorted(times, reverse=True)
    assert "Scan" not in dynamodb_calls
    assert "Query" in dynamodb_calls


def test_listing_by_outcome_and_by_subject(api, traffic):
    window = {"from": traffic["from"], "to": traffic["to"], "limit": 200}
    denied = audit(api, "/v1/explanations", model_id="refund-decision", outcome="deny", **window).json()["items"]
    assert denied
    assert {i["outcome"] for i in denied} == {"deny"}
    mine = audit(api, "/v1/explanations", subject_id=SUBJECTS[3], **window).json()["items"]
    assert len(mine) == traffic["refunds"] // len(SUBJECTS)
    only_refunds = audit(api, "/v1/explanations", subject_id=SUBJECTS[0], model_id="ticket-router", **window).json()
    assert {i["model_id"] for i in only_refunds["items"]} == {"ticket-router"}


def test_one_record_reconstructed_and_verified(api, traffic):
    summary = audit(api, "/v1/explanations", model_id="refund-decision", limit=1, **{"from": traffic["from"]}).json()
    decision_id = summary["items"][0]["decision_id"]
    full = audit(api, f"/v1/explanations/{decision_id}").json()
    assert full["verified"] is True
    assert full["record"]["envelope"]["decision_id"] == decision_id
    assert full["record"]["personal"]["segments"]
    assert audit(api, "/v1/explanations/01NOTAREALDECISION0000000").status_code == 404


def test_fairness_report_finds_the_planted_age_bias(api, traffic):
    report = audit(
        api, "/v1/reports/fairness", model_id="refund-decision", attribute="age_band", min_group_size=20,
        **{"from": traffic["from"], "to": traffic["to"]},
    ).json()  # fmt: skip
    groups = {g["group"]: g for g in report["groups"]}
    assert report["records"] == traffic["refunds"]
    assert groups["65+"]["flagged"] is True
    assert groups["65+"]["impact_ratio"] < 0.8
    assert min(report["groups"], key=lambda g: g["impact_ratio"])["group"] == "65+"
    assert report["demographic_parity_difference"] > 0.1
    assert set(report["conventions"]) >= {"selection_rate", "impact_ratio", "flag", "demographic_parity_difference"}

    control = audit(api, "/v1/reports/fairness", model_id="refund-decision", attribute="gender", min_group_size=20,
                    **{"from": traffic["from"], "to": traffic["to"]}).json()  # fmt: skip
    assert control["flagged_groups"] == []

    both = audit(api, "/v1/reports/fairness", model_id="refund-decision", attribute="age_band", attribute2="gender",
                 min_group_size=5, **{"from": traffic["from"], "to": traffic["to"]}).json()  # fmt: skip
    assert all(" | " in g["group"] for g in both["groups"] + both["small_groups"])


def test_a_window_with_whole_past_hours_reads_them_from_the_rollups(api, traffic):
    """The audit function's Query of the rollups table, as deployed (and seen by the IAM check)."""
    since = (datetime.fromisoformat(traffic["from"]) - timedelta(days=3)).isoformat()
    fairness = {"attribute": "age_band", "min_group_size": 20}
    for path, params in (("/v1/reports/fairness", fairness), ("/v1/reports/attributions", {})):
        response = audit(api, path, model_id="refund-decision", **params, **{"from": since, "to": traffic["to"]})
        assert response.status_code == 200, response.text
        report = response.json()
        assert "from the rollups" in report["conventions"]["source"]
    assert report["current"]["records"] >= traffic["refunds"]


def test_attribution_report_with_drift(api, traffic):
    window = {"from": traffic["from"], "to": traffic["to"]}
    report = audit(api, "/v1/reports/attributions", model_id="refund-decision", **window,
                   baseline_from=traffic["from"], baseline_to=traffic["to"]).json()  # fmt: skip
    names = [f["display_name"] for f in report["features"]]
    assert "Contact channel" in names
    assert report["features"][0]["rank"] == 1
    assert all(f["rank_change"] == 0 for f in report["features"])
    assert report["outcome_psi"] == pytest.approx(0, abs=1e-9)
    assert sum(report["current"]["outcomes"].values()) == traffic["refunds"]
    assert report["current"]["disclosure_coverage"] == 1.0


@pytest.mark.parametrize(
    ("path", "params", "status", "field"),
    [
        ("/v1/explanations", {"model_id": "refund-decision", "from": "2026-02-01", "to": "2026-01-01"}, 422, "from"),
        ("/v1/explanations", {"model_id": "refund-decision", "from": "2020-01-01", "to": "2026-01-01"}, 422, "from"),
        ("/v1/explanations", {"model_id": "refund-decision", "from": "yesterday"}, 422, "from"),
        ("/v1/explanations", {}, 422, "model_id"),
        ("/v1/explanations", {"model_id": "nope"}, 404, None),
        ("/v1/explanations", {"model_id": "refund-decision", "cursor": "bm90LWEtY3Vyc29y"}, 400, "cursor"),
        ("/v1/explanations", {"model_id": "refund-decision", "limit": 5000}, 422, "query.limit"),
        ("/v1/reports/fairness", {"model_id": "ticket-router", "attribute": "age_band"}, 422, "model_id"),
        ("/v1/reports/fairness", {"model_id": "refund-decision", "attribute": "shoe_size"}, 422, "attribute"),
        ("/v1/reports/fairness", {"model_id": "refund-decision"}, 422, "query.attribute"),
        (
            "/v1/reports/attributions",
            {"model_id": "refund-decision", "baseline_from": "2026-01-01"},
            422,
            "baseline_from",
        ),
    ],
)
def test_bad_auditor_queries_get_a_clear_4xx(api, traffic, path, params, status, field):
    response = audit(api, path, **params)
    assert response.status_code == status, response.text
    if field:
        assert response.json()["error"]["field"] == field


AUDITOR_ROUTES = [
    ("GET", "/v1/explanations?model_id=refund-decision"),
    ("GET", "/v1/explanations/01JF0000000000000000000000"),
    ("GET", "/v1/reports/fairness?model_id=refund-decision&attribute=age_band"),
    ("GET", "/v1/reports/attributions?model_id=refund-decision"),
]
# A well-formed body, so the role check is what answers (a malformed body is a 422 before it).
BODIES = {"PUT": {"on": True}}
PRIVACY_ROUTES = [("DELETE", "/v1/subjects/someone"), ("PUT", "/v1/explanations/01JF0000000000000000000000/legal-hold")]


@pytest.mark.parametrize(("method", "path"), AUDITOR_ROUTES + PRIVACY_ROUTES)
def test_chatbots_are_refused_on_auditor_and_privacy_routes(api, method, path):
    assert api.call(method, path, role="chatbot", json=BODIES.get(method)).status_code == 403
    # Without credentials, GET /v1/explanations/{id} is the customer API's route, which wants a token: 403.
    shared_with_customers = method == "GET" and path.count("/") == 3 and path.startswith("/v1/explanations/")
    anonymous = 403 if shared_with_customers else 401
    assert api.call(method, path, role=None).status_code == anonymous


@pytest.mark.parametrize(("method", "path"), PRIVACY_ROUTES)
def test_auditors_cannot_erase(api, method, path):
    assert api.call(method, path, role="auditor", json=BODIES.get(method)).status_code == 403


def test_erasure_removes_or_restricts_and_keeps_envelopes_verifiable(api, traffic):
    subject = SUBJECTS[1]  # has refund decisions (consequential: kept 3 years) and routing ones (standard)
    window = {"from": traffic["from"], "to": traffic["to"], "limit": 200}
    before = audit(api, "/v1/explanations", subject_id=subject, **window).json()["items"]
    answers = {i["decision_id"]: answer_key(api, i["decision_id"]) for i in before}
    assert all(remembered(api, key) for key in answers.values())  # kept for replays of the request_id...

    first = api.call("DELETE", f"/v1/subjects/{subject}", role="privacy")
    assert first.status_code == 200, first.text
    receipt = first.json()
    actions = Counter(r["action"] for r in receipt["records"])
    by_model = {i["decision_id"]: i["model_id"] for i in before}
    assert actions["erased"] == sum(m == "ticket-router" for m in by_model.values())
    assert actions["restricted"] == sum(m == "refund-decision" for m in by_model.values())
    assert subject not in first.text

    for item in before:
        full = audit(api, f"/v1/explanations/{item['decision_id']}").json()
        assert full["verified"] is True
        assert full["record"]["personal"] is None
        assert full["erasure_status"] == ("erased" if item["model_id"] == "ticket-router" else "restricted")

    s3 = api.aws("s3")
    env = api.stack.env
    erased = [d for d, m in by_model.items() if m == "ticket-router"]
    assert not s3.list_object_versions(Bucket=env["CANDOR_PERSONAL_BUCKET"], Prefix=personal_key(erased[0])).get(
        "Versions"
    )
    for item in before:  # ... until erasure: the remembered answer repeats the inputs' display values
        assert remembered(api, answers[item["decision_id"]]) is (item["model_id"] == "refund-decision")
    receipt_key = f"erasures/{receipt['erasure_id']}.json"
    assert s3.head_object(Bucket=env["CANDOR_ARCHIVE_BUCKET"], Key=receipt_key)["ContentLength"] > 0

    again = api.call("DELETE", f"/v1/subjects/{subject}", role="privacy").json()
    assert again["already_done"] == len(before)
    assert again["erased"] == again["restricted"] == 0

    fairness = audit(api, "/v1/reports/fairness", model_id="refund-decision", attribute="age_band",
                     min_group_size=20, **{"from": traffic["from"], "to": traffic["to"]}).json()  # fmt: skip
    assert fairness["unknown"] == actions["restricted"]


def answer_key(api, decision_id: str) -> str:
    """Where the decision's answer is remembered for retries (model id and request_id from the record)."""
    envelope = audit(api, f"/v1/explanations/{decision_id}").json()["record"]["envelope"]
    return decision_idempotency_key(envelope["model"]["id"], envelope["request_id"])


def remembered(api, key: str) -> bool:
    table = api.stack.env["CANDOR_IDEMPOTENCY_TABLE"]
    return "Item" in api.aws("dynamodb").get_item(TableName=table, Key={"id": {"S": key}})


def test_the_cli_queries_exports_and_reports(api, traffic, capsys):
    base = ["audit", "--api", api.stack.api_url, "--token", api.stack.tokens["auditor"]]
    window = ["--from", traffic["from"], "--to", traffic["to"]]

    assert cli.main([*base, "export", "--model", "refund-decision", *window, "--format", "csv"]) == 0
    out, err = capsys.readouterr()
    rows = list(csv.DictReader(io.StringIO(printed(out))))
    assert len(rows) == traffic["refunds"]
    assert f"{traffic['refunds']} records exported." in err

    assert cli.main([*base, "fairness", "--model", "refund-decision", "--attribute", "age_band", *window]) == 0
    assert "65+" in json.loads(printed(capsys.readouterr().out))["flagged_groups"]

    with pytest.raises(SystemExit, match="422 invalid_input"):
        cli.main([*base, "query", "--model", "refund-decision", "--from", "2026-02-01", "--to", "2026-01-01"])


def test_integrity_verification_over_http_catches_an_altered_record(api, traffic, monkeypatch, digests_undone):
    from functions.api.routes import audit as audit_routes
    from functions.integrity_service import integrity_service
    from functions.schemas.record import Envelope
    from functions.stores.record_store import archive_key

    # An hour and ten minutes from now, the traffic's window has closed and the hourly job has digested it.
    later = datetime.now(UTC) + timedelta(hours=1, minutes=10)
    monkeypatch.setattr(audit_routes, "_now", lambda: later)
    service = dataclasses.replace(integrity_service(), first_window=datetime.fromisoformat(traffic["from"]))
    with running("IntegrityFunction"):  # the hourly job, run here with its role's S3 answers
        service.write_due(now=later)
    window = {"from": traffic["from"], "to": traffic["to"]}
    report = audit(api, "/v1/integrity/verify", **window).json()
    assert report["ok"] is True, report
    assert report["records_checked"] >= traffic["refunds"]

    item = audit(api, "/v1/explanations", model_id="refund-decision", limit=1, **window).json()["items"][0]
    stored = audit(api, f"/v1/explanations/{item['decision_id']}").json()
    key = archive_key(Envelope.model_validate(stored["record"]["envelope"]))
    forged = {"envelope": {**stored["record"]["envelope"], "outcome": {**stored["record"]["envelope"]["outcome"],
              "label": "approve"}}, "content_sha256": stored["record"]["content_sha256"]}  # fmt: skip
    bucket = api.stack.env["CANDOR_ARCHIVE_BUCKET"]
    original = api.aws("s3").get_object(Bucket=bucket, Key=key)["Body"].read()
    api.aws("s3").put_object(Bucket=bucket, Key=key, Body=json.dumps(forged).encode(), ChecksumAlgorithm="SHA256")
    try:
        report = audit(api, "/v1/integrity/verify", **window).json()
    finally:  # the shared stack as it was, for the tests after this one
        api.aws("s3").put_object(Bucket=bucket, Key=key, Body=original, ChecksumAlgorithm="SHA256")
    assert report["ok"] is False
    assert item["decision_id"] in json.dumps(report["altered"])
    assert audit(api, "/v1/integrity/verify", **{"from": "2026-01-01", "to": "2026-03-01"}).status_code == 422


def test_a_legal_hold_turns_an_erasure_into_a_restriction(api, traffic):
    subject = SUBJECTS[0]  # also has routing records: standard retention, erasable (runs after the erasure test)
    window = {"from": traffic["from"], "to": traffic["to"], "limit": 200}
    mine = audit(api, "/v1/explanations", subject_id=subject, model_id="ticket-router", **window).json()["items"]
    held = mine[0]["decision_id"]
    response = api.call("PUT", f"/v1/explanations/{held}/legal-hold", role="privacy", json={"on": True})
    assert response.status_code == 200, response.text
    assert response.json()["legal_hold"] is True
    key = f"records/model=ticket-router/date={mine[0]['decided_at'][:10]}/{object_spread(held)}-{held}.json"
    head = api.aws("s3").head_object(Bucket=api.stack.env["CANDOR_ARCHIVE_BUCKET"], Key=key)
    assert head["ObjectLockLegalHoldStatus"] == "ON"

    actions = {
        r["decision_id"]: r["action"]
        for r in api.call("DELETE", f"/v1/subjects/{subject}", role="privacy").json()["records"]
    }
    assert actions[held] == "restricted"
    assert all(actions[i["decision_id"]] == "erased" for i in mine[1:])
    unknown = api.call(
        "PUT", "/v1/explanations/01NOSUCHDECISION0000000000/legal-hold", role="privacy", json={"on": True}
    )
    assert unknown.status_code == 404


def test_the_cli_verifies_a_week_one_day_per_call(api, capsys):
    """The route checks at most a day per call (API Gateway's 29 s); `candor audit verify` loops."""
    base = ["audit", "--api", api.stack.api_url, "--token", api.stack.tokens["auditor"]]
    end = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    start = end - timedelta(days=3)
    assert cli.main([*base, "verify", "--from", start.isoformat(), "--to", end.isoformat()]) == 0
    report = json.loads(printed(capsys.readouterr().out))
    assert report["span_start"].startswith(start.strftime("%Y-%m-%dT%H"))
    assert report["span_end"].startswith(end.strftime("%Y-%m-%dT%H"))
    # Nothing digested on this stack: every hour of the three days is listed, none twice, and that is no failure.
    assert len(report["undigested_windows"]) == len(set(report["undigested_windows"])) == 72
    assert report["ok"] is True

    assert cli.main([*base, "verify"]) == 0  # the default span, a week, is no 422 either
    assert json.loads(printed(capsys.readouterr().out))["ok"] is True
