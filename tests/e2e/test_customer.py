"""The customer's routes over HTTP on the local stack: tokens, the JSON view, appeals, escaping, erasure states."""

from __future__ import annotations

import base64
import json
import re
import uuid
from datetime import UTC, datetime, timedelta

import pytest

from functions.domain.customer_links import sign_token
from functions.stores.record_store import personal_key
from tests.e2e.customer import appeal_item, appeals_count, decided

pytestmark = pytest.mark.e2e

INTERNAL = ("subject_hash", "segments", "content_sha256", "personal_sha256", "artifact_sha256", "salt", "age_band")


def get(api, path, token=None, **kwargs):
    params = {"token": token} if token is not None else None
    return api.call("GET", path, role=None, params=params, **kwargs)


def post_appeal(api, decision_id, token, **kwargs):
    return api.call("POST", f"/v1/explanations/{decision_id}/appeal", role=None, params={"token": token}, **kwargs)


def _forged(decision_id: str) -> str:
    return sign_token(decision_id, datetime.now(UTC) + timedelta(days=1), b"not the key")


def _bad_tokens(decision_id: str, token: str, other_token: str) -> dict[str, str | None]:
    payload, mac = token.split(".")
    expired_payload = base64.urlsafe_b64encode(f"{decision_id}.1000".encode()).rstrip(b"=").decode()
    return {
        "missing": None,
        "empty": "",
        "garbage": "not-a-token",
        "altered mac": f"{payload}.{mac[:-2]}{'AB' if mac[-2:] != 'AB' else 'CD'}",
        "altered payload (expiry pushed)": f"{expired_payload}.{mac}",
        "other decision": other_token,
        "forged with another key": _forged(decision_id),
        "too long": "a" * 5000,
    }


def test_the_json_view_shows_the_decision_and_nothing_internal(api):
    decision_id, token, _ = decided(api, "demo-refund-1")
    response = get(api, f"/v1/explanations/{decision_id}", token)
    assert response.status_code == 200, response.text
    assert response.headers["Cache-Control"] == "no-store"
    view = response.json()
    assert view["status"] == "available"
    assert view["language"] == "en"
    assert view["disclosure"]["ai_system"] is True
    assert view["outcome"]["automated_decision"] is True
    assert view["summary"]
    assert view["reasons"]
    assert {d["name"] for d in view["data_used"]} >= {"Order value", "Delivery status"}
    assert view["links"]["appeal"] == f"/v1/explanations/{decision_id}/appeal"
    text = json.dumps(view)
    for word in INTERNAL:
        assert word not in text


def test_a_spanish_view_is_spanish_all_the_way(api):
    decision_id, token, link = decided(api, "demo-refund-2")  # es-ES, order value 240.0, 41 days
    view = get(api, f"/v1/explanations/{decision_id}", token).json()
    assert (view["language"], view["locale"]) == ("es", "es-ES")
    data = {d["name"]: d["value"] for d in view["data_used"]}
    assert data["Importe del pedido"] == "240,00\u00a0€"  # Babel's no-break space before the euro sign
    assert data["Días desde la entrega"] == "41 días"
    assert view["human_contact"].startswith("Escriba «agente» en el chat")
    assert view["decided_at"].endswith("Z")  # the machine form stays ISO

    page = api.http.get(link, timeout=60).text
    for english in ("Write &#x27;agent&#x27;", "Mon-Fri", "Candor-assisted support assistant"):
        assert english not in page
    assert "240,00\u00a0€" in page
    assert " UTC</time>" in page and " de 20" in page  # "3 de agosto de 2026, 9:00 UTC"
    assert re.search(r'<td class="num">[+\u2212]\d+,\d{3}</td>', page)  # weights with a decimal comma


@pytest.mark.parametrize("route", ["view", "json", "appeal"])
def test_every_bad_token_gets_the_same_403_and_nothing_is_stored(api, route):
    decision_id, token, _ = decided(api, "demo-chat-1")
    _, other_token, _ = decided(api, "demo-chat-2")
    before = appeals_count(api)
    bodies = set()
    for name, bad in _bad_tokens(decision_id, token, other_token).items():
        if route == "view":
            response = get(api, f"/v1/explanations/{decision_id}/view", bad)
        elif route == "json":
            response = get(api, f"/v1/explanations/{decision_id}", bad)
        else:
            response = post_appeal(api, decision_id, bad, json={"reason": "wrong"})
        assert response.status_code == 403, (name, response.text)
        bodies.add(response.text)
    assert len(bodies) == 1  # one answer for every kind of bad token
    assert appeals_count(api) == before
    if route == "view":
        assert "text/html" in response.headers["Content-Type"]
        assert decision_id not in response.text
    else:
        assert response.json()["error"]["code"] == "forbidden"


