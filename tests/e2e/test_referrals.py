"""Review before the answer over HTTP on the local stack: a decision the review policy matches is referred.

The bundled refund-decision model refers denials of 1,000 EUR or more (its manifest's review_policy).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from urllib.parse import parse_qs, urlsplit

import pytest

from functions.domain.seal import verify
from tests.e2e.bodies import body
from tests.e2e.customer import appeal_item, appeals_count, decided
from tests.e2e.test_customer import get
from tests.e2e.test_decisions import stored_record

pytestmark = pytest.mark.e2e

LARGE_DENIAL = {"order_value": 1500.0}  # demo-refund-2 (a denial), for a larger amount


def large_denial(**changes):
    model_id, request = body("demo-refund-2", **changes)
    request["inputs"] = {**request["inputs"], **LARGE_DENIAL}
    return model_id, request


def test_a_large_denial_is_answered_as_referred_and_queued_for_a_person(api):
    model_id, request = large_denial()
    before = appeals_count(api)
    response = api.decide(model_id, request)
    assert response.status_code == 200, response.text
    answer = response.json()

    outcome = answer["outcome"]
    assert outcome == {
        "status": "referred",
        "label": None,
        "display_name": "Una persona decidirá",
        "score": None,
        "adverse": None,
        "alternatives": [],
    }
    assert answer["explanation"]["status"] == "not_explained" and answer["explanation"]["contributions"] == []
    assert answer["explanation"]["summary"].startswith("Una persona de nuestro equipo decidirá")
    assert "una persona de nuestro equipo decidirá" in answer["disclosure"]["decision_kind"]
    assert "deny" not in response.text and "denegado" not in response.text

    item = appeal_item(api, answer["decision_id"])
    assert item is not None and appeals_count(api) == before + 1
    assert item["kind"]["S"] == "referral" and item["status"]["S"] == "received"
    assert item["reason"]["S"] == "a denied refund of 1,000 EUR or more is decided by a person"
    assert item["model_id"]["S"] == "refund-decision" and item["locale"]["S"] == "es-ES"

    index, record = stored_record(api, answer["decision_id"])
    assert verify(record)
    assert record.envelope.appeal.status == "referred" and record.envelope.appeal.reason == item["reason"]["S"]
    assert record.envelope.outcome.label == "deny" and index["outcome"] == "deny"  # for the reviewer and auditors
    assert record.envelope.explanation.status == "complete" and record.envelope.explanation.contributions


def test_auditors_count_referrals_apart_from_appeals(api):
    model_id, request = large_denial()
    answer = api.decide(model_id, request).json()
    decided_at = datetime.fromisoformat(answer["decided_at"].replace("Z", "+00:00"))
    window = {"from": decided_at.isoformat(), "to": (decided_at + timedelta(milliseconds=1)).isoformat()}
    report = api.call("GET", "/v1/reports/attributions", role="auditor", params={"model_id": model_id, **window})
    assert report.status_code == 200, report.text
    assert report.json()["current"]["appeals_by_status"] == {"referred": 1}


def test_a_replayed_referral_returns_the_same_answer_and_queues_nothing(api):
    model_id, request = large_denial()
    first = api.decide(model_id, request)
    count = appeals_count(api)
    again = api.decide(model_id, request)
    assert again.status_code == 200 and again.json() == first.json()
    assert appeals_count(api) == count


def test_the_customer_sees_that_a_person_will_decide(api):
    model_id, request = large_denial(locale="en-GB")
    decision_id, token, _ = decided_with(api, model_id, request)
    view = get(api, f"/v1/explanations/{decision_id}", token).json()
    assert view["outcome"]["referred"] is True and view["outcome"]["label"] is None
    assert view["outcome"]["statement"].startswith("A person from our team will decide")
    assert view["reasons"] == [] and view["summary"] is None
    assert "Refund denied" not in str(view)

    assert view["appeal"] is None  # the referral is not the customer's appeal, and its reason is not shown
    assert "1,000" not in str(view)

    page = get(api, f"/v1/explanations/{decision_id}/view", token)
    assert page.status_code == 200 and "A person from our team will decide" in page.text
    assert "Refund denied" not in page.text and "1,000" not in page.text
    assert "A person from our team is deciding on your request" in page.text and "<form" not in page.text


def test_a_referred_decision_cannot_be_appealed_while_a_person_decides(api):
    model_id, request = large_denial()
    decision_id, token, _ = decided_with(api, model_id, request)
    count = appeals_count(api)
    path = f"/v1/explanations/{decision_id}/appeal"
    answer = api.call("POST", path, role=None, params={"token": token}, json={"reason": "please look again"})
    assert answer.status_code == 409 and answer.json()["error"]["code"] == "referred"
    assert "1,000" not in answer.text
    form = api.call("POST", path, role=None, params={"token": token}, data={"reason": "please look again"})
    assert form.status_code == 409 and "1,000" not in form.text and "Una persona de nuestro equipo está" in form.text
    assert appeals_count(api) == count
    item = appeal_item(api, decision_id)
    assert item is not None and item["kind"]["S"] == "referral" and "please" not in item["reason"]["S"]


def test_a_small_denial_is_still_told_as_decided(api):
    decision_id, _, _ = decided(api, "demo-refund-2")
    assert appeal_item(api, decision_id) is None


def decided_with(api, model_id, request):
    response = api.decide(model_id, request)
    assert response.status_code == 200, response.text
    link = response.json()["links"]["customer_view"]
    return response.json()["decision_id"], parse_qs(urlsplit(link).query)["token"][0], link


@pytest.mark.parametrize(
    ("locale", "decided_text"), [("en-GB", "A person decided on"), ("es-ES", "Una persona decidió el")]
)
def test_a_reviewer_decides_a_referral_and_the_customer_sees_the_persons_decision(api, locale, decided_text):
    model_id, request = large_denial(locale=locale)
    decision_id, token, _ = decided_with(api, model_id, request)
    queue = api.call("GET", "/v1/reviews", role="reviewer", params={"model_id": model_id, "kind": "referral"})
    assert decision_id in [item["decision_id"] for item in queue.json()["items"]]
    assert api.call("POST", f"/v1/reviews/{decision_id}/claim", role="reviewer").status_code == 200
    verdict = {"verdict": "overturned", "reason": "The parcel never arrived.", "new_outcome": "approve"}
    resolved = api.call("POST", f"/v1/reviews/{decision_id}/resolve", role="reviewer", json=verdict)
    assert resolved.status_code == 201, resolved.text

    view = get(api, f"/v1/explanations/{decision_id}", token).json()
    assert view["outcome"]["label"] == "approve" and view["outcome"]["referred"] is True
    assert view["outcome"]["statement"].startswith(decided_text)
    assert view["review"]["reason"] == "The parcel never arrived." and view["review"]["outcome"] == "approve"
    assert view["reasons"] == [] and view["appeal"] is None  # still never the AI's reasons nor the policy's reason
    assert "1,000" not in str(view)
    page = get(api, f"/v1/explanations/{decision_id}/view", token)
    assert page.status_code == 200 and decided_text in page.text and "The parcel never arrived." in page.text
