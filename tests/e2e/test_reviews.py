"""Human review over HTTP: the customer's appeal, a reviewer's claim and verdict, the customer's page, integrity."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from infra.local.invocation import running
from tests.e2e.cli_output import printed_json
from tests.e2e.customer import appeal_item, decided


def review(api, method, path, **kwargs):
    return api.call(method, path, role="reviewer", **kwargs)


def customer_get(api, path, token):
    return api.call("GET", path, role=None, params={"token": token})


def appeal_from_the_page(api, decision_id, token, reason):
    """What the page's form sends (form-encoded), as a browser would."""
    sent = api.call(
        "POST", f"/v1/explanations/{decision_id}/appeal", role=None, params={"token": token}, data={"reason": reason}
    )
    assert sent.status_code == 201, sent.text
    return sent


def test_an_appeal_is_claimed_resolved_and_shown_to_the_customer_and_its_review_verifies(
    api, monkeypatch, digests_undone
):
    start = (datetime.now(UTC) - timedelta(seconds=1)).isoformat()
    decision_id, token, _ = decided(api, "demo-refund-2")  # es-ES
    appeal_from_the_page(api, decision_id, token, "El paquete llegó roto; llámenme al 612 345 678")

    queue = review(api, "GET", "/v1/reviews", params={"model_id": "refund-decision", "limit": 200}).json()
    listed = [item for item in queue["items"] if item["decision_id"] == decision_id]
    assert len(listed) == 1 and listed[0]["status"] == "received" and listed[0]["kind"] == "appeal", queue
    assert [i["created_at"] for i in queue["items"]] == sorted(i["created_at"] for i in queue["items"])

    case = review(api, "GET", f"/v1/reviews/{decision_id}").json()
    assert case["appeal"]["reason"] == "El paquete llegó roto; llámenme al [PHONE]"
    assert case["customer_view"]["language"] == "es"
    assert case["record"]["personal"]["inputs"]  # the inputs, beside the full explanation
    assert case["record"]["envelope"]["explanation"]["contributions"]
    assert case["verified"] is True
    original = case["record"]["envelope"]["outcome"]["label"]
    new_outcome = next(label for label in case["labels"] if label != original)

    # Resolving before claiming is refused; a claim makes it in_review, for this reviewer.
    early = review(api, "POST", f"/v1/reviews/{decision_id}/resolve", json={"verdict": "upheld", "reason": "ok"})
    assert early.status_code == 409
    claimed = review(api, "POST", f"/v1/reviews/{decision_id}/claim")
    assert claimed.status_code == 200, claimed.text
    assert claimed.json()["status"] == "in_review"
    assert claimed.json()["claimed_by"].startswith("rv_")
    assert "local" not in claimed.json()["claimed_by"]  # a keyed pseudonym, not the session name

    reason = "El cliente aportó fotos del daño: procede el reembolso."
    resolved = review(
        api,
        "POST",
        f"/v1/reviews/{decision_id}/resolve",
        json={"verdict": "overturned", "reason": reason, "new_outcome": new_outcome},
    )
    assert resolved.status_code == 201, resolved.text
    sealed = resolved.json()
    assert sealed["review"]["decision_id"] == decision_id
    assert sealed["review"]["envelope_sha256"] == case["record"]["content_sha256"]
    assert (sealed["review"]["original_outcome"], sealed["review"]["final_outcome"]) == (original, new_outcome)
    again = review(api, "POST", f"/v1/reviews/{decision_id}/resolve", json={"verdict": "upheld", "reason": "x"})
    assert again.status_code == 409  # write-once: a second verdict is refused
    assert review(api, "POST", f"/v1/reviews/{decision_id}/claim").status_code == 409

    item = appeal_item(api, decision_id)
    assert item["status"]["S"] == "overturned" and item["review_sha256"]["S"] == sealed["content_sha256"]
    assert review(api, "GET", f"/v1/reviews/{decision_id}").json()["review"] == sealed  # the case links it

    # The customer sees the verdict, in Spanish (the decision's language), on the page and in the JSON.
    view = customer_get(api, f"/v1/explanations/{decision_id}", token).json()
    assert view["appeal"]["status"] == "overturned"
    assert view["review"]["verdict"] == "overturned"
    assert view["review"]["reason"] == reason
    assert view["review"]["statement"].startswith("Una persona revisó esta decisión el ")
    page = customer_get(api, f"/v1/explanations/{decision_id}/view", token).text
    assert "revocada" in page and "la revocó" in page and "procede el reembolso" in page

    # The sealed review is listed in the digest of its window and verifies.
    from functions.api.routes import audit as audit_routes
    from functions.integrity_service import integrity_service

    later = datetime.now(UTC) + timedelta(hours=1, minutes=10)
    monkeypatch.setattr(audit_routes, "_now", lambda: later)
    end = (datetime.now(UTC) + timedelta(seconds=1)).isoformat()
    import dataclasses

    service = dataclasses.replace(integrity_service(), first_window=datetime.fromisoformat(start))
    api.stack.drain()  # a window is digested once its records are copied to the archive
    with running("IntegrityFunction"):
        service.write_due(now=later)
    window = {"from": start, "to": end}
    report = api.call("GET", "/v1/integrity/verify", role="auditor", params=window).json()
    # The window is shared with the package's other tests (some tamper with their own records on purpose):
    # this review is listed, re-hashed and found sound, and the digest itself verifies.
    assert report["windows_checked"] == 1 and not report["bad_signatures"] and not report["broken_chain"], report
    assert f"review:{decision_id}" not in json.dumps([report[k] for k in ("altered", "missing", "inserted")])

    # A forged review (another reason, same hash) is caught as altered; then the original is put back.
    bucket, key = api.stack.env["CANDOR_ARCHIVE_BUCKET"], item["review_key"]["S"]
    original_bytes = api.aws("s3").get_object(Bucket=bucket, Key=key)["Body"].read()
    forged = {**sealed, "review": {**sealed["review"], "reason": "forged"}}
    api.aws("s3").put_object(Bucket=bucket, Key=key, Body=json.dumps(forged).encode())
    try:
        report = api.call("GET", "/v1/integrity/verify", role="auditor", params=window).json()
    finally:
        api.aws("s3").put_object(Bucket=bucket, Key=key, Body=original_bytes)
    assert report["ok"] is False
    assert f"review:{decision_id}" in json.dumps(report["altered"])