def test_an_unknown_decision_gets_the_same_403_as_a_bad_token(api):
    decision_id, token, _ = decided(api, "demo-chat-1")
    unknown = "01ZZZZZZZZZZZZZZZZZZZZZZZZ"
    for path in (f"/v1/explanations/{unknown}/view", f"/v1/explanations/{unknown}"):
        forged = get(api, path, _forged(unknown))
        reused = get(api, path, token)  # a real token, for another (existing) decision
        bad = get(api, path.replace(unknown, decision_id), "garbage")
        assert forged.status_code == reused.status_code == bad.status_code == 403
        assert forged.text == reused.text == bad.text
    appeal = post_appeal(api, unknown, _forged(unknown), json={"reason": "I disagree"})
    assert appeal.status_code == 403
    assert appeal_item(api, unknown) is None


def test_an_expired_token_is_refused(api, monkeypatch):
    decision_id, token, _ = decided(api, "demo-chat-1")
    from functions.api import customer_dependencies

    real = customer_dependencies.verify_token
    later = datetime.now(UTC) + timedelta(days=91)
    monkeypatch.setattr(customer_dependencies, "verify_token", lambda t, d, k, now: real(t, d, k, later))
    assert get(api, f"/v1/explanations/{decision_id}", token).status_code == 403


def test_an_appeal_is_stored_once_redacted_and_a_second_returns_the_first(api):
    decision_id, token, _ = decided(api, "demo-refund-1")
    first = post_appeal(api, decision_id, token, json={"reason": "The parcel arrived broken; call me on 612 345 678"})
    assert first.status_code == 201, first.text
    appeal = first.json()
    assert appeal["status"] == "received"
    assert appeal["reason"] == "The parcel arrived broken; call me on [PHONE]"

    item = appeal_item(api, decision_id)
    assert item is not None
    assert item["appeal_id"]["S"] == appeal["appeal_id"]
    assert item["model_id"]["S"] == "refund-decision"
    assert item["model_day"]["S"] == f"refund-decision#{appeal['created_at'][:10]}"
    assert "612 345 678" not in json.dumps(item)

    count = appeals_count(api)
    second = post_appeal(api, decision_id, token, json={"reason": "Another reason"})
    assert second.status_code == 200
    assert second.json() == appeal
    assert appeals_count(api) == count
    assert get(api, f"/v1/explanations/{decision_id}", token).json()["appeal"] == appeal


@pytest.mark.parametrize(
    ("body", "status"),
    [
        ({"reason": ""}, 422),
        ({"reason": "   "}, 422),
        ({"reason": "x" * 2001}, 422),
        ({}, 422),
        ({"reason": 42}, 422),
        ("not json", 400),
    ],
)
def test_bad_appeals_are_refused_and_nothing_is_stored(api, body, status):
    decision_id, token, _ = decided(api, "demo-chat-1")
    kwargs = (
        {"json": body} if isinstance(body, dict) else {"data": body, "headers": {"Content-Type": "application/json"}}
    )
    response = post_appeal(api, decision_id, token, **kwargs)
    assert response.status_code == status, response.text
    assert set(response.json()) == {"error"}
    assert appeal_item(api, decision_id) is None


def test_the_form_post_answers_html_and_an_empty_form_gets_a_422_page(api):
    decision_id, token, _ = decided(api, "demo-chat-2")
    empty = post_appeal(api, decision_id, token, data={"reason": ""})
    assert empty.status_code == 422
    assert "text/html" in empty.headers["Content-Type"]
    assert '<html lang="es">' in empty.text
    assert appeal_item(api, decision_id) is None

    sent = post_appeal(api, decision_id, token, data={"reason": "No era una consulta de facturación"})
    assert sent.status_code == 201
    assert "Hemos recibido su impugnación" in sent.text
    assert appeal_item(api, decision_id) is not None


