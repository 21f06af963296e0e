"""The resolver every function builds: validation on, error envelope, body-size limit."""

from __future__ import annotations

import base64
from http import HTTPStatus
from typing import Any

from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response
from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.middlewares import NextMiddleware
from aws_lambda_powertools.middleware_factory import lambda_handler_decorator
from aws_lambda_powertools.utilities.typing import LambdaContext

from functions.api.errors import HttpError, error_response, register_error_handlers
from functions.schemas.api import MAX_BODY_BYTES


def build_app(*routers: Router) -> APIGatewayRestResolver:
    app = APIGatewayRestResolver(enable_validation=True)
    register_error_handlers(app)
    app.use([reject_unknown_query_parameters])
    for router in routers:
        app.include_router(router)
    return app


def reject_unknown_query_parameters(app: APIGatewayRestResolver, next_middleware: NextMiddleware) -> Response:
    """422 for a query parameter the route does not declare: a misspelt filter must not be silently ignored."""
    route = app.context.get("_route")  # set by the resolver for the matched route (Powertools' validation reads it)
    if route is not None:
        declared = {param.alias for param in route.dependant.query_params}
        unknown = sorted(set(app.current_event.query_string_parameters or {}) - declared)
        if unknown:
            field = f"query.{unknown[0][:64]}"
            raise HttpError(HTTPStatus.UNPROCESSABLE_ENTITY, "invalid_field", f"{field}: unknown parameter", field)
    return next_middleware(app)


@lambda_handler_decorator
def limit_body_size(handler: Any, event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    """413 before anything is parsed when the body is over the documented limit; 400 when it is not UTF-8 text."""
    body = event.get("body") or ""
    size = len(body) * 3 // 4 if event.get("isBase64Encoded") else len(body.encode())
    if size > MAX_BODY_BYTES:
        return _proxy(
            error_response(
                HTTPStatus.REQUEST_ENTITY_TOO_LARGE,
                "body_too_large",
                f"the body is over {MAX_BODY_BYTES} bytes",
                "body",
            )
        )
    if body and event.get("isBase64Encoded"):  # API Gateway base64-encodes a body that is not UTF-8
        try:
            base64.b64decode(body).decode("utf-8")
        except ValueError:  # binascii.Error and UnicodeDecodeError both are
            return _proxy(error_response(HTTPStatus.BAD_REQUEST, "malformed_body", "the body must be UTF-8 text"))
    return handler(event, context)


@lambda_handler_decorator
def json_bodies_only(handler: Any, event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    """415 for a body that is not JSON, before Powertools would try it as a form or multipart upload."""
    headers = {str(k).lower(): str(v) for k, v in (event.get("headers") or {}).items()}
    content_type = headers.get("content-type", "").strip().lower()
    if event.get("body") and content_type and not content_type.startswith("application/json"):
        return _proxy(
            error_response(
                HTTPStatus.UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type", "send the body as application/json"
            )
        )
    return handler(event, context)


def _proxy(response: Response[str]) -> dict[str, Any]:
    return {
        "statusCode": response.status_code,
        "headers": {"Content-Type": "application/json"},
        "body": response.body,
        "isBase64Encoded": False,
    }
