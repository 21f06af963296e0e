"""A local stand-in for API Gateway (REST, proxy integration) in front of the in-process Lambda handlers.

Routes come from `template.yaml` (see `infra.template.routes`). Each HTTP request becomes the
API Gateway v1 proxy event and Lambda context the handler would get in AWS; its proxy response
goes back as HTTP. Authentication follows the local mode of docs/api.md: routes that are
`AWS_IAM` in the template need `Authorization: Bearer <token>`, and a known token is turned into
the `requestContext.identity.userArn` that SigV4 with that role would give. The handlers still
check the role themselves.

Routes of every API in the template are served on the one local port. Where two APIs serve the
same method and path (the auditor's IAM `GET /v1/explanations/{decision_id}` and the customer's
public, token-authorized one), a request with an `Authorization` header goes to the IAM route
and one without goes to the public route, as the two hosts would in AWS.

Not emulated: API keys and usage-plan throttling (the key, when sent, is passed on in the event),
the 29 s integration timeout, binary media types, CORS.
"""

from __future__ import annotations

import base64
import contextlib
import dataclasses
import hashlib
import hmac
import importlib
import json
import logging
import os
import re
import threading
import time
import traceback
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

from infra.function_logs import FunctionLogs
from infra.invocation import running
from infra.template import Route

# Not under "candor": Powertools configures that logger for the functions, with their Lambda context.
logger = logging.getLogger(__name__)

ACCOUNT_ID = "123456789012"
REGION = "eu-west-1"
API_ID = "candorlocal"
DEFAULT_STAGE = "prod"
MAX_BODY_BYTES = 10 * 1024 * 1024  # API Gateway's payload limit

ROLES = ("chatbot", "auditor", "privacy")
TOKEN_ENV = {role: f"CANDOR_{role.upper()}_TOKEN" for role in ROLES}
# Documented defaults for the local stack only; never valid anywhere else.
DEFAULT_TOKENS = {role: f"local-{role}-token" for role in ROLES}

Handler = Callable[[dict[str, Any], Any], Any]


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


# ---------------------------------------------------------------------- Lambda context


@dataclass
class LambdaContext:
    """The attributes and method of the Lambda context object that handlers and Powertools use."""

    function_name: str
    memory_limit_in_mb: int
    invoked_function_arn: str
    aws_request_id: str
    timeout_s: float = 3.0
    function_version: str = "$LATEST"
    log_group_name: str = ""
    log_stream_name: str = "local"
    _deadline: float = field(default=0.0, repr=False)

    def __post_init__(self) -> None:
        if not self._deadline:
            self._deadline = time.monotonic() + self.timeout_s
        if not self.log_group_name:
            self.log_group_name = f"/aws/lambda/{self.function_name}"

    def get_remaining_time_in_millis(self) -> int:
        """Milliseconds left before the function's configured timeout."""
        return max(0, int((self._deadline - time.monotonic()) * 1000))


def lambda_context(route: Route, request_id: str | None = None) -> LambdaContext:
    """A fresh context for one invocation of the route's function."""
    return LambdaContext(
        function_name=route.function,
        memory_limit_in_mb=route.memory_mb,
        invoked_function_arn=f"arn:aws:lambda:{REGION}:{ACCOUNT_ID}:function:{route.function}",
        aws_request_id=request_id or str(uuid.uuid4()),
        timeout_s=float(route.timeout_s),
    )


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


# --------------------------------------------------------------------------- routing

_PARAM = re.compile(r"^\{([A-Za-z0-9_]+)(\+?)\}$")


@dataclass(frozen=True)
class _Pattern:
    route: Route
    segments: tuple[str, ...]

    def match(self, parts: Sequence[str]) -> dict[str, str] | None:
        params: dict[str, str] = {}
        for index, segment in enumerate(self.segments):
            param = _PARAM.match(segment)
            if param and param.group(2):  # {proxy+}: the rest of the path, at least one segment
                rest = parts[index:]
                if not rest or not all(rest):
                    return None
                params[param.group(1)] = "/".join(rest)
                return params
            if index >= len(parts):
                return None
            if param:
                if not parts[index]:
                    return None
                params[param.group(1)] = parts[index]
            elif segment != parts[index]:
                return None
        return params if len(parts) == len(self.segments) else None

    @property
    def literal_count(self) -> int:
        return sum(1 for s in self.segments if not _PARAM.match(s))


