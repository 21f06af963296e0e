"""Refund decisions and appeals for the report page's tests, made once per local stack and shared."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qs, urlsplit

from infra.training.synthetic import refund_requests

DECISIONS = 240
APPEALS = 3
_MADE: dict[int, dict[str, Any]] = {}


def report_traffic(api: Any) -> dict[str, Any]:
    """`{"from", "to", "decisions"}`: a window holding only these refund decisions and their appeals."""
    if id(api.stack) in _MADE:
        return _MADE[id(api.stack)]
    # One machine, one clock: a millisecond either side covers decided_at's rounding, and nothing more (the
    # monitoring tests decide more refunds right after this traffic: a second of slack took three of them in).
    start = (datetime.now(UTC) - timedelta(milliseconds=1)).isoformat()
    links = []
    for n, request in enumerate(refund_requests(DECISIONS, seed=33)):
        body = {"request_id": f"report-{n}", "locale": "en", **{k: request[k] for k in ("inputs", "segments")}}
        response = api.decide("refund-decision", body)
        assert response.status_code == 200, response.text
        links.append(response.json()["links"]["customer_view"])
    for link in links[:APPEALS]:  # appeals through the customer API, as a customer files them
        token = parse_qs(urlsplit(link).query)["token"][0]
        path = urlsplit(link).path.removesuffix("/view") + "/appeal"
        appeal = api.call("POST", path, role=None, params={"token": token}, json={"reason": "please look again"})
        assert appeal.status_code == 201, appeal.text
    end = (datetime.now(UTC) + timedelta(milliseconds=1)).isoformat()
    _MADE[id(api.stack)] = {"from": start, "to": end, "decisions": DECISIONS}
    return _MADE[id(api.stack)]
