"""The sagemaker_endpoint and lambda_function adapters through the real AWS SDK.

Three ways to make the SDK answer without an AWS account:
- moto's sagemaker-runtime, whose InvokeEndpoint answers from a queue of configured results;
- a botocore `before-send` handler that answers with a real `AWSResponse` in the service's
  wire format, computed by running the bundled model on the rows Candor serialised (so the
  SDK's own serialisation and parsing are exercised; moto's Lambda Invoke needs Docker);
- botocore's `Stubber`, for exact error codes.
"""

from __future__ import annotations

import io
import json
import time
from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import unquote

import boto3
import numpy as np
import pytest
import requests
from botocore.awsrequest import AWSPreparedRequest, AWSResponse
from botocore.exceptions import ReadTimeoutError
from botocore.response import StreamingBody
from botocore.stub import Stubber
from moto import mock_aws

from functions.adapters.in_process import encode_row
from functions.adapters.remote import remote_model
from functions.adapters.remote.codec import decode_csv
from functions.domain.errors import ModelOutputInvalid, ModelThrottled, ModelTimeout, ModelUnavailable
from functions.schemas.manifest import ModelManifest
from functions.stores import aws_clients
from infra.local.invocation import running
from infra.local.model_server import MODELS_DIR, refund_decision_predict, remote_manifest, ticket_router_predict
from tests.support import fresh_container

REGION = "eu-west-1"
ENDPOINT = "refund-model"
FUNCTION = "refund-model"


