"""A real HTTPS model server on 127.0.0.1, for tests, the benchmark and the local demo.

It plays a customer's model that Candor must call where it runs, in that model's own JSON
format (request `{"instances": [...]}`, answer `{"predictions": [{"probabilities": [...]}]}`
by default), over TLS with a certificate issued for IP 127.0.0.1 by a throw-away CA:

    with ModelServer(refund_decision_predict()) as server:
        server.url("/invocations")             # https://127.0.0.1:<port>/invocations
        server.ca_pem                          # the CA to trust (the manifest's ca_bundle)
        server.set_fault(Slow(3), path="/slow")   # or Garbage(), Status(500), ThrottleThenOk(1)
        server.requests, server.batch_sizes, server.received_headers

`predict` gets the request's instances (a list) and returns one score or one probability
vector per instance, so tests can serve anything. `remote_manifest` turns a bundled
manifest into one whose model is behind such an endpoint. From a shell:

    python -m infra.local.model_server refund-decision --port 8443
"""

from __future__ import annotations

import argparse
import contextlib
import ipaddress
import json
import shutil
import ssl
import tempfile
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import numpy as np

from functions.schemas.manifest import ModelManifest

MODELS_DIR = Path(__file__).resolve().parents[2] / "models"
HOST = "127.0.0.1"

Predict = Callable[[list[Any]], Sequence[Any] | np.ndarray]


# --- faults -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Slow:
    """Answer correctly, but only after `seconds` (the client's deadline should fire first).

    With `min_rows`, only batches of at least that many rows are slow: single decisions
    stay fast while the explanation's batch misses its deadline.
    """

    seconds: float
    min_rows: int = 0


@dataclass(frozen=True)
class Garbage:
    """Answer 200 with something that is not the model's format (default: an HTML page)."""

    body: bytes = b"<html><body>upstream proxy error</body></html>"
    content_type: str = "text/html"


@dataclass(frozen=True)
class Status:
    """Answer every request with this HTTP status (default: 500)."""

    code: int = 500


@dataclass
class ThrottleThenOk:
    """Answer 429 to the next `times` requests, then answer normally."""

    times: int = 1
    retry_after: int | None = None  # seconds, sent as Retry-After when set


Fault = Slow | Garbage | Status | ThrottleThenOk


# --- certificates -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Certificates:
    ca_pem: bytes
    ca_path: Path
    cert_path: Path
    key_path: Path


