"""The HTTP side of the local API Gateway: requests, responses, the local bearer tokens, and the
API Gateway REST (v1) proxy event a request becomes.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from infra.local.lambda_runtime import ACCOUNT_ID

API_ID = "candorlocal"
DEFAULT_STAGE = "prod"
MAX_BODY_BYTES = 10 * 1024 * 1024  # API Gateway's payload limit
ROLES = ("chatbot", "auditor", "privacy", "reviewer")
TOKEN_ENV = {role: f"CANDOR_{role.upper()}_TOKEN" for role in ROLES}
# Documented defaults for the local stack only; never valid anywhere else.
DEFAULT_TOKENS = {role: f"local-{role}-token" for role in ROLES}


def local_tokens(environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """role -> bearer token, from CANDOR_<ROLE>_TOKEN or the documented local defaults."""
    environ = os.environ if environ is None else environ
    return {role: environ.get(TOKEN_ENV[role]) or DEFAULT_TOKENS[role] for role in ROLES}


def role_arn(role: str) -> str:
    """The assumed-role ARN IAM auth puts into `requestContext.identity.userArn` for a role."""
    return f"arn:aws:sts::{ACCOUNT_ID}:assumed-role/candor-{role}/local"


# ---------------------------------------------------------------- requests, responses


@dataclass
class HttpRequest:
    """An HTTP request as the gateway sees it (path without the query string, still percent-encoded)."""

    method: str
    path: str
    query: list[tuple[str, str]] = field(default_factory=list)
    headers: list[tuple[str, str]] = field(default_factory=list)
    body: bytes = b""
    source_ip: str = "127.0.0.1"

    def header(self, name: str) -> str | None:
        """The last value of a header, case-insensitively."""
        value = None
        for key, candidate in self.headers:
            if key.lower() == name.lower():
                value = candidate
        return value


@dataclass
class HttpResponse:
    """What goes back to the HTTP client."""

    status: int
    headers: list[tuple[str, str]]
    body: bytes

    def header(self, name: str) -> str | None:
        """The first value of a header, case-insensitively."""
        return next((v for k, v in self.headers if k.lower() == name.lower()), None)

    def json(self) -> Any:
        """The body parsed as JSON."""
        return json.loads(self.body)


def error_response(status: int, code: str, message: str, headers: Iterable[tuple[str, str]] = ()) -> HttpResponse:
    """The API's error envelope: {"error": {"code", "message"}}."""
    body = json.dumps({"error": {"code": code, "message": message}}).encode()
    return HttpResponse(status, [("Content-Type", "application/json"), *headers], body)


# ------------------------------------------------------------------------ the event


def _identity(source_ip: str, user_agent: str | None, role: str | None, api_key: str | None) -> dict[str, Any]:
    principal = f"AROALOCAL{role.upper()}:local" if role else None
    return {
        "cognitoIdentityPoolId": None,
        "cognitoIdentityId": None,
        "cognitoAuthenticationType": None,
        "cognitoAuthenticationProvider": None,
        "principalOrgId": None,
        "accountId": ACCOUNT_ID if role else None,
        "caller": principal,
        "user": principal,
        "userArn": role_arn(role) if role else None,
        "accessKey": "ASIALOCALACCESSKEY00" if role else None,
        "apiKey": api_key,
        "apiKeyId": "local-api-key" if api_key else None,
        "sourceIp": source_ip,
        "userAgent": user_agent,
    }


def build_event(
    request: HttpRequest,
    resource: str,
    path_parameters: Mapping[str, str] | None = None,
    *,
    role: str | None = None,
    stage: str = DEFAULT_STAGE,
    request_id: str | None = None,
    now: datetime | None = None,
) -> dict[str, Any]:
    """The API Gateway REST (v1) proxy event for `request`, matched to `resource` (e.g. /v1/decisions/{model_id}).

    `role` is the authenticated caller (chatbot, auditor, privacy) or None for an anonymous route.
    Bodies that are valid UTF-8 pass as text, anything else base64-encoded, as API Gateway does.
    """
    now = now or datetime.now(UTC)
    request_id = request_id or str(uuid.uuid4())
    host = request.header("Host") or "localhost"

    headers: list[tuple[str, str]] = list(request.headers)
    present = {k.lower() for k, _ in headers}
    for key, value in (
        ("X-Forwarded-For", request.source_ip),
        ("X-Forwarded-Proto", "http"),
        (
            "X-Amzn-Trace-Id",
            f"Root=1-{int(now.timestamp()):08x}-{hashlib.sha256(request_id.encode()).hexdigest()[:24]}",
        ),
    ):
        if key.lower() not in present:
            headers.append((key, value))
    single_headers: dict[str, str] = {}
    multi_headers: dict[str, list[str]] = {}
    for key, value in headers:
        single_headers[key] = value
        multi_headers.setdefault(key, []).append(value)

    single_query: dict[str, str] = {}
    multi_query: dict[str, list[str]] = {}
    for key, value in request.query:
        single_query[key] = value
        multi_query.setdefault(key, []).append(value)

    body: str | None
    is_base64 = False
    if not request.body:
        body = None
    else:
        try:
            body = request.body.decode("utf-8")
        except UnicodeDecodeError:
            body = base64.b64encode(request.body).decode("ascii")
            is_base64 = True

    return {
        "resource": resource,
        "path": request.path,
        "httpMethod": request.method,
        "headers": single_headers or None,
        "multiValueHeaders": multi_headers or None,
        "queryStringParameters": single_query or None,
        "multiValueQueryStringParameters": multi_query or None,
        "pathParameters": dict(path_parameters) if path_parameters else None,
        "stageVariables": None,
        "requestContext": {
            "resourceId": hashlib.sha256(resource.encode()).hexdigest()[:6],
            "resourcePath": resource,
            "httpMethod": request.method,
            "extendedRequestId": request_id,
            "requestTime": now.strftime("%d/%b/%Y:%H:%M:%S +0000"),
            "requestTimeEpoch": int(now.timestamp() * 1000),
            "path": f"/{stage}{request.path}",
            "accountId": ACCOUNT_ID,
            "protocol": "HTTP/1.1",
            "stage": stage,
            "domainPrefix": host.split(".")[0].split(":")[0],
            "domainName": host,
            "requestId": request_id,
            "apiId": API_ID,
            "identity": _identity(request.source_ip, request.header("User-Agent"), role, request.header("x-api-key")),
        },
        "body": body,
        "isBase64Encoded": is_base64,
    }