def test_markup_and_script_from_the_message_are_inert_on_the_page(api):
    message = "<script>alert('x')</script><img src=x onerror=alert(1)> \"quoted\" & <b>bold</b> I was charged twice"
    _, _, link = decided(api, "demo-chat-1", inputs={"text": message})
    page = api.http.get(link, timeout=60)
    assert page.status_code == 200
    assert "<script" not in page.text
    assert "<img" not in page.text
    assert "<b>" not in page.text
    assert "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt;" in page.text
    assert "script-src" not in page.headers["Content-Security-Policy"]  # default-src 'none': no script runs
    assert page.headers["Referrer-Policy"] == "no-referrer"


def _set_erasure_status(api, decision_id: str, status: str) -> None:
    api.aws("dynamodb").update_item(
        TableName=api.stack.env["CANDOR_RECORDS_TABLE"],
        Key={"decision_id": {"S": decision_id}},
        UpdateExpression="SET erasure_status = :s",
        ExpressionAttributeValues={":s": {"S": status}},
    )


def test_an_erased_record_shows_the_decision_without_the_personal_data(api):
    decision_id, token, link = decided(api, "demo-refund-2")
    api.stack.drain()  # copied, so that the personal object deleted below is not written again after
    # What the privacy function does on erasure: delete the personal part, mark the index item.
    api.aws("s3").delete_object(Bucket=api.stack.env["CANDOR_PERSONAL_BUCKET"], Key=personal_key(decision_id))
    _set_erasure_status(api, decision_id, "erased")

    view = get(api, f"/v1/explanations/{decision_id}", token).json()
    assert view["status"] == "erased"
    assert view["data_used"] is None
    assert view["outcome"] and view["reasons"] and view["disclosure"]
    assert all(r["display_value"] is None for r in view["reasons"])
    page = api.http.get(link, timeout=60).text
    assert "se han borrado" in page
    assert 'id="data-used"' not in page
    appealed = post_appeal(api, decision_id, token, json={"reason": "No estoy de acuerdo con la decisión"})
    assert appealed.status_code == 201, appealed.text


def test_after_a_real_erasure_the_customer_and_the_auditor_still_get_the_decision(api):
    # The privacy route as in AWS: no function may list the personal bucket, so reading the deleted
    # part would be a 403 (the local stack answers as AWS would); the index's erasure mark says it is gone.
    subject = f"erased-{uuid.uuid4()}"
    decision_id, token, link = decided(api, "demo-chat-1", subject_id=subject)  # routing: standard retention
    erasure = api.call("DELETE", f"/v1/subjects/{subject}", role="privacy")
    assert erasure.status_code == 200, erasure.text
    assert [r["action"] for r in erasure.json()["records"]] == ["erased"]

    page = api.http.get(link, timeout=60)
    assert page.status_code == 200, page.text
    assert "have been erased" in page.text
    view = get(api, f"/v1/explanations/{decision_id}", token)
    assert view.status_code == 200, view.text
    assert view.json()["status"] == "erased" and view.json()["data_used"] is None
    appealed = post_appeal(api, decision_id, token, json={"reason": "I do not agree with this decision"})
    assert appealed.status_code == 201, appealed.text
    auditor = api.call("GET", f"/v1/explanations/{decision_id}", role="auditor")
    assert auditor.status_code == 200, auditor.text
    assert auditor.json()["erasure_status"] == "erased" and auditor.json()["verified"] is True
    assert auditor.json()["record"]["personal"] is None


def test_a_restricted_record_shows_only_that_it_is_restricted(api):
    decision_id, token, link = decided(api, "demo-chat-1")
    _set_erasure_status(api, decision_id, "restricted")
    view = get(api, f"/v1/explanations/{decision_id}", token).json()
    assert view["status"] == "restricted"
    assert view["disclosure"] is None
    assert view["outcome"] is None
    assert view["reasons"] == []
    assert view["data_used"] is None
    page = api.http.get(link, timeout=60).text
    assert "restricted" in page
    assert 'id="chart"' not in page


def test_the_auditor_and_the_customer_share_the_path_on_different_apis(api):
    decision_id, token, _ = decided(api, "demo-chat-1")
    customer = get(api, f"/v1/explanations/{decision_id}", token)
    assert customer.status_code == 200
    assert "status" in customer.json()
    auditor = api.call("GET", f"/v1/explanations/{decision_id}", role="auditor")  # Authorization: the IAM route
    assert auditor.status_code == 200, auditor.text
    assert "envelope" in auditor.text