def issue_certificates(directory: Path, ip: str = HOST) -> Certificates:
    """A fresh CA, and a server certificate it signed for `ip` (SAN IP address), as PEM files in `directory`."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    now = datetime.now(UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Candor test model CA")])
    key_usage = dict.fromkeys(
        ("content_commitment", "key_encipherment", "data_encipherment", "key_agreement", "encipher_only"), False
    )
    ca_cert = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(days=2))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True, decipher_only=False, **key_usage),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    server_key = ec.generate_private_key(ec.SECP256R1())
    server_cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, ip)]))
        .issuer_name(ca_name)
        .public_key(server_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address(ip))]), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True, key_cert_sign=False, crl_sign=False, decipher_only=False, **key_usage
            ),
            critical=True,
        )
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(server_key.public_key()), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    ca_pem = ca_cert.public_bytes(serialization.Encoding.PEM)
    paths = Certificates(ca_pem, directory / "ca.pem", directory / "server.pem", directory / "server.key")
    paths.ca_path.write_bytes(ca_pem)
    paths.cert_path.write_bytes(server_cert.public_bytes(serialization.Encoding.PEM))
    paths.key_path.write_bytes(
        server_key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    return paths


# --- the server -------------------------------------------------------------------------------


@dataclass
class _Traffic:
    """What the server saw; read by tests (under the server's lock while it runs)."""

    requests: int = 0
    batch_sizes: list[int] = field(default_factory=list)
    received_headers: list[dict[str, str]] = field(default_factory=list)


class ModelServer:
    """An HTTPS server answering POSTs on any path with `predict`'s outputs, faults optional."""

    def __init__(
        self,
        predict: Predict,
        *,
        input_key: str = "instances",
        output_key: str = "probabilities",
        port: int = 0,
    ) -> None:
        self.predict = predict
        self.input_key = input_key
        self.output_key = output_key  # each prediction is {output_key: score or vector}
        self._requested_port = port
        self._faults: dict[str | None, Fault] = {}  # by path; None: every path without its own
        self._traffic = _Traffic()
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._directory: Path | None = None
        self._httpd: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self.certificates: Certificates | None = None

    # lifecycle

    def start(self) -> ModelServer:
        self._directory = Path(tempfile.mkdtemp(prefix="candor-model-server-"))
        self.certificates = issue_certificates(self._directory)
        httpd = ThreadingHTTPServer((HOST, self._requested_port), _handler_for(self))
        httpd.daemon_threads = True  # a slow answer in progress must not hold up close()
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.minimum_version = ssl.TLSVersion.TLSv1_2
        context.load_cert_chain(self.certificates.cert_path, self.certificates.key_path)
        # Handshake in the request's thread, not in the accept loop: a client that connects
        # and stalls (or rejects our certificate) must not block everyone else.
        httpd.socket = context.wrap_socket(httpd.socket, server_side=True, do_handshake_on_connect=False)
        self._httpd = httpd
        self._thread = threading.Thread(target=httpd.serve_forever, name="model-server", daemon=True)
        self._thread.start()
        return self

    def close(self) -> None:
        self._stopping.set()  # wakes slow answers
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        if self._directory is not None:
            shutil.rmtree(self._directory, ignore_errors=True)

    def __enter__(self) -> ModelServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

    # what tests use

    @property
    def port(self) -> int:
        assert self._httpd is not None, "start the server first"
        return int(self._httpd.server_address[1])

    def url(self, path: str = "/invocations") -> str:
        return f"https://{HOST}:{self.port}{path}"

    @property
    def ca_pem(self) -> bytes:
        assert self.certificates is not None, "start the server first"
        return self.certificates.ca_pem

    @property
    def ca_path(self) -> Path:
        assert self.certificates is not None, "start the server first"
        return self.certificates.ca_path

    def set_fault(self, fault: Fault | None, path: str | None = None) -> None:
        """Misbehave on `path` (every path when None); `None` as the fault goes back to normal."""
        with self._lock:
            if fault is None:
                self._faults.pop(path, None)
            else:
                self._faults[path] = fault

    @property
    def requests(self) -> int:
        with self._lock:
            return self._traffic.requests

    @property
    def batch_sizes(self) -> list[int]:
        with self._lock:
            return list(self._traffic.batch_sizes)

    @property
    def received_headers(self) -> list[dict[str, str]]:
        with self._lock:
            return [dict(headers) for headers in self._traffic.received_headers]

    # request handling (called from the handler's thread)

    def _record(self, headers: dict[str, str]) -> Fault | None:
        """Count the request and pick its fault, consuming one throttled answer if that is the fault."""
        with self._lock:
            self._traffic.requests += 1
            self._traffic.received_headers.append(headers)
            return self._fault_for(headers[":path"])

    def _fault_for(self, path: str) -> Fault | None:
        fault = self._faults.get(path, self._faults.get(None))
        if isinstance(fault, ThrottleThenOk):
            if fault.times <= 0:
                return None
            fault.times -= 1
        return fault

    def _rows(self, body: bytes) -> int:
        """How many rows a request carries (0 when it cannot be read)."""
        try:
            return len(json.loads(body)[self.input_key])
        except (ValueError, KeyError, TypeError):
            return 0

    def _answer(self, body: bytes) -> tuple[int, bytes]:
        try:
            instances = json.loads(body)[self.input_key]
            if not isinstance(instances, list):
                raise TypeError(f"{self.input_key} is not a list")
        except (ValueError, KeyError, TypeError) as error:
            return 400, json.dumps({"error": f"bad request: {error}"}).encode()
        with self._lock:
            self._traffic.batch_sizes.append(len(instances))
        outputs = np.asarray(self.predict(instances), dtype=float)
        predictions = [{self.output_key: row.tolist() if row.ndim else float(row)} for row in outputs]
        return 200, json.dumps({"predictions": predictions}).encode()


def _handler_for(server: ModelServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive, as a real endpoint (and urllib3's pool) expects
        timeout = 30  # idle keep-alive connections end on their own

        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            fault = server._record({":path": self.path, **{k.lower(): v for k, v in self.headers.items()}})
            if isinstance(fault, Slow) and server._rows(body) >= fault.min_rows:  # noqa: SIM102 - reads better apart
                if server._stopping.wait(fault.seconds):
                    return  # shutting down
            if isinstance(fault, Garbage):
                self._send(200, fault.body, fault.content_type)
            elif isinstance(fault, Status):
                self._send(fault.code, b'{"error": "injected failure"}')
            elif isinstance(fault, ThrottleThenOk):
                extra = {"Retry-After": str(fault.retry_after)} if fault.retry_after is not None else {}
                self._send(429, b'{"error": "slow down"}', extra=extra)
            else:
                self._send(*server._answer(body))

        def _send(
            self, status: int, body: bytes, content_type: str = "application/json", extra: dict[str, str] | None = None
        ) -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            for name, value in (extra or {}).items():
                self.send_header(name, value)
            self.end_headers()
            with contextlib.suppress(BrokenPipeError, ConnectionResetError):  # the client gave up (its deadline)
                self.wfile.write(body)

        def handle(self) -> None:
            # A client that rejected our certificate, or hung up mid-request: nothing to answer.
            with contextlib.suppress(ssl.SSLError, ConnectionError, TimeoutError):
                super().handle()

        def log_message(self, format: str, *args: Any) -> None:
            pass  # tests and benchmarks read the counters instead

    return Handler


# --- the bundled models, served ---------------------------------------------------------------


def refund_decision_predict(models_dir: Path = MODELS_DIR) -> Predict:
    """P(approve) per encoded row (lists of floats, categories as their index), from the bundled LightGBM."""
    import lightgbm

    booster = lightgbm.Booster(model_file=str(models_dir / "refund-decision" / "model.txt"))

    def predict(instances: list[Any]) -> np.ndarray:
        return np.asarray(booster.predict(np.asarray(instances, dtype=float), num_threads=1))

    return predict


def ticket_router_predict(models_dir: Path = MODELS_DIR) -> Predict:
    """Label probabilities per message, from the bundled linear text model (the in-process runtime's maths)."""
    from functions.adapters.in_process import LinearTextRuntime, load_runtime

    folder = models_dir / "ticket-router"
    manifest = ModelManifest.model_validate_json((folder / "manifest.json").read_bytes())
    runtime = load_runtime(manifest, lambda name: (folder / name).read_bytes())
    assert isinstance(runtime, LinearTextRuntime)

    def predict(instances: list[Any]) -> np.ndarray:
        rows = []
        for text in instances:
            counts, _ = runtime.vectorizer.vectorize(str(text))
            logits = runtime.coef @ counts + runtime.intercept
            exp = np.exp(logits - logits.max())
            rows.append(exp / exp.sum())
        return np.array(rows)

    return predict


BUNDLED_PREDICTORS: dict[str, Callable[[Path], Predict]] = {
    "refund-decision": refund_decision_predict,
    "ticket-router": ticket_router_predict,
}


def remote_manifest(model_id: str, adapter: dict[str, Any], models_dir: Path = MODELS_DIR) -> ModelManifest:
    """The bundled manifest of `model_id`, with its model moved behind `adapter` (a remote adapter's JSON)."""
    return ModelManifest.model_validate(remote_document(model_id, adapter, models_dir))


def remote_document(model_id: str, adapter: dict[str, Any], models_dir: Path = MODELS_DIR) -> dict[str, Any]:
    """`remote_manifest` as JSON: the artifact goes (the model is elsewhere now) and the explainer
    becomes the black-box one, as the schema requires of remote models."""
    document: dict[str, Any] = json.loads((models_dir / model_id / "manifest.json").read_bytes())
    document.pop("artifact", None)
    document["adapter"] = adapter
    document["explainer"] = {**document["explainer"], "method": "permutation_shap"}
    return document


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Serve a bundled model over HTTPS on 127.0.0.1.")
    parser.add_argument("model", choices=sorted(BUNDLED_PREDICTORS))
    parser.add_argument("--port", type=int, default=8443)
    parser.add_argument("--models", type=Path, default=MODELS_DIR)
    args = parser.parse_args(argv)
    predict = BUNDLED_PREDICTORS[args.model](args.models)
    with ModelServer(predict, port=args.port) as server:
        print(f"serving {args.model} at {server.url()}  (CA: {server.ca_path}); Ctrl-C stops it", flush=True)
        with contextlib.suppress(KeyboardInterrupt):
            threading.Event().wait()


if __name__ == "__main__":
    main()