def _split_path(path: str) -> list[str]:
    stripped = path.strip("/")
    return [unquote(p) for p in stripped.split("/")] if stripped else []


def import_handler(dotted: str) -> Handler:
    """Import `package.module.function` and return the function."""
    module_name, _, attribute = dotted.rpartition(".")
    if not module_name:
        raise ValueError(f"handler {dotted!r} is not a dotted path")
    handler = getattr(importlib.import_module(module_name), attribute)
    if not callable(handler):
        raise TypeError(f"{dotted} is not callable")
    return handler


class Gateway:
    """Routes HTTP requests to in-process Lambda handlers the way API Gateway's proxy integration does.

    `handlers` overrides the dotted handler path per function logical id (tests use it to plug in
    a dummy). Invocations of one function are serialized by default: a real execution environment
    serves one event at a time, and module-level state (Powertools' resolver keeps the current
    event on the app object) is not safe under concurrent threads.
    """

    def __init__(
        self,
        routes: Sequence[Route],
        *,
        tokens: Mapping[str, str] | None = None,
        handlers: Mapping[str, str] | None = None,
        stage: str = DEFAULT_STAGE,
        serialize_per_function: bool = True,
        resolve: Callable[[str], Handler] = import_handler,
        logs: FunctionLogs | None = None,
    ) -> None:
        self.logs = logs
        overrides = dict(handlers or {})
        self.routes = [dataclasses.replace(r, handler=overrides.get(r.function, r.handler)) for r in routes]
        self._patterns = [_Pattern(r, tuple(s for s in r.path.strip("/").split("/") if s)) for r in self.routes]
        self.tokens = dict(tokens if tokens is not None else local_tokens())
        self.stage = stage
        self._resolve = resolve
        self._handlers: dict[str, Handler] = {}
        self._import_lock = threading.Lock()
        self._function_locks: dict[str, threading.Lock] = {}
        if serialize_per_function:
            self._function_locks = {r.function: threading.Lock() for r in self.routes}

    # -- handlers

    def handler_for(self, route: Route) -> Handler:
        """The route's handler, imported on first use."""
        with self._import_lock:
            if route.handler not in self._handlers:
                self._handlers[route.handler] = self._resolve(route.handler)
            return self._handlers[route.handler]

    def preload(self) -> None:
        """Import every handler now (a cold start for each), so a broken import fails at startup."""
        for route in self.routes:
            self.handler_for(route)

    # -- matching and auth

    def match(
        self, method: str, path: str, *, authorization: bool = False
    ) -> tuple[Route | None, dict[str, str], list[str]]:
        """(route, path parameters, allowed methods on that path); route None when nothing serves it.

        When an IAM and a public route share the method and path, `authorization` (the request has
        an Authorization header) picks the IAM one, its absence the public one.
        """
        parts = _split_path(path)
        candidates = [(p, params) for p in self._patterns if (params := p.match(parts)) is not None]
        if not candidates:
            return None, {}, []
        # API Gateway prefers the most specific resource (literal segments over parameters).
        best = max(p.literal_count for p, _ in candidates)
        candidates = [(p, params) for p, params in candidates if p.literal_count == best]
        allowed = sorted({p.route.method for p, _ in candidates})
        same_method = [(p, params) for p, params in candidates if p.route.method == method.upper()]
        if not same_method:
            return None, {}, allowed
        if len(same_method) > 1:
            wanted = "iam" if authorization else "none"
            same_method = [c for c in same_method if c[0].route.auth == wanted] or same_method
        pattern, params = same_method[0]
        return pattern.route, params, allowed

    def authenticate(self, request: HttpRequest) -> str | None:
        """The role whose bearer token the request carries, or None."""
        authorization = request.header("Authorization") or ""
        scheme, _, token = authorization.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            return None
        token = token.strip()
        for role, expected in self.tokens.items():
            if hmac.compare_digest(token.encode(), expected.encode()):
                return role
        return None

    # -- dispatch

    def dispatch(self, request: HttpRequest) -> HttpResponse:
        """Serve one request: route, authenticate, invoke, convert the proxy response."""
        request_id = str(uuid.uuid4())
        route, params, allowed = self.match(
            request.method, request.path, authorization=request.header("Authorization") is not None
        )
        if route is None and not allowed:
            return error_response(404, "not_found", f"no route for {request.path}")
        if route is None:
            return error_response(
                405,
                "method_not_allowed",
                f"{request.method} is not allowed on {request.path}",
                [("Allow", ", ".join(allowed))],
            )
        if len(request.body) > MAX_BODY_BYTES:
            return error_response(413, "payload_too_large", f"request body exceeds {MAX_BODY_BYTES} bytes")

        role: str | None = None
        if route.auth == "iam":
            role = self.authenticate(request)
            if role is None:
                return error_response(
                    401,
                    "unauthenticated",
                    "missing or unknown bearer token (Authorization: Bearer <token>)",
                    [("WWW-Authenticate", 'Bearer realm="candor"')],
                )

        event = build_event(request, route.path, params, role=role, stage=self.stage, request_id=request_id)
        context = lambda_context(route, request_id)
        try:
            handler = self.handler_for(route)
            lock = self._function_locks.get(route.function) or contextlib.nullcontext()
            logs = self.logs.capture(route.function) if self.logs else contextlib.nullcontext()
            with lock, logs, running(route.function):
                result = handler(event, context)
        except Exception:
            # Lambda reports an unhandled error; API Gateway turns it into a 502.
            logger.error("handler %s failed:\n%s", route.handler, traceback.format_exc())
            return error_response(502, "internal_error", "Internal server error", [("x-amzn-RequestId", request_id)])
        if context.get_remaining_time_in_millis() == 0:
            logger.warning("%s ran past its %ss timeout; Lambda would have stopped it", route.function, route.timeout_s)
        return self._to_http(route, result, request_id)

    @staticmethod
    def _to_http(route: Route, result: Any, request_id: str) -> HttpResponse:
        if not isinstance(result, Mapping) or "statusCode" not in result:
            logger.error("%s returned a malformed proxy response: %r", route.handler, type(result))
            return error_response(502, "internal_error", "Malformed Lambda proxy response")
        try:
            status = int(result["statusCode"])
            raw_body = result.get("body") or ""
            if result.get("isBase64Encoded"):
                body = base64.b64decode(raw_body)
            else:
                body = raw_body.encode("utf-8") if isinstance(raw_body, str) else bytes(raw_body)
        except (TypeError, ValueError):
            logger.error("%s returned a malformed proxy response body", route.handler)
            return error_response(502, "internal_error", "Malformed Lambda proxy response")

        # API Gateway merges both; a key present in multiValueHeaders takes its values from there.
        multi = {str(k): [str(v) for v in vs] for k, vs in (result.get("multiValueHeaders") or {}).items()}
        multi_lower = {k.lower() for k in multi}
        headers = [
            (str(k), str(v)) for k, v in (result.get("headers") or {}).items() if str(k).lower() not in multi_lower
        ]
        headers += [(k, v) for k, vs in multi.items() for v in vs]
        if not any(k.lower() == "content-type" for k, _ in headers):
            headers.append(("Content-Type", "application/json"))
        headers.append(("x-amzn-RequestId", request_id))
        return HttpResponse(status, headers, body)

    # -- HTTP

    def make_server(self, host: str = "127.0.0.1", port: int = 0, *, quiet: bool = True) -> ThreadingHTTPServer:
        """Bind a threaded HTTP server for this gateway (call `serve_forever()` on it)."""
        gateway = self

        class RequestHandler(_ProxyRequestHandler):
            pass

        RequestHandler.gateway = gateway
        RequestHandler.quiet = quiet
        server = ThreadingHTTPServer((host, port), RequestHandler)
        server.daemon_threads = True
        return server


_HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "content-length"}


class _ProxyRequestHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "candor-local-gateway"
    gateway: Gateway
    quiet = True

    def _read_body(self) -> bytes | None:
        """The request body, or None when it exceeds the payload limit."""
        if "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():
            chunks: list[bytes] = []
            size = 0
            while True:
                line = self.rfile.readline(65537)
                length = int(line.split(b";")[0].strip() or b"0", 16)
                if length == 0:
                    while self.rfile.readline(65537) not in (b"\r\n", b"\n", b""):
                        pass
                    break
                size += length
                if size > MAX_BODY_BYTES:
                    return None
                chunks.append(self.rfile.read(length))
                self.rfile.readline(3)
            return b"".join(chunks)
        length = int(self.headers.get("Content-Length") or 0)
        if length > MAX_BODY_BYTES:
            return None
        return self.rfile.read(length) if length else b""

    def _handle(self) -> None:
        try:
            body = self._read_body()
        except ValueError:  # a Content-Length or chunk size that is not a number
            self.close_connection = True
            self._send(error_response(400, "bad_request", "malformed Content-Length or chunked body"))
            return
        if body is None:
            self.close_connection = True  # the unread body makes the connection unusable
            self._send(error_response(413, "payload_too_large", f"request body exceeds {MAX_BODY_BYTES} bytes"))
            return
        split = urlsplit(self.path)
        request = HttpRequest(
            method=self.command,
            path=split.path or "/",
            query=parse_qsl(split.query, keep_blank_values=True),
            headers=[(k, v) for k, v in self.headers.items() if k.lower() not in _HOP_BY_HOP],
            body=body,
            source_ip=self.client_address[0],
        )
        self._send(self.gateway.dispatch(request))

    def _send(self, response: HttpResponse) -> None:
        self.send_response(response.status)
        for key, value in response.headers:
            if key.lower() not in _HOP_BY_HOP:
                self.send_header(key, value)
        self.send_header("Content-Length", str(len(response.body)))
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(response.body)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_OPTIONS = _handle

    def __getattr__(self, name: str) -> Any:
        # Any other method (TRACE, QUERY, ...) is routed too and gets the gateway's 405, not http.server's 501.
        if name.startswith("do_"):
            return self._handle
        raise AttributeError(name)

    def log_message(self, format: str, *args: Any) -> None:
        if not self.quiet:
            logger.info("%s %s", self.address_string(), format % args)


