"""The local API Gateway's HTTP server: a threaded `http.server` that hands each request to `Gateway.dispatch`."""

from __future__ import annotations

import logging
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, urlsplit

from infra.local.api_event import MAX_BODY_BYTES, HttpRequest, HttpResponse, error_response

if TYPE_CHECKING:
    from infra.local.gateway import Gateway

logger = logging.getLogger("infra.local.gateway")


def make_server(gateway: Gateway, host: str = "127.0.0.1", port: int = 0, *, quiet: bool = True) -> ThreadingHTTPServer:
    """Bind a threaded HTTP server for `gateway` (call `serve_forever()` on it)."""

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