def test_an_english_customer_sees_an_upheld_verdict_in_english(api):
    decision_id, token, _ = decided(api, "demo-refund-1")  # en
    appeal_from_the_page(api, decision_id, token, "Please check again")
    assert review(api, "POST", f"/v1/reviews/{decision_id}/claim").status_code == 200
    resolved = review(
        api, "POST", f"/v1/reviews/{decision_id}/resolve", json={"verdict": "upheld", "reason": "The policy applies."}
    )
    assert resolved.status_code == 201, resolved.text
    view = customer_get(api, f"/v1/explanations/{decision_id}", token).json()
    assert view["review"]["statement"].startswith("A person reviewed this decision on ")
    assert "upheld it" in view["review"]["statement"]
    page = customer_get(api, f"/v1/explanations/{decision_id}/view", token).text
    assert "The policy applies." in page and "upheld" in page


@pytest.mark.parametrize(
    ("body", "status"),
    [
        ({"verdict": "overturned", "reason": "no outcome"}, 422),
        ({"verdict": "overturned", "reason": "unknown", "new_outcome": "maybe"}, 422),
        ({"verdict": "upheld", "reason": ""}, 422),
        ({"verdict": "perhaps", "reason": "x"}, 422),
    ],
)
def test_bad_verdicts_are_refused_and_nothing_is_stored(api, body, status):
    decision_id, token, _ = decided(api, "demo-refund-1")
    appeal_from_the_page(api, decision_id, token, "Wrong")
    assert review(api, "POST", f"/v1/reviews/{decision_id}/claim").status_code == 200
    assert review(api, "POST", f"/v1/reviews/{decision_id}/resolve", json=body).status_code == status
    item = appeal_item(api, decision_id)
    assert item["status"]["S"] == "in_review" and "review_key" not in item


