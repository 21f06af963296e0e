"""A local stand-in for API Gateway (REST, proxy integration) in front of the functions' Lambda handlers.

Routes come from `template.yaml` (see `infra.template.routes`). Each HTTP request becomes the
API Gateway v1 proxy event and Lambda context the handler would get in AWS (`infra.local.api_event`);
its proxy response goes back as HTTP. Authentication follows the local mode of docs/api.md:
routes that are `AWS_IAM` in the template need `Authorization: Bearer <token>`, and a known token
is turned into the `requestContext.identity.userArn` that SigV4 with that role would give. The
handlers still check the role themselves.

Each function has its instances (`infra.local.instances`): one in this process, and, when the gateway
is given a maximum above one, worker processes started as requests overlap, as Lambda scales out.
Every response says which instance served it in `X-Local-Instance` (function/number/pid), a
local-only header.

Routes of every API in the template are served on the one local port. Where two APIs serve the
same method and path (the auditor's IAM `GET /v1/explanations/{decision_id}` and the customer's
public, token-authorized one), a request with an `Authorization` header goes to the IAM route
and one without goes to the public route, as the two hosts would in AWS.

Not emulated: API keys and usage-plan throttling (the key, when sent, is passed on in the event),
Lambda's throttling (a request beyond the maximum waits for a free instance), the 29 s integration
timeout, binary media types, CORS.
"""

from __future__ import annotations

import base64
import dataclasses
import hmac
import json
import logging
import re
import threading
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from http.server import ThreadingHTTPServer
from typing import Any
from urllib.parse import unquote

from infra.local.api_event import (
    ACCOUNT_ID,
    API_ID,
    DEFAULT_STAGE,
    DEFAULT_TOKENS,
    MAX_BODY_BYTES,
    ROLES,
    TOKEN_ENV,
    HttpRequest,
    HttpResponse,
    build_event,
    error_response,
    local_tokens,
    role_arn,
)
from infra.local.function_logs import FunctionLogs
from infra.local.http_server import make_server
from infra.local.instances import FunctionInstances, InProcessInstance, InvocationFailed, WorkerSettings
from infra.local.lambda_runtime import REGION, Handler, LambdaContext, function_context, import_handler
from infra.template import Route

__all__ = [  # what other modules and tests import from here (the pieces live in the modules above)
    "ACCOUNT_ID", "API_ID", "DEFAULT_STAGE", "DEFAULT_TOKENS", "MAX_BODY_BYTES", "REGION", "ROLES", "TOKEN_ENV",
    "Gateway", "HttpRequest", "HttpResponse", "LambdaContext", "build_event", "error_response",
    "import_handler", "lambda_context", "local_tokens", "make_event", "role_arn",
]  # fmt: skip

# Not under "candor": Powertools configures that logger for the functions, with their Lambda context.
logger = logging.getLogger(__name__)
INSTANCE_HEADER = "X-Local-Instance"


def lambda_context(route: Route, request_id: str | None = None) -> LambdaContext:
    """A fresh context for one invocation of the route's function."""
    return function_context(route.function, route.memory_mb, route.timeout_s, request_id)


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


class Gateway:
    """Routes HTTP requests to the functions' instances the way API Gateway's proxy integration does.

    `handlers` overrides the dotted handler path per function logical id (tests use it to plug in
    a dummy). Each function starts with one instance, in this process, serving one event at a time
    (as a Lambda execution environment does; Powertools' resolver keeps the current event on
    module state, which is not safe under concurrent threads). `scale(...)` lets a function run
    more instances, as worker processes.
    """

    def __init__(
        self,
        routes: Sequence[Route],
        *,
        tokens: Mapping[str, str] | None = None,
        handlers: Mapping[str, str] | None = None,
        stage: str = DEFAULT_STAGE,
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
        self.handler_paths = {r.function: r.handler for r in self.routes}
        self.instances = {
            function: FunctionInstances(function, 1, InProcessInstance(function, self._handler_of(dotted), logs), None)
            for function, dotted in self.handler_paths.items()
        }

    # -- handlers and instances

    def _handler_of(self, dotted: str) -> Callable[[], Handler]:
        return lambda: self.import_once(dotted)

    def import_once(self, dotted: str) -> Handler:
        """A handler of this process, imported on first use."""
        with self._import_lock:
            if dotted not in self._handlers:
                self._handlers[dotted] = self._resolve(dotted)
            return self._handlers[dotted]

    def handler_for(self, route: Route) -> Handler:
        """The route's handler in this process, imported on first use."""
        return self.import_once(route.handler)

    def preload(self) -> None:
        """Import every handler now (a cold start for each), so a broken import fails at startup."""
        for route in self.routes:
            self.handler_for(route)

    def scale(self, maximum: int | Mapping[str, int], workers: WorkerSettings) -> None:
        """Let each function (or those named in a mapping) run up to `maximum` instances, the rest as workers."""
        limits = maximum if isinstance(maximum, Mapping) else dict.fromkeys(self.instances, maximum)
        for function, limit in limits.items():
            self.instances[function].configure(limit, workers.spec(function, self.handler_paths[function]))

    def stop_workers(self) -> None:
        """Stop every worker process (the in-process instances stay)."""
        for pool in self.instances.values():
            pool.stop_workers(above=0)

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
        pool = self.instances[route.function]
        try:
            instance = pool.acquire()
        except InvocationFailed as failure:  # the new instance's cold start failed
            logger.error("%s could not start an instance: %s", route.function, failure)
            return error_response(502, "internal_error", "Internal server error", [("x-amzn-RequestId", request_id)])
        context = lambda_context(route, request_id)  # the timeout counts from here, as Lambda's does
        try:
            result = instance.invoke(event, context)
        except InvocationFailed as failure:
            # Lambda reports an unhandled error (or a timeout); API Gateway turns it into a 502.
            logger.error("handler %s failed on %s:\n%s", route.handler, instance.name, failure.detail)
            return error_response(
                502, "internal_error", "Internal server error",
                [("x-amzn-RequestId", request_id), (INSTANCE_HEADER, instance.name)],
            )  # fmt: skip
        finally:
            pool.release(instance)
        response = self._to_http(route, result, request_id)
        response.headers.append((INSTANCE_HEADER, instance.name))
        return response

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
        return make_server(self, host, port, quiet=quiet)


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
    if raw and not any(name.lower() == "content-type" for name in headers or {}):
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
