"""Models behind an HTTPS endpoint on 127.0.0.1, wrapped by Candor over the local stack's HTTP API."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

import pytest

from functions.schemas.manifest import ModelManifest
from infra.local.model_server import Garbage, Slow, Status
from infra.training.synthetic import refund_requests
from tests.e2e.conftest import Client

pytestmark = pytest.mark.e2e


def refund_body(request_id: str, **changes: Any) -> dict[str, Any]:
    body = {k: v for k, v in refund_requests(1, seed=21)[0].items() if k != "label"}
    return {**body, "request_id": request_id, **changes}


@pytest.fixture
def refunds_server(api: Client) -> Iterator[Any]:
    server = api.stack.remote.servers["refund-decision"]
    yield server
    server.set_fault(None)


def test_a_remote_decision_is_explained_in_one_batched_call_and_sealed(api: Client, refunds_server):
    manifest = ModelManifest.model_validate_json(
        (api.stack.remote.folder / "refund-remote" / "manifest.json").read_text()
    )
    defaults = {"max_batch_rows", "max_evaluations", "background_size", "background_summary", "timing"}
    assert not defaults & (manifest.adapter.model_fields_set | manifest.explainer.model_fields_set)
    before = refunds_server.requests
    answer = api.decide("refund-remote", refund_body("remote-1", locale="es-ES"))

    assert answer.status_code == 200, answer.text
    decision = answer.json()
    explanation = decision["explanation"]
    assert explanation["status"] == "complete" and explanation["exact"] is False
    assert explanation["method"] == "permutation_shap"
    sampling = explanation["sampling"]
    assert sampling["model_calls"] == 1 and sampling["evaluations"] <= sampling["max_evaluations"]
    assert refunds_server.requests - before == 2  # with the defaults: the decision, then every perturbed row at once
    assert explanation["additivity_error"] < 1e-9 and explanation["summary_locale"] == "es"
    assert decision["disclosure"]["ai_system"] is True

    record = api.call("GET", f"/v1/explanations/{decision['decision_id']}", role="auditor").json()
    envelope = record["record"]["envelope"]
    assert envelope["model"]["endpoint"] == refunds_server.url("/invocations")
    assert envelope["model"]["artifact_sha256"] is None
    assert envelope["explainer"]["exact"] is False and envelope["explanation"]["sampling"]["model_calls"] == 1


def test_the_same_request_gets_the_same_explanation(api: Client):
    first = api.decide("refund-remote", refund_body("remote-same-1")).json()["explanation"]
    second = api.decide("refund-remote", refund_body("remote-same-2")).json()["explanation"]
    assert [c["attribution"] for c in first["contributions"]] == [c["attribution"] for c in second["contributions"]]


@pytest.mark.parametrize(
    ("fault", "status", "code"),
    [
        (Slow(30), 503, "model_timeout"),
        (Status(500), 503, "model_unavailable"),
        (Status(429), 503, "model_throttled"),
        (Garbage(), 502, "bad_model_output"),
    ],
)
def test_a_failing_endpoint_gives_a_clear_5xx_and_stores_nothing(api: Client, refunds_server, fault, status, code):
    stored = api.stored()
    refunds_server.set_fault(fault)
    answer = api.decide("refund-remote", refund_body(f"remote-fault-{code}"))
    assert answer.status_code == status and answer.json()["error"]["code"] == code
    assert api.stored() == stored


def test_a_remote_text_model_gets_token_attributions_on_the_customers_words(api: Client):
    message = "I was charged twice for my order this month"
    answer = api.decide("router-remote", {"request_id": "remote-text-1", "inputs": {"text": message}})

    assert answer.status_code == 200, answer.text
    explanation = answer.json()["explanation"]
    assert answer.json()["outcome"]["label"] == "billing"
    assert explanation["status"] == "complete" and explanation["sampling"]["model_calls"] == 1
    words = {message[start:end].lower() for c in explanation["contributions"] for start, end in c["spans"]}
    assert "charged" in words
    assert explanation["additivity_error"] < 1e-9


def test_a_black_box_text_explanation_never_quotes_the_message_in_the_sealed_record(api: Client):
    """Every word of the message gets an attribution from a black box, names included; the locked envelope,
    which no erasure can reach, names them by position, and only the erasable personal part holds the words."""
    message = "Zebulon Quiñonez was charged twice for the same order"
    answer = api.decide("router-remote", {"request_id": "remote-name-1", "inputs": {"text": message}})
    assert answer.status_code == 200, answer.text
    shown = [c["display_name"] for c in answer.json()["explanation"]["contributions"]]
    assert "\u201ccharged\u201d" in shown  # the response quotes the words that weighed (a name would be one)

    record = api.call("GET", f"/v1/explanations/{answer.json()['decision_id']}", role="auditor").json()["record"]
    envelope = json.dumps(record["envelope"], ensure_ascii=False)
    assert "Zebulon" not in envelope and "Quiñonez" not in envelope and "charged" not in envelope
    assert record["personal"]["inputs"]["text"] == message
    index = api.aws("dynamodb").scan(TableName=api.stack.env["CANDOR_RECORDS_TABLE"])["Items"]
    assert not any("Zebulon" in json.dumps(item, ensure_ascii=False) for item in index)

    link = urlsplit(answer.json()["links"]["customer_view"])  # the customer still sees their own words
    view = api.call("GET", f"{link.path.removesuffix('/view')}?{link.query}", role=None).json()
    assert "\u201ccharged\u201d" in [reason["display_name"] for reason in view["reasons"]]
