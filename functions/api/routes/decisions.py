"""POST /v1/decisions/{model_id}: the chatbot's call, made idempotent on request_id."""

from __future__ import annotations

import json
from typing import Annotated, Any

from aws_lambda_powertools import Metrics
from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.params import Body, Path
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.idempotency import IdempotencyConfig, idempotent_function
from aws_lambda_powertools.utilities.idempotency.persistence.datarecord import DataRecord

from functions.api.auth import IAM_AUTH, Role, requires
from functions.api.decision_dependencies import decision_services
from functions.api.errors import AUTH_ERRORS, documented
from functions.coldstart import per_container
from functions.domain.decide import decide
from functions.domain.inputs import validate_inputs
from functions.schemas.api import DecisionRequest, DecisionResponse
from functions.schemas.settings import decision_settings
from functions.stores import aws_clients
from functions.stores.decision_commit import one_commit
from functions.stores.idempotency_keys import DECISION_KEY_PREFIX
from functions.stores.transactional_idempotency import TransactionalPersistenceLayer

router = Router()
metrics = Metrics()

_ERRORS = AUTH_ERRORS | documented(
    e400="Malformed JSON or not an object",
    e404="Unknown model",
    e409="request_id reused with a different body, or still in progress",
    e413="Body over 256 KB",
    e415="The body is not sent as application/json",
    e422="Missing, unknown, mistyped or out-of-range field (named in `field`)",
    e502="The model answered with something invalid",
    e503="Model or storage unavailable; nothing was decided or stored",
)


class DecisionCall(dict[str, Any]):
    """What `_decide_once` is called with: built fresh for each request and never changed after.

    Powertools Idempotency deep-copies its payload before hashing it, in case the function changes
    it between the in-progress and the success writes; this one is never changed (the request in
    it is a fresh dump of the validated model), so the copy, ~50 Python objects for a tabular
    decision, is skipped.
    """

    def __deepcopy__(self, memo: dict[int, Any]) -> DecisionCall:
        return self


def _decide_once(*, data: dict[str, Any]) -> dict[str, Any]:
    request = DecisionRequest.model_validate(data["request"])
    response = decide(data["model_id"], request, decision_services(), data["links_base"])
    metrics.add_metric(name="DecisionsSealed", unit=MetricUnit.Count, value=1)
    return response.model_dump(mode="json")


def _replayed_answer(response: Any, idempotent_data: DataRecord) -> dict[str, Any]:
    """A retry's answer: the first one as stored, validated and back in the response's field order.

    Powertools stores the answer with its keys sorted; a retry must get the first answer byte for
    byte, and a fresh answer keeps the model's field order (written out by `post_decision`).
    """
    return DecisionResponse.model_validate(response).model_dump(mode="json")


@per_container
def _idempotency_config() -> IdempotencyConfig:
    return IdempotencyConfig(
        event_key_jmespath="[model_id, request.request_id]",
        payload_validation_jmespath="request",
        raise_on_no_idempotency_key=True,
        expires_after_seconds=decision_settings().idempotency_ttl_seconds,
        hash_function="sha256",
        response_hook=_replayed_answer,
    )


@per_container
def idempotent_decide() -> Any:
    """`_decide_once` behind Powertools Idempotency: a replay returns the stored first answer.

    Its success update also commits the decision's index item, in one transaction
    (`functions/stores/decision_commit.py`), on the function's own DynamoDB client.
    """
    store = TransactionalPersistenceLayer(
        table_name=decision_settings().idempotency_table, boto3_client=aws_clients.dynamodb()
    )
    return idempotent_function(
        _decide_once,
        data_keyword_argument="data",
        persistence_store=store,
        config=_idempotency_config(),
        key_prefix=DECISION_KEY_PREFIX,  # a key the privacy function can derive (decision_idempotency_key)
    )


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
    validate_inputs(decision_services().models.runtime(model_id).manifest, request.inputs)  # 404/422 keep no state
    _idempotency_config().register_lambda_context(router.lambda_context)  # in-progress locks expire with the Lambda
    data = DecisionCall(model_id=model_id, request=request.model_dump(mode="json"), links_base=_links_base())
    with one_commit():  # the record's index item goes out with the idempotency completion
        answer = idempotent_decide()(data=data)
    # The answer is a dump of a DecisionResponse, fresh or (`_replayed_answer`) as first stored for this
    # request_id: written out once here, not validated back into the model and dumped again by the resolver.
    return Response(200, content_type="application/json", body=json.dumps(answer, separators=(",", ":")))
