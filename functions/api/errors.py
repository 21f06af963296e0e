"""The one place where exceptions become HTTP responses with the error envelope.

Every error body is `{"error": {"code", "message", "field"?}}`. Anything the caller can
fix is a 4xx; a dependency failure is a 503; an unexpected fault is a 500 that reveals
nothing of the request.
"""

from __future__ import annotations

import json
from http import HTTPStatus
from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.api_gateway import ApiGatewayResolver
from aws_lambda_powertools.event_handler.openapi.exceptions import (
    RequestUnsupportedContentType,
    RequestValidationError,
)
from aws_lambda_powertools.event_handler.openapi.types import OpenAPIResponse

from functions.domain.errors import (
    CandorError,
    Conflict,
    DependencyUnavailable,
    InvalidInput,
    MalformedRequest,
    ManifestError,
    ModelOutputInvalid,
    NotFound,
)
from functions.schemas.api import ErrorBody

logger = Logger(child=True)

STATUS_OF: dict[type[CandorError], HTTPStatus] = {
    InvalidInput: HTTPStatus.UNPROCESSABLE_ENTITY,
    NotFound: HTTPStatus.NOT_FOUND,
    Conflict: HTTPStatus.CONFLICT,
    MalformedRequest: HTTPStatus.BAD_REQUEST,
    ModelOutputInvalid: HTTPStatus.BAD_GATEWAY,
    DependencyUnavailable: HTTPStatus.SERVICE_UNAVAILABLE,
    ManifestError: HTTPStatus.SERVICE_UNAVAILABLE,
}

# Pydantic error types that mean "this is not a JSON object at all", not "a field is wrong".
_MALFORMED_BODY = {"json_invalid", "model_attributes_type", "dict_type", "model_type"}


class HttpError(Exception):
    """Raised by the API layer itself (auth, size limits) with its status and code."""

    def __init__(self, status: HTTPStatus, code: str, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.status, self.code, self.message, self.field = status, code, message, field


def error_response(status: HTTPStatus, code: str, message: str, field: str | None = None) -> Response[str]:
    error: dict[str, Any] = {"code": code, "message": message}
    if field is not None:
        error["field"] = field
    return Response(status_code=int(status), content_type="application/json", body=json.dumps({"error": error}))


def documented(**descriptions: str) -> dict[int, OpenAPIResponse]:
    """OpenAPI `responses` for error statuses, e.g. `documented(e404="Unknown model")`."""
    return {
        int(name.removeprefix("e")): {"description": text, "content": {"application/json": {"model": ErrorBody}}}
        for name, text in descriptions.items()
    }


AUTH_ERRORS = documented(e401="No authenticated caller", e403="The caller's role may not use this route")


def status_of(error: CandorError) -> HTTPStatus:
    for cls in type(error).__mro__:
        if cls in STATUS_OF:
            return STATUS_OF[cls]
    return HTTPStatus.INTERNAL_SERVER_ERROR


def _field_of(location: tuple[Any, ...]) -> str:
    parts = [str(part) for part in location if part != "body"]
    return ".".join(parts) or "body"


def register_error_handlers(app: ApiGatewayResolver) -> None:
    @app.exception_handler(HttpError)
    def _http(error: HttpError) -> Response[str]:
        return error_response(error.status, error.code, error.message, error.field)

    @app.exception_handler(CandorError)
    def _domain(error: CandorError) -> Response[str]:
        status = status_of(error)
        if status >= 500:
            logger.warning("dependency or model failure", extra={"code": error.code, "reason": error.message})
        return error_response(status, error.code, error.message, error.field)

    @app.exception_handler(RequestValidationError)
    def _validation(error: RequestValidationError) -> Response[str]:
        first = error.errors()[0]
        location = tuple(first.get("loc", ()))
        if first.get("type") == "json_invalid" or (first.get("type") in _MALFORMED_BODY and location == ("body",)):
            return error_response(HTTPStatus.BAD_REQUEST, "malformed_body", "the body must be a JSON object")
        if location[:1] == ("path",):
            return error_response(HTTPStatus.NOT_FOUND, "not_found", str(first.get("msg")), _field_of(location[1:]))
        source = "query." if location[:1] == ("query",) else ""
        field = source + _field_of(location[1:] if source else location)
        return error_response(HTTPStatus.UNPROCESSABLE_ENTITY, "invalid_field", f"{field}: {first.get('msg')}", field)

    @app.exception_handler(RequestUnsupportedContentType)
    def _media_type(_: RequestUnsupportedContentType) -> Response[str]:
        return error_response(
            HTTPStatus.UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type", "send the body as application/json"
        )

    @app.not_found
    def _not_found(_: Exception) -> Response[str]:
        return error_response(HTTPStatus.NOT_FOUND, "not_found", "no such route")

    @app.exception_handler(Exception)
    def _unexpected(_: Exception) -> Response[str]:
        logger.exception("unexpected error")  # the message, not the request: no personal data
        return error_response(HTTPStatus.INTERNAL_SERVER_ERROR, "internal_error", "an unexpected error occurred")
