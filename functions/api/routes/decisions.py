"""POST /v1/decisions/{model_id}: the chatbot's call, made idempotent on request_id."""

from __future__ import annotations

import json
from typing import Annotated

from aws_lambda_powertools import Metrics
from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.params import Body, Path
from aws_lambda_powertools.metrics import MetricUnit

from functions.api.auth import IAM_AUTH, Role, requires
from functions.api.decision_dependencies import decision_services
from functions.api.errors import AUTH_ERRORS, documented
from functions.coldstart import per_container
from functions.domain.decide import decide
from functions.domain.inputs import validate_inputs
from functions.schemas.api import DecisionRequest, DecisionResponse
from functions.schemas.settings import decision_settings
from functions.stores import aws_clients
from functions.stores.decision_commit import one_commit, take
from functions.stores.decision_idempotency import DecisionLedger, request_hash
from functions.stores.idempotency_keys import decision_idempotency_key

router = Router()
metrics = Metrics()

_ERRORS = AUTH_ERRORS | documented(
    e400="Malformed JSON or not an object",
    e404="Unknown model",
    e409="request_id reused with a different body, or its first request is being stored right now",
    e413="Body over 256 KB",
    e415="The body is not sent as application/json",
    e422="Missing, unknown, mistyped or out-of-range field (named in `field`)",
    e502="The model answered with something invalid",
    e503="Model or storage unavailable; nothing was decided or stored",
)


@per_container
def decision_ledger() -> DecisionLedger:
    """Where each request_id's answer is remembered, committed with its decision (stores/decision_idempotency.py)."""
    settings = decision_settings()
    return DecisionLedger(
        table=settings.idempotency_table, ttl_seconds=settings.idempotency_ttl_seconds, dynamodb=aws_clients.dynamodb()
    )


def _replayed(stored: str) -> str:
    """A retry's answer: the first one as stored, validated and in the response's field order.

    Answers stored by the earlier Powertools version have their keys sorted; a retry must get the
    first answer byte for byte as a fresh answer is written (`post_decision`).
    """
    return _json(DecisionResponse.model_validate_json(stored).model_dump(mode="json"))


def _json(answer: dict[str, object]) -> str:
    return json.dumps(answer, separators=(",", ":"))


def _links_base() -> str:
    """The configured public URL, or the API's own (`https://<domain>/<stage>`) as the request reached it."""
    configured = decision_settings().public_base_url
    if configured:
        return configured
    context = router.current_event.raw_event.get("requestContext", {})
    return f"https://{context.get('domainName', 'localhost')}/{context.get('stage', '')}".rstrip("/")


@router.post(
    "/v1/decisions/<model_id>",
    summary="Decide, explain, disclose and seal",
    description="Calls the model, explains the outcome with SHAP, attaches the AI-disclosure notice, and stores "
    "the sealed record before answering. A replayed request_id returns the first answer and stores nothing.",
    middlewares=[requires(Role.chatbot)],
    security=IAM_AUTH,
    responses={
        200: {
            "description": "The decision with its explanation and notice",
            "content": {"application/json": {"model": DecisionResponse}},
        },
        **_ERRORS,
    },
    tags=["decisions"],
)
def post_decision(
    model_id: Annotated[str, Path(max_length=64)],
    request: Annotated[DecisionRequest, Body(embed=False)],
) -> Response[str]:
    metrics.add_metric(name="DecisionRequests", unit=MetricUnit.Count, value=1)
    services = decision_services()
    validate_inputs(services.models.runtime(model_id).manifest, request.inputs)  # 404/422 keep no state
    hashed = request_hash(request.model_dump(mode="json"))
    with one_commit():  # the record's items are staged, and stored with the answer in one transaction
        # Written out once here, not validated back into the model and dumped again by the resolver.
        answer = _json(decide(model_id, request, services, _links_base()).model_dump(mode="json"))
        first = decision_ledger().commit(decision_idempotency_key(model_id, request.request_id), hashed, answer, take())
    if first is not None:
        return Response(200, content_type="application/json", body=_replayed(first))
    metrics.add_metric(name="DecisionsSealed", unit=MetricUnit.Count, value=1)
    return Response(200, content_type="application/json", body=answer)
