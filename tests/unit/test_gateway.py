"""The local API gateway: proxy events, local bearer auth, routing, bodies. No sockets: `Gateway.dispatch`."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from typing import Any

import pytest

from infra import template as tpl
from infra.local.gateway import (
    DEFAULT_TOKENS,
    MAX_BODY_BYTES,
    Gateway,
    HttpRequest,
    LambdaContext,
    local_tokens,
    make_event,
    role_arn,
)
from infra.local.sample_events import sample_events, write_events
from tests import dummy_handlers

ROUTES = tpl.routes()
CHATBOT = {"Authorization": f"Bearer {DEFAULT_TOKENS['chatbot']}"}


def gateway_with(handler: str = "echo", **kwargs: Any) -> Gateway:
    dotted = f"tests.dummy_handlers.{handler}"
    return Gateway(ROUTES, handlers={"DecisionsFunction": dotted, "CatalogFunction": dotted}, **kwargs)


def request(
    method: str,
    path: str,
    headers: dict[str, str] | None = None,
    body: bytes = b"",
    query: list[tuple[str, str]] | None = None,
) -> HttpRequest:
    return HttpRequest(method, path, query or [], list((headers or {}).items()), body)


def echoed(gateway: Gateway, req: HttpRequest) -> dict[str, Any]:
    response = gateway.dispatch(req)
    assert response.status == 200, response.body
    return response.json()


# ------------------------------------------------------------------------ template


def test_routes_come_from_the_template() -> None:
    table = {(r.method, r.path, r.api): (r.function, r.handler, r.auth, r.api_key_required) for r in ROUTES}
    customer = ("CustomerFunction", "functions.handlers.customer.lambda_handler", "none", False)
    expected = {
        ("GET", "/v1/health", "Api"): ("CatalogFunction", "functions.handlers.catalog.lambda_handler", "none", False),
        ("GET", "/v1/models", "Api"): ("CatalogFunction", "functions.handlers.catalog.lambda_handler", "iam", False),
        ("GET", "/v1/disclosure", "Api"): (
            "CatalogFunction",
            "functions.handlers.catalog.lambda_handler",
            "iam",
            True,
        ),
        ("POST", "/v1/decisions/{model_id}", "Api"): (
            "DecisionsFunction",
            "functions.handlers.decisions.lambda_handler",
            "iam",
            True,
        ),
        ("GET", "/v1/explanations/{decision_id}/view", "CustomerApi"): customer,
        ("GET", "/v1/explanations/{decision_id}", "CustomerApi"): customer,
        ("POST", "/v1/explanations/{decision_id}/appeal", "CustomerApi"): customer,
    }
    assert expected.items() <= table.items()


def test_short_tags_stay_unresolved() -> None:
    env = tpl.function_environment()
    assert env["CANDOR_RECORDS_TABLE"] == {"Ref": "RecordsTable"}
    assert env["CANDOR_KMS_KEY_ID"] == {"Fn::GetAtt": ["RecordsKey", "Arn"]}
    assert env["POWERTOOLS_SERVICE_NAME"] == "candor"


# ----------------------------------------------------------------------- the event


def test_event_has_the_rest_proxy_shape() -> None:
    gateway = gateway_with()
    body = json.dumps({"request_id": "r-1", "inputs": {"text": "Me cobraron dos veces"}}, ensure_ascii=False)
    req = request(
        "POST",
        "/v1/decisions/ticket-router",
        {**CHATBOT, "Content-Type": "application/json", "X-Dup": "1", "Host": "127.0.0.1:3000"},
        body.encode(),
        query=[("a", "1"), ("a", "2"), ("b", "")],
    )
    req.headers.append(("X-Dup", "2"))
    out = echoed(gateway, req)
    event, context = out["event"], out["context"]

    assert event["resource"] == "/v1/decisions/{model_id}"
    assert event["path"] == "/v1/decisions/ticket-router"
    assert event["httpMethod"] == "POST"
    assert event["pathParameters"] == {"model_id": "ticket-router"}
    assert event["queryStringParameters"] == {"a": "2", "b": ""}
    assert event["multiValueQueryStringParameters"] == {"a": ["1", "2"], "b": [""]}
    assert event["headers"]["X-Dup"] == "2"
    assert event["multiValueHeaders"]["X-Dup"] == ["1", "2"]
    assert event["headers"]["Authorization"] == CHATBOT["Authorization"]
    assert event["body"] == body
    assert event["isBase64Encoded"] is False

    ctx = event["requestContext"]
    assert ctx["resourcePath"] == "/v1/decisions/{model_id}"
    assert ctx["httpMethod"] == "POST"
    assert ctx["stage"] == "prod"
    assert ctx["path"] == "/prod/v1/decisions/ticket-router"
    assert ctx["domainName"] == "127.0.0.1:3000"
    assert ctx["requestId"] == context["aws_request_id"]
    assert ctx["identity"]["sourceIp"] == "127.0.0.1"

    assert context["function_name"] == "DecisionsFunction"
    assert context["memory_limit_in_mb"] == 1024
    assert context["invoked_function_arn"].endswith(":function:DecisionsFunction")
    assert 0 < context["remaining_ms"] <= 15_000


def test_empty_parts_are_null_like_api_gateway() -> None:
    event = echoed(gateway_with(), request("GET", "/v1/health"))["event"]
    assert event["body"] is None
    assert event["queryStringParameters"] is None
    assert event["multiValueQueryStringParameters"] is None
    assert event["pathParameters"] is None


def test_path_parameters_are_url_decoded() -> None:
    event = echoed(gateway_with(), request("POST", "/v1/decisions/ticket%2Drouter", CHATBOT, b"{}"))["event"]
    assert event["pathParameters"] == {"model_id": "ticket-router"}


# ---------------------------------------------------------------------------- auth


class CountingResolver:
    def __init__(self) -> None:
        self.calls = 0

    def __call__(self, dotted: str) -> Callable[[dict[str, Any], Any], Any]:
        def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
            self.calls += 1
            return {"statusCode": 200, "body": json.dumps(event["requestContext"]["identity"])}

        return handler


@pytest.mark.parametrize(
    "authorization",
    [None, "", "Bearer", "Bearer nope", "Basic bG9jYWw6bG9jYWw=", f"Token {DEFAULT_TOKENS['chatbot']}"],
)
def test_iam_routes_need_a_known_bearer_token(authorization: str | None) -> None:
    resolver = CountingResolver()
    gateway = Gateway(ROUTES, resolve=resolver)
    headers = {} if authorization is None else {"Authorization": authorization}
    for method, path in [("POST", "/v1/decisions/ticket-router"), ("GET", "/v1/models"), ("GET", "/v1/disclosure")]:
        response = gateway.dispatch(request(method, path, headers, b"{}" if method == "POST" else b""))
        assert response.status == 401
        assert response.json()["error"]["code"] == "unauthenticated"
        assert response.json()["error"]["message"]
        assert response.header("WWW-Authenticate")
    assert resolver.calls == 0


@pytest.mark.parametrize("role", ["chatbot", "auditor", "privacy"])
def test_a_known_token_becomes_the_roles_iam_identity(role: str) -> None:
    resolver = CountingResolver()
    gateway = Gateway(ROUTES, resolve=resolver)
    response = gateway.dispatch(request("GET", "/v1/models", {"authorization": f"bearer {DEFAULT_TOKENS[role]}"}))
    assert response.status == 200
    identity = response.json()
    assert identity["userArn"] == f"arn:aws:sts::123456789012:assumed-role/candor-{role}/local"
    assert identity["userArn"] == role_arn(role)
    assert identity["accountId"] == "123456789012"
    assert resolver.calls == 1


def test_health_needs_no_token_and_carries_no_identity() -> None:
    resolver = CountingResolver()
    response = Gateway(ROUTES, resolve=resolver).dispatch(request("GET", "/v1/health"))
    assert response.status == 200
    assert response.json()["userArn"] is None


def test_tokens_come_from_the_environment() -> None:
    tokens = local_tokens({"CANDOR_AUDITOR_TOKEN": "s3cret"})
    assert tokens == {
        "chatbot": "local-chatbot-token",
        "auditor": "s3cret",
        "privacy": "local-privacy-token",
        "reviewer": "local-reviewer-token",
    }
    gateway = Gateway(ROUTES, tokens=tokens, resolve=CountingResolver())
    assert gateway.dispatch(request("GET", "/v1/models", {"Authorization": "Bearer s3cret"})).status == 200
    assert gateway.dispatch(request("GET", "/v1/models", {"Authorization": "Bearer local-auditor-token"})).status == 401


def test_api_key_is_passed_on_in_the_identity() -> None:
    headers = {**CHATBOT, "x-api-key": "k-123"}
    identity = echoed(gateway_with(), request("GET", "/v1/disclosure", headers))["event"]["requestContext"]["identity"]
    assert identity["apiKey"] == "k-123"


# ------------------------------------------------------------------------- routing


@pytest.mark.parametrize(
    "path", ["/", "/v1", "/v1/nope", "/v2/health", "/v1/decisions", "/v1/decisions/a/b", "/v1/decisions//"]
)
def test_unknown_paths_are_404(path: str) -> None:
    resolver = CountingResolver()
    response = Gateway(ROUTES, resolve=resolver).dispatch(request("POST", path, CHATBOT))
    assert response.status == 404
    assert response.json()["error"]["code"] == "not_found"
    assert resolver.calls == 0


@pytest.mark.parametrize(
    ("method", "path", "allowed"),
    [("GET", "/v1/decisions/ticket-router", "POST"), ("POST", "/v1/health", "GET"), ("DELETE", "/v1/models", "GET")],
)
def test_known_path_wrong_method_is_405(method: str, path: str, allowed: str) -> None:
    resolver = CountingResolver()
    response = Gateway(ROUTES, resolve=resolver).dispatch(request(method, path, CHATBOT))
    assert response.status == 405
    assert response.json()["error"]["code"] == "method_not_allowed"
    assert response.header("Allow") == allowed
    assert resolver.calls == 0


def test_trailing_slash_matches_like_api_gateway() -> None:
    assert gateway_with().dispatch(request("GET", "/v1/health/")).status == 200


# -------------------------------------------------------------------------- bodies


@pytest.mark.parametrize("size", [0, 1, 300 * 1024, MAX_BODY_BYTES])
def test_text_bodies_pass_through_unchanged(size: int) -> None:
    body = ("é" * (size // 2)).encode() + b"x" * (size % 2)  # exactly `size` bytes of UTF-8
    assert len(body) == size
    event = echoed(gateway_with(), request("POST", "/v1/decisions/m", CHATBOT, body))["event"]
    assert (event["body"] or "").encode() == body
    assert event["isBase64Encoded"] is False


def test_non_utf8_bodies_are_base64_encoded() -> None:
    body = b"\xff\xfe\x00binary"
    event = echoed(gateway_with(), request("POST", "/v1/decisions/m", CHATBOT, body))["event"]
    assert event["isBase64Encoded"] is True
    assert base64.b64decode(event["body"]) == body


def test_bodies_over_the_api_gateway_limit_are_413() -> None:
    resolver = CountingResolver()
    response = Gateway(ROUTES, resolve=resolver).dispatch(
        request("POST", "/v1/decisions/m", CHATBOT, b"x" * (MAX_BODY_BYTES + 1))
    )
    assert response.status == 413
    assert response.json()["error"]["code"] == "payload_too_large"
    assert resolver.calls == 0


# ----------------------------------------------------------------------- responses


def test_response_headers_and_body_come_back() -> None:
    response = gateway_with().dispatch(request("GET", "/v1/health"))
    assert response.status == 200
    assert response.header("X-Single") == "one"
    assert [v for k, v in response.headers if k == "X-Multi"] == ["a", "b"]
    assert response.header("x-amzn-RequestId")


def test_base64_response_bodies_are_decoded() -> None:
    response = gateway_with("binary").dispatch(request("GET", "/v1/health"))
    assert response.status == 201
    assert response.body == dummy_handlers.PNG
    assert response.header("Content-Type") == "image/png"


def test_default_content_type_is_json() -> None:
    gateway = Gateway(ROUTES, resolve=lambda _: lambda e, c: {"statusCode": 204})
    response = gateway.dispatch(request("GET", "/v1/health"))
    assert response.status == 204
    assert response.body == b""
    assert response.header("Content-Type") == "application/json"


@pytest.mark.parametrize("handler", ["boom", "malformed"])
def test_failing_handlers_give_502_with_the_envelope(handler: str) -> None:
    response = gateway_with(handler).dispatch(request("GET", "/v1/health"))
    assert response.status == 502
    assert response.json()["error"]["code"] == "internal_error"


def test_handler_import_errors_give_502() -> None:
    gateway = Gateway(ROUTES, handlers={"CatalogFunction": "tests.no_such_module.lambda_handler"})
    assert gateway.dispatch(request("GET", "/v1/health")).status == 502


def test_lambda_context_counts_down() -> None:
    context = LambdaContext("F", 128, "arn:aws:lambda:eu-west-1:123456789012:function:F", "id", timeout_s=2)
    assert 0 < context.get_remaining_time_in_millis() <= 2000
    assert context.log_group_name == "/aws/lambda/F"


# -------------------------------------------------------------------------- events


def test_committed_events_match_the_gateways_event_builder() -> None:
    assert write_events(check=True) == [], "run: python -m infra.local.stack events"


def test_every_route_has_a_sample_event() -> None:
    events = {name: e for name, e in sample_events().items() if "httpMethod" in e}  # the rest: queue, schedule, stream
    assert set(sample_events()) - set(events) == {
        "explanation-job.json",
        "review-notification.json",
        "integrity-schedule.json",
        "monitoring-schedule.json",
        "records-stream.json",
        "pending-records-stream.json",
    }
    covered = {(e["httpMethod"], e["resource"]) for e in events.values()}
    assert covered == {(r.method, r.path) for r in ROUTES}
    for name, event in events.items():
        not_json = "malformed" in name or name in ("review-claim.json", "reviewer-case-form.json")  # none; a form
        if event["httpMethod"] == "POST" and not not_json:
            json.loads(event["body"])


def test_make_event_rejects_unknown_routes() -> None:
    with pytest.raises(ValueError, match="no route"):
        make_event("GET", "/v1/nope", routes=ROUTES)


# ------------------------------------------------------------ two APIs, one port


def test_a_path_served_by_two_apis_goes_by_the_authorization_header() -> None:
    routes = [
        tpl.Route("GET", "/v1/explanations/{decision_id}", "AuditFunction", "a.h", "iam", False, api="Api"),
        tpl.Route("GET", "/v1/explanations/{decision_id}", "CustomerFunction", "c.h", "none", False, api="CustomerApi"),
        tpl.Route("GET", "/v1/explanations/{decision_id}/view", "CustomerFunction", "c.h", "none", False, api="C"),
    ]
    gateway = Gateway(routes, handlers={"AuditFunction": "tests.dummy_handlers.echo"}, resolve=lambda _: _echo)
    with_auth, _, _ = gateway.match("GET", "/v1/explanations/D1", authorization=True)
    without, params, _ = gateway.match("GET", "/v1/explanations/D1", authorization=False)
    assert with_auth is not None and with_auth.function == "AuditFunction"
    assert without is not None and without.function == "CustomerFunction"
    assert params == {"decision_id": "D1"}

    audited = gateway.dispatch(request("GET", "/v1/explanations/D1", {"Authorization": "Bearer local-auditor-token"}))
    assert audited.json()["context"]["function_name"] == "AuditFunction"
    assert audited.json()["event"]["requestContext"]["identity"]["userArn"] == role_arn("auditor")
    public = gateway.dispatch(request("GET", "/v1/explanations/D1", query=[("token", "t")]))
    assert public.json()["context"]["function_name"] == "CustomerFunction"
    assert public.json()["event"]["requestContext"]["identity"]["userArn"] is None
    # A wrong bearer token on the shared path is the IAM route's 401, never the public route.
    assert gateway.dispatch(request("GET", "/v1/explanations/D1", {"Authorization": "Bearer nope"})).status == 401


def _echo(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return dummy_handlers.echo(event, context)