# ------------------------------------------------------------------ events for files


def make_event(
    method: str,
    path: str,
    *,
    routes: Sequence[Route],
    body: str | bytes | Mapping[str, Any] | None = None,
    headers: Mapping[str, str] | None = None,
    query: Mapping[str, str] | None = None,
    role: str | None = None,
    stage: str = DEFAULT_STAGE,
    request_id: str | None = None,
    now: datetime | None = None,
    host: str = "localhost:3000",
) -> dict[str, Any]:
    """The proxy event the gateway would build for this request (for events/*.json and handler tests).

    A mapping body is sent as JSON. `role` adds that role's local bearer token and IAM identity.
    """
    gateway = Gateway(routes)
    route, params, _ = gateway.match(method, path, authorization=role is not None)
    if route is None:
        raise ValueError(f"no route for {method} {path}")
    raw = json.dumps(body, ensure_ascii=False).encode() if isinstance(body, Mapping) else body
    request_headers = [("Host", host), ("User-Agent", "candor-events/1")]
    if raw:
        request_headers.append(("Content-Type", "application/json"))
    if role:
        request_headers.append(("Authorization", f"Bearer {DEFAULT_TOKENS[role]}"))
    request_headers += list((headers or {}).items())
    request = HttpRequest(
        method=method.upper(),
        path=path,
        query=list((query or {}).items()),
        headers=request_headers,
        body=raw.encode() if isinstance(raw, str) else (raw or b""),
    )
    return build_event(request, route.path, params, role=role, stage=stage, request_id=request_id, now=now)
