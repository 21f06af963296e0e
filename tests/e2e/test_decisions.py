import json

import pytest

from functions.domain.seal import verify
from functions.schemas.record import ExplanationRecord
from functions.stores.record_store import personal_key
from tests.e2e.bodies import body
from tests.support import record_store

pytestmark = pytest.mark.e2e


def stored_record(api, decision_id: str) -> tuple[dict, ExplanationRecord]:
    env = api.stack.env
    api.stack.drain()  # the objects are the archive copier's, written just after the answer
    store = record_store(env, api.aws("dynamodb"), api.aws("s3"))
    stored = store.get(decision_id)
    assert stored is not None
    for bucket, key in (
        (env["CANDOR_ARCHIVE_BUCKET"], stored.item["archive_key"]),
        (env["CANDOR_PERSONAL_BUCKET"], personal_key(decision_id)),
    ):
        head = api.aws("s3").head_object(Bucket=bucket, Key=key, ChecksumMode="ENABLED")
        assert head["ServerSideEncryption"] == "aws:kms"
        assert head["ChecksumSHA256"]
    return stored.item, stored.record


@pytest.mark.parametrize("turn", ["demo-chat-1", "demo-chat-2", "demo-chat-3", "demo-refund-1", "demo-refund-2"])
def test_each_decision_is_explained_disclosed_and_sealed(api, turn):
    model_id, request = body(turn)
    response = api.decide(model_id, request)
    assert response.status_code == 200, response.text
    answer = response.json()
    explanation, notice = answer["explanation"], answer["disclosure"]
    spanish = request["locale"].startswith("es")

    assert answer["model"]["id"] == model_id
    assert explanation["exact"] is True
    assert explanation["additivity_error"] < 1e-6
    attributions = [abs(c["attribution"]) for c in explanation["contributions"]]
    assert attributions == sorted(attributions, reverse=True)
    assert notice["ai_system"] is True
    assert notice["locale"] == ("es" if spanish else "en")
    assert explanation["summary_locale"] == notice["locale"]
    assert answer["links"]["customer_view"].startswith(
        f"{api.stack.api_url}/v1/explanations/{answer['decision_id']}/view?token="
    )

    item, record = stored_record(api, answer["decision_id"])
    assert verify(record)
    assert item["content_sha256"] == record.content_sha256
    assert item["notice_id"] == notice["notice_id"] == record.envelope.disclosure.notice_id
    env = record.envelope
    assert env.outcome.label == answer["outcome"]["label"]
    assert env.explanation.base_value + sum(c.attribution for c in env.explanation.contributions) == pytest.approx(
        env.explanation.model_output, abs=1e-6
    )
    assert request["subject_id"] not in json.dumps(record.model_dump(mode="json"))
    assert env.subject_hash and len(env.subject_hash) == 64


def test_router_tokens_point_back_at_the_customers_words(api):
    model_id, request = body("demo-chat-2")
    answer = api.decide(model_id, request).json()
    text = request["inputs"]["text"]
    for contribution in answer["explanation"]["contributions"]:
        for start, end in contribution["spans"]:
            assert contribution["display_name"].strip("«»") == text[start:end]
    assert "«" in answer["explanation"]["summary"]


def test_refund_decision_uses_display_names_in_both_languages(api):
    for turn, word in (("demo-refund-1", "Delivery status"), ("demo-refund-2", "Canal de contacto")):
        model_id, request = body(turn)
        answer = api.decide(model_id, request).json()
        names = [c["display_name"] for c in answer["explanation"]["contributions"]]
        assert word in names
        assert not any(c["feature"] in answer["explanation"]["summary"] for c in answer["explanation"]["contributions"])
    assert answer["outcome"]["adverse"] is True


@pytest.mark.parametrize(
    ("locale", "order_value", "days"),
    [("es-ES", "240,00\u00a0€", "41 días"), ("es-MX", "EUR\u00a0240.00", "41 días"), ("en-GB", "€240.00", "41 days")],
)
def test_display_values_are_written_in_the_customers_locale_and_values_stay_numbers(api, locale, order_value, days):
    model_id, request = body("demo-refund-2", locale=locale)
    answer = api.decide(model_id, request).json()
    shown = {c["feature"]: c for c in answer["explanation"]["contributions"]}
    assert shown["order_value"]["display_value"] == order_value
    assert shown["order_value"]["value"] == 240.0  # the machine field is untouched
    assert shown["days_since_delivery"]["display_value"] == days
    if not locale.startswith("en"):
        assert "Write 'agent'" not in json.dumps(answer, ensure_ascii=False)
        assert "Escriba «agente» en el chat" in answer["disclosure"]["human_contact"]


def test_personal_data_in_messages_is_redacted_before_storage(api):
    text = (
        "Charged twice! Card 4111 1111 1111 1111, IBAN ES91 2100 0418 4502 0005 1332, "
        "mail ana@example.com, +34 612 345 678"
    )
    model_id, request = body("demo-chat-1", inputs={"text": text})
    answer = api.decide(model_id, request).json()
    _, record = stored_record(api, answer["decision_id"])
    assert record.personal is not None
    stored = record.personal.inputs["text"]
    for secret in ("4111", "ES91", "ana@example.com", "612 345"):
        assert secret not in stored
        assert secret not in json.dumps(answer)
    assert record.personal.redactions == {"CARD": 1, "IBAN": 1, "EMAIL": 1, "PHONE": 1}


def test_a_replay_returns_the_first_answer_and_stores_nothing(api):
    model_id, request = body("demo-refund-1")
    first = api.decide(model_id, request)
    before = api.stored()
    replay = api.decide(model_id, request)
    assert replay.status_code == 200
    assert replay.json() == first.json()
    assert api.stored() == before


def test_the_same_request_id_with_another_body_is_409_and_stores_nothing(api):
    model_id, request = body("demo-chat-1")
    assert api.decide(model_id, request).status_code == 200
    before = api.stored()
    changed = api.decide(model_id, {**request, "inputs": {"text": "Cancel my subscription"}})
    assert changed.status_code == 409
    assert changed.json()["error"] == {
        "code": "idempotency_conflict",
        "message": "this request_id was already used with a different body",
        "field": "request_id",
    }
    assert api.stored() == before


def test_an_unsupported_locale_falls_back_to_english_and_says_so(api):
    model_id, request = body("demo-chat-2", locale="pt-BR")
    answer = api.decide(model_id, request).json()
    assert answer["disclosure"]["locale"] == "en"
    assert answer["disclosure"]["fallback"] is True
    assert answer["explanation"]["summary_locale"] == "en"