@pytest.fixture(autouse=True)
def _dummy_account(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    # Requests are signed before `before-send` answers them: credentials must exist, and be fake.
    for name in ("AWS_ENDPOINT_URL", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    for name, value in {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    fresh_container()
    # The adapters run in the decisions function: their calls are recorded as its role's (tests/test_iam_check.py).
    with running("DecisionsFunction"):
        yield
    fresh_container()


@pytest.fixture(scope="module")
def rows() -> np.ndarray:
    manifest = remote_manifest("refund-decision", {"type": "lambda_function", "function_name": "x"})
    background = json.loads((MODELS_DIR / "refund-decision" / "background.json").read_bytes())["rows"]
    return np.array([encode_row(manifest, row) for row in background])


@pytest.fixture(scope="module")
def booster_predict() -> Callable[[list[Any]], Any]:
    return refund_decision_predict()


class _Clients:
    """Hands `remote_model` the given clients, whatever timeout it asks for, and notes the timeouts."""

    def __init__(self, sagemaker: Any = None, lambda_: Any = None) -> None:
        self._sagemaker = sagemaker
        self._lambda = lambda_
        self.timeouts: list[float] = []

    def sagemaker_runtime(self, timeout_seconds: float = 2.0) -> Any:
        self.timeouts.append(timeout_seconds)
        return self._sagemaker

    def lambda_client(self, timeout_seconds: float = 2.0) -> Any:
        self.timeouts.append(timeout_seconds)
        return self._lambda

    def secretsmanager(self) -> Any:
        raise AssertionError("not used")

    def ssm(self) -> Any:
        raise AssertionError("not used")


def _sagemaker_manifest(**adapter: Any) -> ModelManifest:
    return remote_manifest(
        "refund-decision",
        {"type": "sagemaker_endpoint", "endpoint_name": ENDPOINT, "backoff_seconds": 0.01, **adapter},
    )


def _lambda_manifest(**adapter: Any) -> ModelManifest:
    return remote_manifest(
        "refund-decision",
        {"type": "lambda_function", "function_name": FUNCTION, "backoff_seconds": 0.01, **adapter},
    )


def _no_files(name: str) -> bytes:
    raise FileNotFoundError(name)


class _RawBody(io.BytesIO):
    """What botocore reads an HTTP body from: `read()` for streams, `stream()` for everything else."""

    def stream(self, **_: Any) -> Iterator[bytes]:
        yield self.read()


def _response(request: AWSPreparedRequest, status: int, body: bytes, headers: dict[str, str]) -> AWSResponse:
    return AWSResponse(request.url, status, {"Content-Length": str(len(body)), **headers}, _RawBody(body))


# --- SageMaker, against moto ----------------------------------------------------------------------


def _queue_moto_results(results: list[dict[str, str]]) -> None:
    """moto's documented way to configure what InvokeEndpoint answers, in order, for new requests."""
    response = requests.post(
        "http://motoapi.amazonaws.com/moto-api/static/sagemaker/endpoint-results",
        json={"account_id": "123456789012", "region": REGION, "results": results},
        timeout=5,
    )
    response.raise_for_status()


def test_sagemaker_json_through_moto(rows: np.ndarray, booster_predict: Callable[[list[Any]], Any]) -> None:
    chunks = [rows[0:10], rows[10:20], rows[20:25]]
    with mock_aws():
        _queue_moto_results(
            [
                {
                    "Body": json.dumps({"predictions": [{"score": float(p)} for p in booster_predict(chunk.tolist())]}),
                    "ContentType": "application/json",
                    "InvokedProductionVariant": "AllTraffic",
                    "CustomAttributes": "",
                }
                for chunk in chunks
            ]
        )
        manifest = _sagemaker_manifest(max_batch_rows=10, response_path="predictions[*].score")
        model = remote_model(manifest, _no_files, aws_clients)
        probabilities = model(rows[:25], time.monotonic() + 10)
    assert model.requests_sent == 3
    np.testing.assert_allclose(probabilities[:, 1], booster_predict(rows[:25].tolist()), atol=1e-9)


def test_sagemaker_csv_through_moto(rows: np.ndarray, booster_predict: Callable[[list[Any]], Any]) -> None:
    scores = booster_predict(rows[:4].tolist())
    with mock_aws():
        _queue_moto_results([{"Body": "".join(f"{float(p)!r}\n" for p in scores), "ContentType": "text/csv"}])
        manifest = _sagemaker_manifest(content_type="text/csv", accept="text/csv")
        probabilities = remote_model(manifest, _no_files, aws_clients)(rows[:4], time.monotonic() + 10)
    np.testing.assert_allclose(probabilities[:, 1], scores, atol=1e-9)


def test_moto_static_default_answer_is_an_invalid_answer(rows: np.ndarray) -> None:
    with mock_aws():  # nothing queued: moto answers the literal string "body"
        model = remote_model(_sagemaker_manifest(), _no_files, aws_clients)
        with pytest.raises(ModelOutputInvalid, match="not JSON"):
            model(rows[:2], time.monotonic() + 10)


# --- SageMaker, real wire format from a before-send handler ---------------------------------------


class _SageMakerEndpoint:
    """Answers InvokeEndpoint as SageMaker would, running the real model on the request body."""

    def __init__(self, predict: Callable[[list[Any]], Any], *, answer_csv: bool = False) -> None:
        self.predict = predict
        self.answer_csv = answer_csv
        self.requests: list[AWSPreparedRequest] = []
        self.failures: list[Exception] = []  # raised, in order, before answering normally

    def __call__(self, request: AWSPreparedRequest, **_: Any) -> AWSResponse:
        self.requests.append(request)
        if self.failures:
            raise self.failures.pop(0)
        content_type = request.headers["Content-Type"].decode()
        body = bytes(request.body)
        instances = decode_csv(body) if content_type == "text/csv" else json.loads(body)["instances"]
        scores = self.predict(instances)
        if self.answer_csv:
            answer, answer_type = "".join(f"{float(p)!r}\n" for p in scores).encode(), "text/csv"
        else:
            answer = json.dumps({"predictions": [{"score": float(p)} for p in scores]}).encode()
            answer_type = "application/json"
        variant = request.headers.get("X-Amzn-SageMaker-Target-Variant", b"AllTraffic").decode()
        return _response(
            request, 200, answer, {"Content-Type": answer_type, "x-Amzn-Invoked-Production-Variant": variant}
        )


def _sagemaker_client(handler: Any) -> Any:
    client = aws_clients.sagemaker_runtime(2.0)  # the container's configuration: no SDK retries
    client.meta.events.register("before-send.sagemaker-runtime.InvokeEndpoint", handler)
    return client


@pytest.mark.parametrize(
    ("content_type", "accept"),
    [("application/json", "application/json"), ("text/csv", "text/csv"), ("text/csv", "application/json")],
)
def test_sagemaker_wire_format(
    rows: np.ndarray, booster_predict: Callable[[list[Any]], Any], content_type: str, accept: str
) -> None:
    endpoint = _SageMakerEndpoint(booster_predict, answer_csv=accept == "text/csv")
    manifest = _sagemaker_manifest(
        content_type=content_type,
        accept=accept,
        target_variant="blue",
        response_path="predictions[*].score",
        max_batch_rows=16,
    )
    model = remote_model(manifest, _no_files, _Clients(sagemaker=_sagemaker_client(endpoint)))
    probabilities = model(rows[:40], time.monotonic() + 10)
    np.testing.assert_allclose(probabilities[:, 1], booster_predict(rows[:40].tolist()), atol=1e-9)
    assert model.requests_sent == len(endpoint.requests) == 3
    first = endpoint.requests[0]
    assert unquote(first.url).endswith(f"/endpoints/{ENDPOINT}/invocations")
    assert first.headers["Content-Type"] == content_type.encode()
    assert first.headers["Accept"] == accept.encode()
    assert first.headers["X-Amzn-SageMaker-Target-Variant"] == b"blue"


def test_sagemaker_read_timeouts_are_retried_then_model_timeout(rows: np.ndarray) -> None:
    endpoint = _SageMakerEndpoint(lambda instances: [0.5] * len(instances))
    endpoint.failures = [ReadTimeoutError(endpoint_url="https://runtime.sagemaker")] * 3
    clients = _Clients(sagemaker=_sagemaker_client(endpoint))
    model = remote_model(_sagemaker_manifest(max_attempts=3, timeout_seconds=1.5), _no_files, clients)
    with pytest.raises(ModelTimeout, match=r"InvokeEndpoint failed: ReadTimeoutError \(after 3 attempts\)"):
        model(rows[:2], time.monotonic() + 10)
    assert len(endpoint.requests) == 3
    assert clients.timeouts == [1.5, 1.5, 1.5]


def test_sagemaker_attempts_near_the_deadline_get_a_shorter_client(rows: np.ndarray) -> None:
    endpoint = _SageMakerEndpoint(lambda instances: [0.5] * len(instances))
    clients = _Clients(sagemaker=_sagemaker_client(endpoint))
    model = remote_model(
        _sagemaker_manifest(timeout_seconds=5, response_path="predictions[*].score"), _no_files, clients
    )
    model(rows[:2], time.monotonic() + 0.6)
    assert clients.timeouts == [0.75]  # 0.6 s left, rounded up to a 0.25 s step


def test_the_sdk_does_not_retry_behind_the_adapters_back(rows: np.ndarray) -> None:
    """The container's clients make one attempt per call: every retry is ours, and counted."""
    client = aws_clients.sagemaker_runtime(1.25)
    assert client.meta.config.retries == {"total_max_attempts": 1, "mode": "standard"}
    assert (client.meta.config.connect_timeout, client.meta.config.read_timeout) == (1.25, 1.25)
    sent: list[AWSPreparedRequest] = []

    def unavailable(request: AWSPreparedRequest, **_: Any) -> AWSResponse:
        sent.append(request)
        body = b'{"message": "busy"}'
        return _response(
            request, 503, body, {"x-amzn-ErrorType": "ServiceUnavailable", "Content-Type": "application/json"}
        )

    client.meta.events.register("before-send.sagemaker-runtime.InvokeEndpoint", unavailable)
    model = remote_model(_sagemaker_manifest(timeout_seconds=1.25, max_attempts=2), _no_files, aws_clients)
    with pytest.raises(ModelUnavailable, match=r"ServiceUnavailable \(HTTP 503\) \(after 2 attempts\)"):
        model(rows[:2], time.monotonic() + 10)
    assert len(sent) == model.requests_sent == 2


# --- SageMaker error codes, with Stubber -----------------------------------------------------------


def _stubbed_sagemaker() -> tuple[Any, Stubber]:
    client = boto3.client("sagemaker-runtime", region_name=REGION)
    return client, Stubber(client)


@pytest.mark.parametrize(
    ("code", "status", "modeled", "error", "attempts"),
    [
        ("ThrottlingException", 400, {}, ModelThrottled, 3),
        ("ServiceUnavailable", 503, {}, ModelUnavailable, 3),
        ("InternalFailure", 500, {}, ModelUnavailable, 3),
        ("ModelNotReadyException", 429, {}, ModelUnavailable, 3),
        ("ModelError", 424, {"OriginalStatusCode": 500}, ModelUnavailable, 3),
        ("ModelError", 424, {"OriginalStatusCode": 400}, ModelUnavailable, 1),
        ("ValidationError", 400, {}, ModelUnavailable, 1),
        ("AccessDeniedException", 403, {}, ModelUnavailable, 1),
    ],
)
def test_sagemaker_error_codes(
    rows: np.ndarray, code: str, status: int, modeled: dict[str, Any], error: type[Exception], attempts: int
) -> None:
    client, stubber = _stubbed_sagemaker()
    for _ in range(attempts):
        stubber.add_client_error("invoke_endpoint", code, "the rows were secret", status, modeled_fields=modeled)
    model = remote_model(_sagemaker_manifest(max_attempts=3), _no_files, _Clients(sagemaker=client))
    with stubber, pytest.raises(error) as caught:
        model(rows[:2], time.monotonic() + 10)
    stubber.assert_no_pending_responses()
    assert model.requests_sent == attempts
    assert type(caught.value) is error
    assert code in caught.value.message
    assert "secret" not in caught.value.message


def test_sagemaker_throttled_then_answered(rows: np.ndarray) -> None:
    client, stubber = _stubbed_sagemaker()
    answer = b'{"predictions": [0.25, 0.75]}'
    stubber.add_client_error("invoke_endpoint", "ThrottlingException", "slow down", 400)
    stubber.add_response(
        "invoke_endpoint",
        {"Body": StreamingBody(io.BytesIO(answer), len(answer)), "ContentType": "application/json"},
        {
            "EndpointName": ENDPOINT,
            "Body": b'{"instances":' + json.dumps(rows[:2].tolist()).encode().replace(b" ", b"") + b"}",
            "ContentType": "application/json",
            "Accept": "application/json",
        },
    )
    model = remote_model(_sagemaker_manifest(), _no_files, _Clients(sagemaker=client))
    with stubber:
        probabilities = model(rows[:2], time.monotonic() + 10)
    assert model.requests_sent == 2
    np.testing.assert_allclose(probabilities, [[0.75, 0.25], [0.25, 0.75]])


# --- Lambda, real wire format from a before-send handler ------------------------------------------


class _LambdaFunction:
    """Answers Invoke as Lambda would: the function's JSON result, or a FunctionError."""

    def __init__(self, handler: Callable[[Any], Any]) -> None:
        self.handler = handler
        self.requests: list[AWSPreparedRequest] = []

    def __call__(self, request: AWSPreparedRequest, **_: Any) -> AWSResponse:
        self.requests.append(request)
        event = json.loads(bytes(request.body))
        headers = {"Content-Type": "application/json", "X-Amz-Executed-Version": "7"}
        try:
            result = self.handler(event)
        except Exception as error:  # the function raised: Lambda still answers 200, flagged
            payload = {"errorMessage": str(error), "errorType": type(error).__name__, "stackTrace": []}
            return _response(
                request, 200, json.dumps(payload).encode(), {**headers, "X-Amz-Function-Error": "Unhandled"}
            )
        return _response(request, 200, json.dumps(result).encode(), headers)


def _lambda_client(function: _LambdaFunction) -> Any:
    client = aws_clients.lambda_client(2.0)  # the container's configuration: no SDK retries
    client.meta.events.register("before-send.lambda.Invoke", function)
    return client


def test_lambda_runs_the_model_in_its_own_format(rows: np.ndarray, booster_predict: Callable[[list[Any]], Any]) -> None:
    def handler(event: dict[str, Any]) -> dict[str, Any]:
        return {"outputs": {"p": [float(p) for p in booster_predict(event["payload"]["features"])]}}

    function = _LambdaFunction(handler)
    manifest = _lambda_manifest(
        qualifier="live",
        request_template={"payload": {"features": "$rows"}, "model": "refund-v1"},
        response_path="outputs.p",
        max_batch_rows=30,
    )
    model = remote_model(manifest, _no_files, _Clients(lambda_=_lambda_client(function)))
    probabilities = model(rows[:50], time.monotonic() + 10)
    np.testing.assert_allclose(probabilities[:, 1], booster_predict(rows[:50].tolist()), atol=1e-9)
    assert model.requests_sent == len(function.requests) == 2
    request = function.requests[0]
    assert request.headers["X-Amz-Invocation-Type"] == b"RequestResponse"
    assert unquote(request.url).endswith(f"/functions/{FUNCTION}/invocations?Qualifier=live")


def test_lambda_text_model_answers_label_vectors() -> None:
    predict = ticket_router_predict()
    messages = ["charged twice", "mi paquete llegó roto"]
    function = _LambdaFunction(lambda event: {"probabilities": predict(event["texts"]).tolist()})
    manifest = remote_manifest(
        "ticket-router",
        {
            "type": "lambda_function",
            "function_name": FUNCTION,
            "request_template": {"texts": "$texts"},
            "response_path": "probabilities",
        },
    )
    model = remote_model(manifest, _no_files, _Clients(lambda_=_lambda_client(function)))
    np.testing.assert_allclose(model(messages, time.monotonic() + 10), predict(messages), atol=1e-9)


def test_a_function_error_is_a_model_failure_not_retried(rows: np.ndarray) -> None:
    def handler(event: dict[str, Any]) -> Any:
        raise KeyError(f"customer rows {event}")

    function = _LambdaFunction(handler)
    model = remote_model(_lambda_manifest(), _no_files, _Clients(lambda_=_lambda_client(function)))
    with pytest.raises(ModelUnavailable, match=r"the model function failed \(Unhandled: KeyError\)") as caught:
        model(rows[:2], time.monotonic() + 10)
    assert "customer" not in caught.value.message
    assert model.requests_sent == 1


def test_a_function_answering_the_wrong_number_of_rows_is_invalid(rows: np.ndarray) -> None:
    function = _LambdaFunction(lambda event: {"predictions": [0.5]})
    model = remote_model(_lambda_manifest(), _no_files, _Clients(lambda_=_lambda_client(function)))
    with pytest.raises(ModelOutputInvalid, match="sent 3 rows to the model, its answer has 1"):
        model(rows[:3], time.monotonic() + 10)


@pytest.mark.parametrize(
    ("code", "status", "error", "attempts"),
    [
        ("TooManyRequestsException", 429, ModelThrottled, 3),
        ("ServiceException", 500, ModelUnavailable, 3),
        ("ResourceNotReadyException", 502, ModelUnavailable, 3),
        ("ResourceNotFoundException", 404, ModelUnavailable, 1),
        ("AccessDeniedException", 403, ModelUnavailable, 1),
        ("KMSAccessDeniedException", 502, ModelUnavailable, 1),
        ("RequestTooLargeException", 413, ModelUnavailable, 1),
    ],
)
def test_lambda_error_codes(rows: np.ndarray, code: str, status: int, error: type[Exception], attempts: int) -> None:
    client = boto3.client("lambda", region_name=REGION)
    stubber = Stubber(client)
    for _ in range(attempts):
        stubber.add_client_error("invoke", code, "nope", status)
    model = remote_model(_lambda_manifest(max_attempts=3), _no_files, _Clients(lambda_=client))
    with stubber, pytest.raises(error, match=code):
        model(rows[:2], time.monotonic() + 10)
    stubber.assert_no_pending_responses()
    assert model.requests_sent == attempts