def test_the_reviewer_routes_are_for_reviewers_only(api):
    assert api.call("GET", "/v1/reviews", role="auditor", params={"model_id": "refund-decision"}).status_code == 403
    assert api.call("GET", "/v1/reviews", role=None, params={"model_id": "refund-decision"}).status_code in (401, 403)
    assert review(api, "GET", "/v1/reviews", params={"model_id": "no-such-model"}).status_code == 404
    assert review(api, "GET", "/v1/reviews/01NOSUCHDECISION").status_code == 404
    assert review(api, "POST", "/v1/reviews/01NOSUCHDECISION/claim").status_code == 404


def test_the_queue_filters_by_status_and_adverse(api):
    decision_id, token, _ = decided(api, "demo-refund-1")
    appeal_from_the_page(api, decision_id, token, "Filter me")
    params = {"model_id": "refund-decision", "limit": 200}
    received = review(api, "GET", "/v1/reviews", params={**params, "status": "received"}).json()["items"]
    assert decision_id in {i["decision_id"] for i in received}
    adverse = received[[i["decision_id"] for i in received].index(decision_id)]["adverse"]
    flipped = review(api, "GET", "/v1/reviews", params={**params, "adverse": str(not adverse).lower()}).json()
    assert decision_id not in {i["decision_id"] for i in flipped["items"]}
    resolved = review(api, "GET", "/v1/reviews", params={**params, "status": "upheld"}).json()["items"]
    assert decision_id not in {i["decision_id"] for i in resolved}
    old = review(api, "GET", "/v1/reviews", params={**params, "older_than_days": 1}).json()["items"]
    assert decision_id not in {i["decision_id"] for i in old}


def test_a_case_shows_similar_past_decisions_and_how_their_reviews_ended(api):
    earlier, token, _ = decided(api, "demo-refund-1")
    appeal_from_the_page(api, earlier, token, "First")
    decision_id, token, _ = decided(api, "demo-refund-1")
    appeal_from_the_page(api, decision_id, token, "Second")
    case = review(api, "GET", f"/v1/reviews/{decision_id}").json()
    outcome = case["record"]["envelope"]["outcome"]["label"]
    similar = {s["decision_id"]: s for s in case["similar"]}
    assert earlier in similar and decision_id not in similar
    assert similar[earlier]["outcome"] == outcome and similar[earlier]["review_status"] == "received"
    assert len(case["similar"]) <= 5


def test_the_cli_lists_shows_claims_and_resolves(api, capsys):
    from infra import cli

    decision_id, token, _ = decided(api, "demo-refund-1")
    appeal_from_the_page(api, decision_id, token, "Through the CLI")
    base = ["review", "--api", api.stack.api_url, "--token", api.stack.tokens["reviewer"]]

    assert cli.main([*base, "list", "--model", "refund-decision", "--status", "received", "--limit", "200"]) == 0
    listed = printed_json(capsys.readouterr().out)["items"]
    assert decision_id in {item["decision_id"] for item in listed}
    assert cli.main([*base, "show", decision_id]) == 0
    case = printed_json(capsys.readouterr().out)
    assert case["appeal"]["reason"] == "Through the CLI"
    assert cli.main([*base, "claim", decision_id]) == 0
    assert printed_json(capsys.readouterr().out)["status"] == "in_review"
    with pytest.raises(SystemExit, match="422 invalid_input"):
        cli.main([*base, "resolve", decision_id, "--verdict", "overturned", "--reason", "no outcome given"])
    assert cli.main([*base, "resolve", decision_id, "--verdict", "upheld", "--reason", "Policy applies."]) == 0
    assert printed_json(capsys.readouterr().out)["review"]["verdict"] == "upheld"
    assert cli.main([*base, "list", "--model", "refund-decision", "--status", "upheld", "--status", "overturned",
                     "--limit", "200"]) == 0  # fmt: skip
    assert decision_id in {item["decision_id"] for item in printed_json(capsys.readouterr().out)["items"]}


