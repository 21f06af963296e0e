"""Every bad request gets its documented 4xx with the error envelope, and stores nothing."""

import pytest

from tests.e2e.bodies import body, refund_inputs

pytestmark = pytest.mark.e2e

ROUTER, TURN = body("demo-chat-1")
REFUND, REFUND_TURN = body("demo-refund-1")

CASES = [
    # (name, model, raw body or JSON-able body, role, status, code, field)
    ("malformed JSON", ROUTER, b'{"request_id": "x", ', "chatbot", 400, "malformed_body", None),
    ("non-object body", ROUTER, [1, 2, 3], "chatbot", 400, "malformed_body", None),
    ("string body", ROUTER, "hello", "chatbot", 400, "malformed_body", None),
    ("unknown model", "no-such-model", TURN, "chatbot", 404, "unknown_model", "model_id"),
    (
        "missing request_id",
        ROUTER,
        {k: v for k, v in TURN.items() if k != "request_id"},
        "chatbot",
        422,
        "invalid_field",
        "request_id",
    ),
    ("empty request_id", ROUTER, {**TURN, "request_id": ""}, "chatbot", 422, "invalid_field", "request_id"),
    ("request_id over 128", ROUTER, {**TURN, "request_id": "x" * 129}, "chatbot", 422, "invalid_field", "request_id"),
    (
        "missing inputs",
        ROUTER,
        {k: v for k, v in TURN.items() if k != "inputs"},
        "chatbot",
        422,
        "invalid_field",
        "inputs",
    ),
    ("unknown top-level field", ROUTER, {**TURN, "colour": "red"}, "chatbot", 422, "invalid_field", "colour"),
    ("empty text", ROUTER, {**TURN, "inputs": {"text": "   "}}, "chatbot", 422, "invalid_input", "inputs.text"),
    (
        "oversized text",
        ROUTER,
        {**TURN, "inputs": {"text": "refund " * 400}},
        "chatbot",
        422,
        "invalid_input",
        "inputs.text",
    ),
    ("text not a string", ROUTER, {**TURN, "inputs": {"text": 42}}, "chatbot", 422, "invalid_input", "inputs.text"),
    (
        "unknown feature",
        REFUND,
        {**REFUND_TURN, "inputs": refund_inputs(colour="red")},
        "chatbot",
        422,
        "invalid_input",
        "inputs.colour",
    ),
    (
        "missing feature",
        REFUND,
        {**REFUND_TURN, "inputs": {k: v for k, v in refund_inputs().items() if k != "channel"}},
        "chatbot",
        422,
        "invalid_input",
        "inputs.channel",
    ),
    (
        "mistyped feature",
        REFUND,
        {**REFUND_TURN, "inputs": refund_inputs(order_value="lots")},
        "chatbot",
        422,
        "invalid_input",
        "inputs.order_value",
    ),
    (
        "out of range",
        REFUND,
        {**REFUND_TURN, "inputs": refund_inputs(days_since_delivery=-4)},
        "chatbot",
        422,
        "invalid_input",
        "inputs.days_since_delivery",
    ),
    (
        "unknown category",
        REFUND,
        {**REFUND_TURN, "inputs": refund_inputs(channel="carrier pigeon")},
        "chatbot",
        422,
        "invalid_input",
        "inputs.channel",
    ),
    (
        "nested input value",
        REFUND,
        {**REFUND_TURN, "inputs": refund_inputs(order_value={"amount": 3})},
        "chatbot",
        422,
        "invalid_field",
        None,
    ),
    ("body over 256 KB", ROUTER, {**TURN, "padding": "x" * 300_000}, "chatbot", 413, "body_too_large", "body"),
    ("no token", ROUTER, TURN, None, 401, "unauthenticated", None),
    ("auditor token", ROUTER, TURN, "auditor", 403, "forbidden", None),
]


@pytest.mark.parametrize(
    ("name", "model_id", "payload", "role", "status", "code", "field"), CASES, ids=[c[0] for c in CASES]
)
def test_bad_input_is_rejected_clearly_and_stores_nothing(api, name, model_id, payload, role, status, code, field):
    before = api.stored()
    kwargs = {"data": payload} if isinstance(payload, bytes) else {"json": payload}
    response = api.call(
        "POST", f"/v1/decisions/{model_id}", role=role, headers={"Content-Type": "application/json"}, **kwargs
    )
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert error["code"] == code
    assert error["message"]
    if field is not None:
        assert error["field"] == field
    assert api.stored() == before


def test_a_wrong_token_is_401(api):
    response = api.call(
        "POST", f"/v1/decisions/{ROUTER}", role=None, headers={"Authorization": "Bearer nope"}, json=TURN
    )
    assert response.status_code == 401
