"""Every sample event in events/ (also valid for `sam local invoke -e`) through its real handler, in moto."""

import json
from pathlib import Path

import pytest

from infra.gateway import LambdaContext

EVENTS = Path(__file__).resolve().parents[2] / "events"

EXPECTED = {
    "health.json": ("catalog", 200),
    "models.json": ("catalog", 200),
    "disclosure-en.json": ("catalog", 200),
    "disclosure-es-eu.json": ("catalog", 200),
    "decision-ticket-router-en.json": ("decisions", 200),
    "decision-ticket-router-es.json": ("decisions", 200),
    "decision-refund.json": ("decisions", 200),
    "decision-malformed-json.json": ("decisions", 400),
    "decision-missing-request-id.json": ("decisions", 422),
    "decision-unknown-model.json": ("decisions", 404),
    "decision-no-identity.json": ("decisions", 401),
    "decision-wrong-role.json": ("decisions", 403),
}


def test_every_event_file_is_covered():
    assert {p.name for p in EVENTS.glob("*.json")} == set(EXPECTED)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_event_through_its_handler(aws_env, name):
    from functions.handlers import catalog, decisions

    module, status = EXPECTED[name]
    handler = {"catalog": catalog, "decisions": decisions}[module].lambda_handler
    context = LambdaContext(
        function_name=module,
        memory_limit_in_mb=1024,
        invoked_function_arn=f"arn:aws:lambda:::function:{module}",
        aws_request_id="test",
        timeout_s=15,
    )
    response = handler(json.loads((EVENTS / name).read_text()), context)
    assert response["statusCode"] == status, response["body"]
    body = json.loads(response["body"])
    if status >= 400:
        assert set(body) == {"error"}
    elif module == "decisions":
        assert body["disclosure"]["ai_system"] is True
        assert body["links"]["customer_view"].startswith(aws_env["CANDOR_PUBLIC_BASE_URL"])
