"""Who is calling: the role of the IAM principal that API Gateway authenticated.

The gateway authorizes each route already; the handlers check the role again (defence in
depth), so a mis-wired route cannot hand auditor data to a chatbot.
"""

from __future__ import annotations

from collections.abc import Callable
from enum import StrEnum
from http import HTTPStatus
from typing import TYPE_CHECKING

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.api_gateway import ApiGatewayResolver
from aws_lambda_powertools.event_handler.middlewares import NextMiddleware

from functions.api.errors import HttpError
from functions.schemas.settings import CatalogSettings, catalog_settings

if TYPE_CHECKING:
    from aws_lambda_powertools.event_handler.openapi.models import SecurityScheme

IAM_AUTH: list[dict[str, list[str]]] = [{"sigv4": []}]


def security_schemes() -> dict[str, SecurityScheme]:
    """How the main API authenticates, for its OpenAPI document (`IAM_AUTH` names it).

    API Gateway's IAM authorization reads the SigV4 signature in the Authorization header; the local
    stack reads `Bearer <token>` from the same header. Built on demand: Powertools' OpenAPI models
    take ~0.2 s to import, which no function pays at cold start for a document only `make openapi` writes.
    """
    from aws_lambda_powertools.event_handler.openapi.models import APIKey

    return {
        "sigv4": APIKey.model_validate(
            {
                "type": "apiKey",
                "in": "header",
                "name": "Authorization",
                "description": "SigV4 as the candor-chatbot, candor-auditor, candor-privacy or candor-reviewer IAM "
                "role; on the local stack `Bearer <token>`. No credentials: 401; another role's: 403.",
                "x-amazon-apigateway-authtype": "awsSigv4",
            }
        )
    }


class Role(StrEnum):
    chatbot = "chatbot"
    auditor = "auditor"
    privacy = "privacy"
    reviewer = "reviewer"


def role_name(principal_arn: str) -> str | None:
    """`arn:aws:sts::1:assumed-role/NAME/session` or `arn:aws:iam::1:role/NAME` -> NAME."""
    resource = principal_arn.split(":", 5)[-1]
    kind, _, rest = resource.partition("/")
    if kind in ("assumed-role", "role") and rest:
        return rest.split("/")[0] if kind == "assumed-role" else rest.rsplit("/", 1)[-1]
    return None


def caller_role(identity: dict, settings: CatalogSettings) -> Role | None:
    roles = {
        settings.chatbot_role: Role.chatbot,
        settings.auditor_role: Role.auditor,
        settings.privacy_role: Role.privacy,
        settings.reviewer_role: Role.reviewer,
    }
    name = role_name(identity.get("userArn") or "")
    return roles.get(name) if name else None


def requires(*allowed: Role) -> Callable[[ApiGatewayResolver, NextMiddleware], Response]:
    """Route middleware: 401 without an authenticated principal, 403 for a role not in `allowed`."""

    def check(app: ApiGatewayResolver, next_middleware: NextMiddleware) -> Response:
        identity = app.current_event.raw_event.get("requestContext", {}).get("identity") or {}
        if not identity.get("userArn"):
            raise HttpError(HTTPStatus.UNAUTHORIZED, "unauthenticated", "this route needs an authenticated caller")
        role = caller_role(identity, catalog_settings())
        if role not in allowed:
            raise HttpError(HTTPStatus.FORBIDDEN, "forbidden", f"this route is for: {', '.join(allowed)}")
        app.append_context(role=role)
        return next_middleware(app)

    return check
