"""Deferred explanations end to end: a remote model's decision answers at once, pending; the worker, fed by
the local stack's SQS poller as Lambda's event source mapping would, completes it; the auditor and the
customer then see the completed explanation.

The models are the local stack's remote ones (infra/local/remote_models.py): `refund-deferred` explains later by
design; `refund-remote` explains inline, and falls back to the worker when its explanation misses the deadline.
"""

from __future__ import annotations

import time
from typing import Any
from urllib.parse import urlsplit

import pytest

from infra.local.model_server import Slow
from infra.training.synthetic import refund_requests
from tests.e2e.conftest import Client

pytestmark = pytest.mark.e2e
DEFERRED_MODEL = "refund-deferred"


def refund_body(request_id: str, **changes: Any) -> dict[str, Any]:
    body = {k: v for k, v in refund_requests(1, seed=21)[0].items() if k != "label"}
    return {**body, "request_id": request_id, **changes}


def completed_record(api: Client, decision_id: str, timeout_s: float = 60) -> dict[str, Any]:
    """The auditor's view of the decision once its completion is there (the queue delays jobs a little)."""
    deadline = time.monotonic() + timeout_s
    while True:
        record = api.call("GET", f"/v1/explanations/{decision_id}", role="auditor").json()
        if record.get("completion") is not None or time.monotonic() > deadline:
            return record
        time.sleep(0.5)


def test_a_deferred_explanation_is_completed_by_the_worker_and_shown_when_ready(api: Client):
    answer = api.decide(DEFERRED_MODEL, refund_body("deferred-1", locale="es-ES"))
    assert answer.status_code == 200, answer.text
    decision = answer.json()
    pending = decision["explanation"]
    assert pending["status"] == "pending" and pending["contributions"] == []
    assert decision["disclosure"]["ai_system"] is True  # disclosed at once, explained later

    record = completed_record(api, decision["decision_id"])
    assert record["completion"] is not None, "the worker did not complete the explanation in time"
    assert record["verified"] is True and record["completion_verified"] is True
    completion = record["completion"]["completion"]
    assert completion["envelope_sha256"] == record["record"]["content_sha256"]
    explanation = completion["explanation"]
    assert explanation["status"] in ("complete", "partial") and explanation["contributions"]
    assert explanation["summary_locale"] == "es" and explanation["additivity_error"] < 1e-6
    assert record["record"]["envelope"]["explanation"]["status"] == "pending"  # the envelope as sealed

    link = urlsplit(decision["links"]["customer_view"])
    view = api.call("GET", f"{link.path.removesuffix('/view')}?{link.query}", role=None).json()
    assert view["summary"] == explanation["summary"] and view["explanation_status"] == explanation["status"]
    assert [r["weight"] for r in view["reasons"]] == [c["attribution"] for c in explanation["contributions"]]


def test_an_explanation_that_misses_its_deadline_is_pending_then_completed_by_the_worker(api: Client):
    server = api.stack.remote.servers["refund-decision"]
    server.set_fault(Slow(30, min_rows=2))  # the decision's single row is fast; the explanation's batch is not
    try:
        answer = api.decide("refund-remote", refund_body("deadline-1"))
    finally:
        server.set_fault(None)  # the worker's retry finds the endpoint healthy again
    assert answer.status_code == 200, answer.text
    pending = answer.json()["explanation"]
    assert pending["status"] == "pending" and "worker" in pending["status_reason"]

    record = completed_record(api, answer.json()["decision_id"])
    assert record["completion"] is not None and record["completion_verified"] is True
    assert record["completion"]["completion"]["explanation"]["status"] == "complete"