def test_the_reviewer_pages_over_http_claim_and_resolve_with_form_posts(api):
    """The pages' forms as a browser without scripts sends them (the Chromium run: test_review_pages_browser.py)."""
    decision_id, token, _ = decided(api, "demo-refund-2")
    appeal_from_the_page(api, decision_id, token, "<b>Bitte</b> prüfen")
    queue = review(
        api, "GET", "/v1/reviewer/queue", params={"model_id": "refund-decision", "status": "received", "limit": 200}
    )
    assert queue.status_code == 200 and queue.headers["Content-Type"].startswith("text/html")
    assert "script-src" not in queue.headers["Content-Security-Policy"]  # default-src 'none': no scripts at all
    assert f'<a href="cases/{decision_id}">' in queue.text

    page = review(api, "GET", f"/v1/reviewer/cases/{decision_id}")
    assert page.status_code == 200
    assert "&lt;b&gt;Bitte&lt;/b&gt; prüfen" in page.text  # the customer's words, inert
    assert 'name="action" value="claim"' in page.text

    form = {"headers": {"Content-Type": "application/x-www-form-urlencoded"}}
    claimed = review(api, "POST", f"/v1/reviewer/cases/{decision_id}", data={"action": "claim"}, **form)
    assert claimed.status_code == 200, claimed.text
    assert "You hold this case now." in claimed.text and 'name="action" value="resolve"' in claimed.text

    bad = review(api, "POST", f"/v1/reviewer/cases/{decision_id}", data={"action": "resolve", "verdict": "overturned",
                 "reason": "no outcome"}, **form)  # fmt: skip
    assert bad.status_code == 422 and 'role="alert"' in bad.text
    assert appeal_item(api, decision_id)["status"]["S"] == "in_review"

    done = review(api, "POST", f"/v1/reviewer/cases/{decision_id}",
                  data={"action": "resolve", "verdict": "upheld", "reason": "Die Regel gilt."}, **form)  # fmt: skip
    assert done.status_code == 201, done.text
    assert "Resolved: upheld" in done.text and "Die Regel gilt." in done.text
    assert review(api, "POST", f"/v1/reviewer/cases/{decision_id}", data={"action": "claim"}, **form).status_code == 409
    view = customer_get(api, f"/v1/explanations/{decision_id}", token).json()
    assert view["review"]["verdict"] == "upheld" and "la confirmó" in view["review"]["statement"]


