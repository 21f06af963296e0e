"""The `https_endpoint` transport: JSON POSTed with urllib3, TLS always verified.

Trusted CAs are the system's plus, optionally, the manifest's pinned `ca_bundle` (private
CAs). Redirects are not followed and urllib3 does not retry: `call_with_retries` does.
"""

from __future__ import annotations

import email.utils
import ssl
import time
from urllib.parse import urlsplit

import urllib3
from urllib3 import exceptions as urllib3_errors

from functions.adapters.remote.batch import Answer
from functions.adapters.remote.codec import JSON
from functions.adapters.remote.retry import AttemptFailed, FailureKind
from functions.adapters.remote.secrets import SecretHeaderValue
from functions.domain.errors import ManifestError, ModelOutputInvalid
from functions.schemas.manifest import HttpsEndpointAdapter

# Larger than any sane batch of scores; beyond it the answer is refused rather than buffered.
MAX_ANSWER_BYTES = 25 * 1024 * 1024
_CHUNK_BYTES = 64 * 1024

# Looked up along the exception's class hierarchy (with retries=False urllib3 raises these directly).
_BY_EXCEPTION: dict[type[Exception], tuple[FailureKind, bool]] = {
    urllib3_errors.ConnectTimeoutError: ("timeout", True),
    urllib3_errors.ReadTimeoutError: ("timeout", True),
    urllib3_errors.SSLError: ("unavailable", False),  # untrusted certificate, wrong host name
    urllib3_errors.NewConnectionError: ("unavailable", True),  # refused, unreachable
    urllib3_errors.NameResolutionError: ("unavailable", True),
    urllib3_errors.ProtocolError: ("unavailable", True),  # connection reset, closed mid-answer
    urllib3_errors.HTTPError: ("unavailable", True),
}
_BY_STATUS: dict[int, FailureKind] = {408: "timeout", 429: "throttled"}


def tls_context(ca_pem: bytes | None) -> ssl.SSLContext:
    """System CAs plus the manifest's extra CAs; ManifestError if `ca_pem` holds no PEM certificate."""
    context = ssl.create_default_context()  # CERT_REQUIRED, host names checked, TLS 1.2+
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    if ca_pem is not None:
        try:
            text = ca_pem.decode("ascii")
            if "-----BEGIN CERTIFICATE-----" not in text:
                raise ValueError("no PEM certificate in it")
            context.load_verify_locations(cadata=text)
        except (UnicodeDecodeError, ValueError, ssl.SSLError) as error:
            raise ManifestError(
                f"adapter.ca_bundle: not a PEM file of CA certificates ({error})", field="adapter.ca_bundle"
            ) from None
    return context


class HttpsTransport:
    """POSTs each body to the manifest's URL, with the auth header when there is one."""

    def __init__(self, adapter: HttpsEndpointAdapter, ca_pem: bytes | None, auth: SecretHeaderValue | None) -> None:
        self.adapter = adapter
        self.auth = auth
        parts = urlsplit(adapter.url)
        self.target = f"HTTPS endpoint {parts.scheme}://{parts.netloc}{parts.path}"  # no query: it may hold keys
        # One pool per container; maxsize lets concurrent explanation calls keep their connections.
        self.pool = urllib3.PoolManager(
            num_pools=2, maxsize=10, ssl_context=tls_context(ca_pem), cert_reqs="CERT_REQUIRED", retries=False
        )

    def prepare(self) -> None:
        """Read the auth secret (once per container) before any request is counted or sent."""
        if self.auth:
            self.auth.headers()

    def send(self, body: bytes, content_type: str, timeout: float) -> Answer:
        """One POST; failures become AttemptFailed, an answer too large ModelOutputInvalid."""
        headers = {"Content-Type": content_type, "Accept": JSON, **(self.auth.headers() if self.auth else {})}
        try:
            response = self.pool.request(
                "POST",
                self.adapter.url,
                body=body,
                headers=headers,
                timeout=urllib3.Timeout(total=timeout),
                retries=False,
                redirect=False,
                preload_content=False,
            )
            if not 200 <= response.status < 300:
                response.close()  # an error body is not worth reading; the pool opens a new connection
                raise _classify_status(response.status, response.headers.get("Retry-After"))
            payload = _read_capped(response)
        except urllib3_errors.HTTPError as error:
            raise _classify_exception(error) from error
        return Answer(payload, response.headers.get("Content-Type"))


def _read_capped(response: urllib3.BaseHTTPResponse) -> bytes:
    """The whole body, then the connection goes back to the pool; past the cap the connection is dropped."""
    chunks: list[bytes] = []
    size = 0
    for chunk in response.stream(_CHUNK_BYTES):
        size += len(chunk)
        if size > MAX_ANSWER_BYTES:
            response.close()
            raise ModelOutputInvalid(f"the model's answer is larger than {MAX_ANSWER_BYTES // (1024 * 1024)} MiB")
        chunks.append(chunk)
    response.release_conn()
    return b"".join(chunks)


def _classify_exception(error: Exception) -> AttemptFailed:
    for cls in type(error).__mro__:
        if cls in _BY_EXCEPTION:
            kind, retryable = _BY_EXCEPTION[cls]
            what = "TLS verification failed" if cls is urllib3_errors.SSLError else type(error).__name__
            return AttemptFailed(kind, f"POST failed: {what}", retryable=retryable)
    return AttemptFailed("unavailable", f"POST failed: {type(error).__name__}", retryable=True)


def _classify_status(status: int, retry_after: str | None) -> AttemptFailed:
    cause = f"the endpoint answered HTTP {status}"
    if status in _BY_STATUS:
        return AttemptFailed(_BY_STATUS[status], cause, retryable=True, retry_after=_seconds(retry_after))
    if status >= 500:
        return AttemptFailed("unavailable", cause, retryable=True, retry_after=_seconds(retry_after))
    # 3xx (not followed), 401/403 (auth), 404, 400 (the template does not fit the model): configuration.
    return AttemptFailed(
        "unavailable", f"{cause}; check the manifest's url, auth and request_template", retryable=False
    )


def _seconds(retry_after: str | None) -> float | None:
    """Retry-After as seconds: a number of seconds or an HTTP date; None when absent or unreadable."""
    if not retry_after:
        return None
    if retry_after.strip().isdigit():
        return float(retry_after.strip())
    try:
        when = email.utils.parsedate_to_datetime(retry_after)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())
