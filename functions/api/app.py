"""The resolver every function builds: validation on, error envelope, body-size limit."""

from __future__ import annotations

from http import HTTPStatus
from typing import Any

from aws_lambda_powertools.event_handler import APIGatewayRestResolver
from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.middleware_factory import lambda_handler_decorator
from aws_lambda_powertools.utilities.typing import LambdaContext

from functions.api.errors import error_response, register_error_handlers
from functions.schemas.api import MAX_BODY_BYTES


def build_app(*routers: Router) -> APIGatewayRestResolver:
    app = APIGatewayRestResolver(enable_validation=True)
    register_error_handlers(app)
    for router in routers:
        app.include_router(router)
    return app


@lambda_handler_decorator
def limit_body_size(handler: Any, event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    """413 before anything is parsed when the body is over the documented limit."""
    body = event.get("body") or ""
    size = len(body) * 3 // 4 if event.get("isBase64Encoded") else len(body.encode())
    if size > MAX_BODY_BYTES:
        response = error_response(
            HTTPStatus.REQUEST_ENTITY_TOO_LARGE, "body_too_large", f"the body is over {MAX_BODY_BYTES} bytes", "body"
        )
        return {
            "statusCode": response.status_code,
            "headers": {"Content-Type": "application/json"},
            "body": response.body,
            "isBase64Encoded": False,
        }
    return handler(event, context)
