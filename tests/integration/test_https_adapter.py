"""The https_endpoint adapter against a real HTTPS server on 127.0.0.1 (infra.local.model_server).

TLS is real (a throw-away CA, a certificate for IP 127.0.0.1), so are timeouts, retries
and the server's own JSON format; the auth secret comes from moto's Secrets Manager or SSM.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Iterator
from typing import Any

import boto3
import numpy as np
import pytest
from moto import mock_aws

from functions.adapters.in_process import encode_row
from functions.adapters.remote import remote_model
from functions.domain.errors import ModelOutputInvalid, ModelThrottled, ModelTimeout, ModelUnavailable
from functions.domain.seal import sha256_hex
from functions.schemas.manifest import ModelManifest
from infra.local.invocation import running
from infra.local.model_server import (
    MODELS_DIR,
    Garbage,
    ModelServer,
    Slow,
    Status,
    ThrottleThenOk,
    refund_decision_predict,
    remote_manifest,
    ticket_router_predict,
)

REGION = "eu-west-1"
TOKEN = "model-token-5f2c9a"  # the auth secret's value; must reach the server and nothing else


@pytest.fixture(scope="module")
def refund_server() -> Iterator[ModelServer]:
    with ModelServer(refund_decision_predict(), output_key="score") as server:
        yield server


@pytest.fixture(autouse=True)
def _healthy(refund_server: ModelServer) -> None:
    refund_server.set_fault(None)


@pytest.fixture(scope="module")
def refund_rows() -> np.ndarray:
    manifest = remote_manifest("refund-decision", {"type": "https_endpoint", "url": "https://127.0.0.1/"})
    background = json.loads((MODELS_DIR / "refund-decision" / "background.json").read_bytes())["rows"]
    return np.array([encode_row(manifest, row) for row in background])


def _https(server: ModelServer, model_id: str = "refund-decision", path: str = "/invocations", **call: Any) -> dict:
    return {
        "type": "https_endpoint",
        "url": server.url(path),
        "ca_bundle": {"path": "model-ca.pem", "sha256": sha256_hex(server.ca_pem)},
        "response_path": "predictions[*].score",
        "backoff_seconds": 0.01,
        **call,
    }


def _model(server: ModelServer, manifest: ModelManifest, clients: Any = None, ca_pem: bytes | None = None) -> Any:
    files = {"model-ca.pem": ca_pem or server.ca_pem}
    return remote_model(manifest, files.__getitem__, clients)


def _refund_model(server: ModelServer, path: str = "/invocations", **call: Any) -> Any:
    return _model(server, remote_manifest("refund-decision", _https(server, path=path, **call)))


def test_answers_equal_the_models_own_predictions(refund_server: ModelServer, refund_rows: np.ndarray) -> None:
    model = _refund_model(refund_server)
    probabilities = model(refund_rows, time.monotonic() + 10)
    expected = refund_decision_predict()(refund_rows.tolist())
    assert probabilities.shape == (len(refund_rows), 2)
    np.testing.assert_allclose(probabilities[:, 1], expected, rtol=0, atol=1e-9)
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, atol=1e-12)
    assert model.requests_sent == 1


def test_records_in_the_models_own_format(refund_rows: np.ndarray) -> None:
    manifest = remote_manifest("refund-decision", {"type": "https_endpoint", "url": "https://127.0.0.1/"})
    booster_predict = refund_decision_predict()

    def predict_records(records: list[dict[str, Any]]) -> np.ndarray:  # the model reads categories by name
        return np.asarray(booster_predict([encode_row(manifest, record).tolist() for record in records]))

    with ModelServer(predict_records, input_key="data", output_key="p_approve") as server:
        call = {"request_template": {"data": "$records"}, "response_path": "predictions[*].p_approve"}
        model = _model(server, remote_manifest("refund-decision", _https(server, **call)))
        probabilities = model(refund_rows[:5], time.monotonic() + 10)
    np.testing.assert_allclose(probabilities[:, 1], booster_predict(refund_rows[:5].tolist()), atol=1e-9)


def test_a_text_model_gets_texts_and_answers_label_vectors() -> None:
    messages = ["I was charged twice this month", "Mi pedido no ha llegado", "cannot log in to the app"]
    with ModelServer(ticket_router_predict()) as server:
        adapter = _https(server, request_template={"instances": "$texts"}, response_path="predictions[*].probabilities")
        model = _model(server, remote_manifest("ticket-router", adapter))
        probabilities = model(messages, time.monotonic() + 10)
        assert server.batch_sizes == [3]
    np.testing.assert_allclose(probabilities, ticket_router_predict()(messages), rtol=0, atol=1e-9)
    assert probabilities.shape == (3, 6)


def test_a_large_batch_is_split_into_calls_of_max_batch_rows(
    refund_server: ModelServer, refund_rows: np.ndarray
) -> None:
    rows = np.tile(refund_rows, (3, 1))[:95]
    before = refund_server.requests
    model = _refund_model(refund_server, max_batch_rows=20)
    probabilities = model(rows, time.monotonic() + 10)
    assert model.requests_sent == refund_server.requests - before == 5  # ceil(95 / 20)
    assert refund_server.batch_sizes[-5:] == [20, 20, 20, 20, 15]
    np.testing.assert_allclose(probabilities[:, 1], refund_decision_predict()(rows.tolist()), atol=1e-9)


def test_no_rows_no_call(refund_server: ModelServer) -> None:
    model = _refund_model(refund_server)
    assert model(np.empty((0, 12)), time.monotonic() + 1).shape == (0, 2)
    assert model.requests_sent == 0


def test_a_slow_server_times_out_after_the_retries(refund_server: ModelServer, refund_rows: np.ndarray) -> None:
    refund_server.set_fault(Slow(5), path="/slow")
    model = _refund_model(refund_server, path="/slow", timeout_seconds=0.3, max_attempts=3)
    deadline = time.monotonic() + 4
    with pytest.raises(ModelTimeout, match=r"ReadTimeoutError \(after 3 attempts\)"):
        model(refund_rows[:2], deadline)
    assert time.monotonic() < deadline  # 3 x 0.3 s and two short backoffs, well before the deadline
    assert model.requests_sent == 3


def test_the_deadline_cuts_the_retries_short(refund_server: ModelServer, refund_rows: np.ndarray) -> None:
    refund_server.set_fault(Slow(5), path="/slow")
    model = _refund_model(refund_server, path="/slow", timeout_seconds=2, max_attempts=10)
    deadline = time.monotonic() + 0.5
    with pytest.raises(ModelTimeout):
        model(refund_rows[:2], deadline)
    assert time.monotonic() < deadline + 1


def test_garbage_is_an_invalid_answer_not_retried(refund_server: ModelServer, refund_rows: np.ndarray) -> None:
    refund_server.set_fault(Garbage())
    model = _refund_model(refund_server)
    with pytest.raises(ModelOutputInvalid, match=r"not JSON .*content type text/html") as caught:
        model(refund_rows[:2], time.monotonic() + 5)
    assert "upstream" not in caught.value.message
    assert model.requests_sent == 1


def test_json_of_the_wrong_shape_is_an_invalid_answer(refund_server: ModelServer, refund_rows: np.ndarray) -> None:
    refund_server.set_fault(Garbage(b'{"predictions": [{"score": 0.4}]}', "application/json"))
    with pytest.raises(ModelOutputInvalid, match="sent 2 rows to the model, its answer has 1 predictions"):
        _refund_model(refund_server)(refund_rows[:2], time.monotonic() + 5)


def test_a_failing_server_is_retried_then_unavailable(refund_server: ModelServer, refund_rows: np.ndarray) -> None:
    refund_server.set_fault(Status(500))
    before = refund_server.requests
    model = _refund_model(refund_server, max_attempts=3)
    with pytest.raises(ModelUnavailable, match=r"HTTP 500 \(after 3 attempts\)"):
        model(refund_rows[:2], time.monotonic() + 5)
    assert model.requests_sent == refund_server.requests - before == 3


@pytest.mark.parametrize("status", [400, 401, 404])
def test_a_client_error_is_a_configuration_problem_not_retried(
    refund_server: ModelServer, refund_rows: np.ndarray, status: int
) -> None:
    refund_server.set_fault(Status(status))
    model = _refund_model(refund_server)
    with pytest.raises(ModelUnavailable, match=f"HTTP {status}; check the manifest"):
        model(refund_rows[:2], time.monotonic() + 5)
    assert model.requests_sent == 1


def test_throttled_once_then_answered(refund_server: ModelServer, refund_rows: np.ndarray) -> None:
    refund_server.set_fault(ThrottleThenOk(times=1))
    model = _refund_model(refund_server)
    probabilities = model(refund_rows[:3], time.monotonic() + 5)
    assert model.requests_sent == 2
    np.testing.assert_allclose(probabilities[:, 1], refund_decision_predict()(refund_rows[:3].tolist()), atol=1e-9)


def test_throttled_throughout_is_model_throttled(refund_server: ModelServer, refund_rows: np.ndarray) -> None:
    refund_server.set_fault(ThrottleThenOk(times=100))
    model = _refund_model(refund_server, max_attempts=2)
    with pytest.raises(ModelThrottled, match="HTTP 429"):
        model(refund_rows[:3], time.monotonic() + 5)
    assert model.requests_sent == 2


def test_a_server_whose_certificate_is_not_trusted_is_never_sent_a_request(
    refund_server: ModelServer, refund_rows: np.ndarray
) -> None:
    with ModelServer(refund_decision_predict()) as stranger:
        other_ca = stranger.ca_pem
    before = refund_server.requests
    # The manifest names (and pins) a CA, just not the one that issued the server's certificate.
    adapter = {**_https(refund_server), "ca_bundle": {"path": "model-ca.pem", "sha256": sha256_hex(other_ca)}}
    model = _model(refund_server, remote_manifest("refund-decision", adapter), ca_pem=other_ca)
    with pytest.raises(ModelUnavailable, match="TLS verification failed"):
        model(refund_rows[:1], time.monotonic() + 5)
    assert model.requests_sent == 1  # a certificate problem is not retried
    assert refund_server.requests == before  # nothing reached the handler


def test_without_a_ca_bundle_only_system_cas_are_trusted(refund_server: ModelServer, refund_rows: np.ndarray) -> None:
    adapter = {**_https(refund_server), "ca_bundle": None}
    model = remote_model(remote_manifest("refund-decision", adapter), lambda name: b"")
    with pytest.raises(ModelUnavailable, match="TLS verification failed"):
        model(refund_rows[:1], time.monotonic() + 5)


def test_the_host_name_is_verified(refund_server: ModelServer, refund_rows: np.ndarray) -> None:
    adapter = {**_https(refund_server), "url": f"https://localhost:{refund_server.port}/invocations"}
    model = _model(refund_server, remote_manifest("refund-decision", adapter))  # the certificate names 127.0.0.1
    with pytest.raises(ModelUnavailable):
        model(refund_rows[:1], time.monotonic() + 5)


def test_a_deadline_already_past_sends_nothing(refund_server: ModelServer, refund_rows: np.ndarray) -> None:
    model = _refund_model(refund_server)
    with pytest.raises(ModelTimeout, match="deadline passed"):
        model(refund_rows[:1], time.monotonic() - 0.1)
    assert model.requests_sent == 0


# --- the auth header, from Secrets Manager or SSM (moto, in-process) -------------------------------


class _MotoClients:
    """The clients `remote_model` asks for, counting reads of the secret stores."""

    def __init__(self) -> None:
        self.secret_reads = 0
        self._secretsmanager = boto3.client("secretsmanager", region_name=REGION)
        self._ssm = boto3.client("ssm", region_name=REGION)
        for client in (self._secretsmanager, self._ssm):
            client.meta.events.register("before-call.*.*", self._count)

    def _count(self, **_: Any) -> None:
        self.secret_reads += 1

    def secretsmanager(self) -> Any:
        return self._secretsmanager

    def ssm(self) -> Any:
        return self._ssm

    def sagemaker_runtime(self, timeout_seconds: float = 2.0) -> Any:
        raise AssertionError("an HTTPS model needs no SageMaker client")

    def lambda_client(self, timeout_seconds: float = 2.0) -> Any:
        raise AssertionError("an HTTPS model needs no Lambda client")


@pytest.fixture
def moto(monkeypatch: pytest.MonkeyPatch) -> Iterator[_MotoClients]:
    for name in ("AWS_ENDPOINT_URL", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    with mock_aws():
        yield _MotoClients()


def _with_auth(server: ModelServer, clients: _MotoClients, source: str, name: str) -> Any:
    auth = {"header": "Authorization", "source": source, "name": name, "prefix": "Bearer "}
    return _model(server, remote_manifest("refund-decision", _https(server, auth=auth)), clients)


def test_the_auth_header_comes_from_secrets_manager_once_per_container(
    refund_server: ModelServer, refund_rows: np.ndarray, moto: _MotoClients
) -> None:
    moto.secretsmanager().create_secret(Name="candor/refund-model-token", SecretString=TOKEN)
    moto.secret_reads = 0
    before = refund_server.requests
    model = _with_auth(refund_server, moto, "secretsmanager", "candor/refund-model-token")
    with running("DecisionsFunction"):  # its role reads the secret (recorded for tests/test_iam_check.py)
        model(refund_rows[:2], time.monotonic() + 5)
        model(refund_rows[2:4], time.monotonic() + 5)
    # moto's mock_aws is on, yet urllib3's traffic to 127.0.0.1 reached the real server.
    assert refund_server.requests - before == 2
    assert [h["authorization"] for h in refund_server.received_headers[-2:]] == [f"Bearer {TOKEN}"] * 2
    assert moto.secret_reads == 1


def test_the_auth_header_comes_from_an_ssm_secure_string(
    refund_server: ModelServer, refund_rows: np.ndarray, moto: _MotoClients
) -> None:
    moto.ssm().put_parameter(Name="/candor/refund-model-token", Value=TOKEN, Type="SecureString")
    model = _with_auth(refund_server, moto, "ssm", "/candor/refund-model-token")
    with running("ExplanationWorkerFunction"):  # the worker calls models too (recorded for the IAM check)
        model(refund_rows[:2], time.monotonic() + 5)
    assert refund_server.received_headers[-1]["authorization"] == f"Bearer {TOKEN}"


def test_a_plain_ssm_string_is_not_used_as_a_secret(
    refund_server: ModelServer, refund_rows: np.ndarray, moto: _MotoClients
) -> None:
    moto.ssm().put_parameter(Name="/candor/plain-token", Value=TOKEN, Type="String")
    before = refund_server.requests
    model = _with_auth(refund_server, moto, "ssm", "/candor/plain-token")
    with pytest.raises(ModelUnavailable, match="must be SecureString"):
        model(refund_rows[:2], time.monotonic() + 5)
    assert refund_server.requests == before
    assert model.requests_sent == 0


def test_a_missing_secret_is_unavailable_naming_it(
    refund_server: ModelServer, refund_rows: np.ndarray, moto: _MotoClients
) -> None:
    model = _with_auth(refund_server, moto, "secretsmanager", "candor/nope")
    with pytest.raises(ModelUnavailable, match="secretsmanager candor/nope: ResourceNotFoundException"):
        model(refund_rows[:2], time.monotonic() + 5)
    assert model.requests_sent == 0


def test_the_secret_never_shows_in_logs_errors_or_repr(
    refund_server: ModelServer, refund_rows: np.ndarray, moto: _MotoClients, caplog: pytest.LogCaptureFixture
) -> None:
    moto.secretsmanager().create_secret(Name="candor/refund-model-token", SecretString=TOKEN)
    refund_server.set_fault(Status(401))
    model = _with_auth(refund_server, moto, "secretsmanager", "candor/refund-model-token")
    caplog.set_level(logging.DEBUG)
    with pytest.raises(ModelUnavailable) as caught:
        model(refund_rows[:2], time.monotonic() + 5)
    assert refund_server.received_headers[-1]["authorization"] == f"Bearer {TOKEN}"
    assert TOKEN not in caplog.text
    assert TOKEN not in str(caught.value)
    assert TOKEN not in repr(vars(model.transport))