def test_one_reviewer_at_a_time_and_an_expired_claim_can_be_taken_over(api):
    """Two reviewers (two pseudonyms) race on the store's conditional updates, as two sessions would."""
    from functions.domain.errors import Conflict
    from functions.domain.review import build_review
    from functions.schemas.review import ResolveRequest
    from functions.stores.review_store import AwsReviewStore

    decision_id, token, _ = decided(api, "demo-refund-1")
    appeal_from_the_page(api, decision_id, token, "Race")
    env = api.stack.env
    store = AwsReviewStore(
        appeals_table=env["CANDOR_APPEALS_TABLE"],
        records_table=env["CANDOR_RECORDS_TABLE"],
        bucket=env["CANDOR_ARCHIVE_BUCKET"],
        kms_key_id=env["CANDOR_KMS_KEY_ID"],
        dynamodb=api.aws("dynamodb"),
        s3=api.aws("s3"),
    )
    now, ttl = datetime.now(UTC), timedelta(minutes=60)
    appeal = store.get(decision_id)
    held = store.claim(appeal, "rv_alice", now, ttl)
    assert (held.status, held.claimed_by) == ("in_review", "rv_alice")
    with pytest.raises(Conflict):
        store.claim(appeal, "rv_bob", now + timedelta(minutes=59), ttl)  # alice's claim still holds
    taken = store.claim(appeal, "rv_bob", now + timedelta(minutes=61), ttl)  # expired: bob may take it over
    assert taken.claimed_by == "rv_bob"

    # Alice, who lost the claim, cannot resolve it: her review object stays unlisted, the appeal unchanged.
    record = review(api, "GET", f"/v1/reviews/{decision_id}").json()["record"]
    from functions.schemas.record import ExplanationRecord

    sealed = build_review(held, ExplanationRecord.model_validate(record), ResolveRequest(verdict="upheld", reason="x"),
                          labels=["deny", "approve"], reviewer="rv_alice", now=now)  # fmt: skip
    with pytest.raises(Conflict):
        store.resolve(held, sealed)
    item = appeal_item(api, decision_id)
    assert item["status"]["S"] == "in_review" and item["claimed_by"]["S"] == "rv_bob" and "review_key" not in item


def test_auditors_see_overturn_rates_by_group_and_model_version(api):
    """Verdicts by group: people overturn every 65+ denial here and uphold the others, a fairness signal."""
    start = datetime.now(UTC).isoformat()
    for n, band in enumerate(["65+", "65+", "65+", "25-44", "25-44", "25-44"]):
        segments = {"age_band": band, "gender": "fm"[n % 2]}
        decision_id, token, _ = decided(api, "demo-refund-2", segments=segments, locale="en")
        appeal_from_the_page(api, decision_id, token, "Please have a person look at this.")
        assert review(api, "POST", f"/v1/reviews/{decision_id}/claim").status_code == 200
        verdict = {"verdict": "overturned", "reason": "Refund due.", "new_outcome": "approve"} if band == "65+" else {
            "verdict": "upheld", "reason": "The policy applies."}  # fmt: skip
        assert review(api, "POST", f"/v1/reviews/{decision_id}/resolve", json=verdict).status_code == 201
    window = {"from": start, "to": datetime.now(UTC).isoformat()}
    params = {"model_id": "refund-decision", "attribute": "age_band", "min_group_size": 3, **window}
    response = api.call("GET", "/v1/reports/reviews", role="auditor", params=params)
    assert response.status_code == 200, response.text
    report = response.json()
    groups = {g["group"]: g for g in report["groups"]}
    assert report["cases"] == 6 and report["by_kind"] == {"appeal": 6}
    assert (groups["65+"]["overturned"], groups["65+"]["overturn_rate"], groups["65+"]["overturn_ratio"]) == (3, 1, 2)
    assert groups["25-44"]["upheld"] == 3 and groups["25-44"]["overturn_rate"] == 0
    assert report["flagged_groups"] == ["65+"]
    assert (groups["65+"]["decisions"], groups["65+"]["appeal_rate"], groups["65+"]["appeal_ratio"]) == (3, 1, 1)
    (version,) = report["by_model_version"]
    assert version["resolved"] == 6 and version["overturn_rate"] == 0.5
    assert report["overall"]["median_days_to_verdict"] >= 0
    assert api.call("GET", "/v1/reports/reviews", role="reviewer", params=params).status_code == 403
    # The hourly monitor reads the same cases (its role's BatchGetItem of their decisions): too few to judge.
    run = api.stack.run_scheduled("MonitoringFunction", datetime.now(UTC))
    assert not any("overturn_ratio" in line for r in run["reports"] for line in r["violations"])
    params["min_group_size"] = 4  # three resolved cases per group: counts, no rate, no flag
    small = api.call("GET", "/v1/reports/reviews", role="auditor", params=params).json()
    assert small["flagged_groups"] == [] and all(g["overturn_rate"] is None for g in small["groups"])
