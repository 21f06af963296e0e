"""The customer's routes (public CustomerApi, no IAM): their decision as a page, as data, and an appeal.

Every route checks the link's token before it reads anything, and every bad token gets the same
403, so a caller learns nothing, not even whether a decision exists.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from http import HTTPStatus
from typing import Annotated, Any
from urllib.parse import parse_qs

from aws_lambda_powertools import Metrics
from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.params import Query
from aws_lambda_powertools.metrics import MetricUnit

from functions.api import customer_page
from functions.api.customer_dependencies import CustomerServices, customer_services
from functions.api.errors import HttpError, documented, error_response
from functions.domain.appeals import file_appeal
from functions.domain.completion_seal import current_explanation
from functions.domain.customer_view import RESTRICTED, customer_view, restricted_view
from functions.domain.errors import InvalidInput
from functions.schemas.customer import AppealRequest, CustomerView
from functions.schemas.settings import catalog_settings
from functions.stores.record_store import StoredRecord

router = Router()
metrics = Metrics()

Token = Annotated[str, Query(description="The token from the customer link (`links.customer_view`).")]
FORBIDDEN = "this link is not valid or has expired"
_HTML = "text/html; charset=utf-8"
_JSON_HEADERS = {"Cache-Control": "no-store", "Referrer-Policy": "no-referrer", "X-Content-Type-Options": "nosniff"}
_ERRORS = documented(
    e403="Missing, malformed, altered, expired or other-decision token, or an unknown decision: the same 403 for "
    "all, checked before any lookup, so it reveals nothing",
    e404="The token is valid but the decision no longer exists (past its retention)",
    e503="Storage or the link key is unavailable",
)
_APPEAL_SCHEMA = AppealRequest.model_json_schema()
# The body is read by the route itself, after the token check (request validation would run before it).
_APPEAL_BODY = {
    "required": True,
    "content": {
        "application/json": {"schema": _APPEAL_SCHEMA},
        "application/x-www-form-urlencoded": {"schema": _APPEAL_SCHEMA},
    },
}


def _html(status: int, page: str) -> Response[str]:
    return Response(status_code=status, content_type=_HTML, body=page, headers=dict(customer_page.HEADERS))


def _json(status: int, body: Any) -> Response[str]:
    return Response(status_code=status, content_type="application/json", body=json.dumps(body), headers=_JSON_HEADERS)


def _forbidden(html: bool) -> Response[str]:
    metrics.add_metric(name="CustomerLinkRejected", unit=MetricUnit.Count, value=1)
    if html:
        return _html(HTTPStatus.FORBIDDEN, customer_page.render_forbidden(catalog_settings()))
    response = error_response(HTTPStatus.FORBIDDEN, "forbidden", FORBIDDEN)
    response.headers.update(_JSON_HEADERS)
    return response


def _stored(services: CustomerServices, decision_id: str) -> StoredRecord:
    stored = services.records.get(decision_id)
    if stored is None:
        raise HttpError(HTTPStatus.NOT_FOUND, "not_found", "this decision no longer exists")
    return stored


def _view(services: CustomerServices, stored: StoredRecord) -> CustomerView:
    env = stored.record.envelope
    if stored.item.get("erasure_status") == RESTRICTED:
        return restricted_view(env.decision_id, env.decided_at, env.locale, services.operator)
    appeal = services.appeals.get(env.decision_id)
    return customer_view(
        stored.record,
        stored.item,
        manifest=services.manifest(env.model.id),
        notices=services.notices,
        operator=services.operator,
        # A referral is the operator's item, not the customer's appeal: its reason would give the outcome away.
        appeal=appeal.public() if appeal and appeal.kind == "appeal" else None,
        referral=appeal.public() if appeal and appeal.kind == "referral" else None,
        explanation=current_explanation(stored.record, stored.completion),  # pending until the worker completes it
    )


@router.get(
    "/v1/explanations/<decision_id>/view",
    summary="The customer's page: why this answer, what data, how to contest (HTML)",
    description="Server-rendered, no scripts or external assets, in the decision's language. Customer API "
    "(public): authorized by the signed, expiring token of the customer link, not by IAM.",
    responses={200: {"description": "The page", "content": {_HTML: {}}}, **_ERRORS},
    tags=["customer"],
)
def view_page(decision_id: str, token: Token = "") -> Response[str]:
    services = customer_services()
    if not services.token_valid(token, decision_id):
        return _forbidden(html=True)
    stored = services.records.get(decision_id)
    if stored is None:
        return _html(HTTPStatus.NOT_FOUND, customer_page.render_forbidden(catalog_settings()))
    metrics.add_metric(name="CustomerPageViews", unit=MetricUnit.Count, value=1)
    return _html(HTTPStatus.OK, customer_page.render_view(_view(services, stored), token))


@router.get(
    "/v1/explanations/<decision_id>",
    summary="The customer's view of their decision (JSON)",
    description="The page's content as data; nothing internal (no hashes, segments or model internals beyond "
    "the reasons). The auditor's view of the same path is on the IAM-authorized API.",
    responses={200: {"description": "The customer's view"}, **_ERRORS},
    tags=["customer"],
)
def view_json(decision_id: str, token: Token = "") -> Response[str]:
    services = customer_services()
    if not services.token_valid(token, decision_id):
        return _forbidden(html=False)
    view = _view(services, _stored(services, decision_id))
    return _json(HTTPStatus.OK, view.model_dump(mode="json"))


def _reason_of(raw: str, content_type: str) -> str | None:
    """The `reason` of a form-encoded or JSON body; 400/415 for a body that is neither."""
    if content_type.startswith("application/x-www-form-urlencoded"):
        return (parse_qs(raw, keep_blank_values=True).get("reason") or [""])[0]
    if content_type.startswith("application/json") or not content_type:
        try:
            body = json.loads(raw) if raw else {}
        except json.JSONDecodeError:
            raise HttpError(HTTPStatus.BAD_REQUEST, "malformed_body", "the body must be a JSON object") from None
        if not isinstance(body, dict):
            raise HttpError(HTTPStatus.BAD_REQUEST, "malformed_body", "the body must be a JSON object")
        reason = body.get("reason")
        if reason is not None and not isinstance(reason, str):
            raise HttpError(HTTPStatus.UNPROCESSABLE_ENTITY, "invalid_field", "reason: must be text", "reason")
        return reason
    raise HttpError(
        HTTPStatus.UNSUPPORTED_MEDIA_TYPE,
        "unsupported_media_type",
        "send application/json or application/x-www-form-urlencoded",
    )


@router.post(
    "/v1/explanations/<decision_id>/appeal",
    summary="Contest a decision: recorded for human review",
    description='JSON `{"reason": ...}` answers JSON (201 new, 200 when the decision was already appealed: the '
    "existing appeal, nothing new stored); the page's form post (`application/x-www-form-urlencoded`) answers "
    "an HTML confirmation page. The reason (1-2000 characters) is redacted before it is stored.",
    responses={
        200: {"description": "The decision was already appealed: the existing appeal"},
        201: {"description": "The appeal was recorded"},
        **_ERRORS,
        **documented(
            e400="Malformed JSON or not an object",
            e415="Neither JSON nor a form post",
            e409="A person is already deciding on this decision (the model's review policy referred it)",
            e422="Empty reason, or over 2000 characters; nothing stored",
        ),
    },
    openapi_extensions={"requestBody": _APPEAL_BODY},
    tags=["customer"],
)
def appeal(decision_id: str, token: Token = "") -> Response[str]:
    event = router.current_event
    content_type = (event.headers.get("content-type") or event.headers.get("Content-Type") or "").lower().strip()
    form = content_type.startswith("application/x-www-form-urlencoded")
    services = customer_services()
    if not services.token_valid(token, decision_id):
        return _forbidden(html=form)
    raw = event.decoded_body or ""
    stored = _stored(services, decision_id)
    try:
        appeal, created = file_appeal(
            stored.record.envelope,
            _reason_of(raw, content_type),
            services.appeals,
            datetime.now(UTC),
            int(stored.item["expires_at"]) if "expires_at" in stored.item else None,
        )
    except InvalidInput as error:
        if form:
            page = customer_page.render_invalid_appeal(error.message, stored.record.envelope.locale, token)
            return _html(HTTPStatus.UNPROCESSABLE_ENTITY, page)
        raise
    if appeal.kind == "referral":  # the decision's queue item is the referral: a person decides already
        if form:
            page = customer_page.render_referred_appeal(stored.record.envelope.locale, token)
            return _html(HTTPStatus.CONFLICT, page)
        raise HttpError(HTTPStatus.CONFLICT, "referred", "a person is already deciding on this decision")
    if created:
        metrics.add_metric(name="AppealsReceived", unit=MetricUnit.Count, value=1)
    status = HTTPStatus.CREATED if created else HTTPStatus.OK
    public = appeal.public()
    if form:
        return _html(status, customer_page.render_appeal_received(public, created, appeal.locale, token))
    return _json(status, public.model_dump(mode="json"))
