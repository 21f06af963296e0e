"""Retries, backoff and classification, without a network: attempts are plain functions."""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest
from botocore.exceptions import ClientError, ConnectTimeoutError, EndpointConnectionError, ReadTimeoutError, SSLError

from functions.adapters.remote.aws_errors import classify
from functions.adapters.remote.retry import AttemptFailed, RetryPolicy, call_with_retries
from functions.adapters.remote.timeouts import client_timeout
from functions.domain.errors import ModelOutputInvalid, ModelThrottled, ModelTimeout, ModelUnavailable

POLICY = RetryPolicy(timeout_seconds=1.0, max_attempts=3, backoff_seconds=0.1)


def _attempts(*outcomes: AttemptFailed | str) -> tuple[Callable[[float], str], list[float]]:
    """An attempt function playing `outcomes` in turn, and the timeouts it was given."""
    timeouts: list[float] = []
    queue = list(outcomes)

    def attempt(timeout: float) -> str:
        timeouts.append(timeout)
        outcome = queue.pop(0)
        if isinstance(outcome, AttemptFailed):
            raise outcome
        return outcome

    return attempt, timeouts


def test_a_retryable_failure_is_retried_after_a_jittered_backoff() -> None:
    attempt, timeouts = _attempts(AttemptFailed("unavailable", "HTTP 503", retryable=True), "ok")
    sleeps: list[float] = []
    assert call_with_retries(attempt, POLICY, time.monotonic() + 10, target="m", sleep=sleeps.append) == "ok"
    assert timeouts == [1.0, 1.0]
    assert len(sleeps) == 1
    assert 0.05 <= sleeps[0] <= 0.1


def test_backoff_doubles_with_jitter() -> None:
    policy = RetryPolicy(timeout_seconds=1, max_attempts=5, backoff_seconds=0.2)
    for retries, ceiling in ((0, 0.2), (1, 0.4), (2, 0.8)):
        delays = {policy.backoff(retries) for _ in range(50)}
        assert all(ceiling / 2 <= d <= ceiling for d in delays)
        assert len(delays) > 1


@pytest.mark.parametrize(
    ("kind", "error"), [("timeout", ModelTimeout), ("throttled", ModelThrottled), ("unavailable", ModelUnavailable)]
)
def test_the_last_failure_names_the_error_after_every_attempt(kind: str, error: type[Exception]) -> None:
    failure = AttemptFailed(kind, "it failed", retryable=True)  # type: ignore[arg-type]
    attempt, timeouts = _attempts(failure, failure, failure)
    counted: list[int] = []
    with pytest.raises(error, match="m: it failed \\(after 3 attempts\\)"):
        call_with_retries(
            attempt,
            POLICY,
            time.monotonic() + 10,
            target="m",
            sleep=lambda _: None,
            on_attempt=lambda: counted.append(1),
        )
    assert len(timeouts) == len(counted) == 3


def test_a_configuration_failure_is_not_retried() -> None:
    attempt, timeouts = _attempts(AttemptFailed("unavailable", "HTTP 403", retryable=False))
    with pytest.raises(ModelUnavailable, match=r"HTTP 403$"):
        call_with_retries(attempt, POLICY, time.monotonic() + 10, target="m", sleep=lambda _: None)
    assert len(timeouts) == 1


def test_an_unreadable_answer_is_not_retried() -> None:
    def attempt(timeout: float) -> str:
        raise ModelOutputInvalid("garbage")

    with pytest.raises(ModelOutputInvalid):
        call_with_retries(attempt, POLICY, time.monotonic() + 10, target="m")


def test_an_attempt_gets_only_the_time_left() -> None:
    attempt, timeouts = _attempts("ok")
    call_with_retries(attempt, POLICY, time.monotonic() + 0.4, target="m")
    assert 0.3 < timeouts[0] <= 0.4


def test_no_attempt_after_the_deadline() -> None:
    attempt, timeouts = _attempts("ok")
    with pytest.raises(ModelTimeout, match="after 0 attempt"):
        call_with_retries(attempt, POLICY, time.monotonic() - 1, target="m")
    assert timeouts == []


def test_no_backoff_sleep_past_the_deadline() -> None:
    attempt, _ = _attempts(AttemptFailed("throttled", "HTTP 429", retryable=True, retry_after=30))
    sleeps: list[float] = []
    with pytest.raises(ModelTimeout, match="last failure: HTTP 429"):
        call_with_retries(attempt, POLICY, time.monotonic() + 5, target="m", sleep=sleeps.append)
    assert sleeps == []  # Retry-After of 30 s does not fit a 5 s deadline


def test_retry_after_lengthens_the_backoff() -> None:
    attempt, _ = _attempts(AttemptFailed("throttled", "HTTP 429", retryable=True, retry_after=2), "ok")
    sleeps: list[float] = []
    call_with_retries(attempt, POLICY, time.monotonic() + 10, target="m", sleep=sleeps.append)
    assert sleeps == [2]


def test_sdk_clients_for_short_attempts_round_up_to_a_step() -> None:
    assert client_timeout(2.0, 2.0) == 2.0
    assert client_timeout(0.6, 2.0) == 0.75
    assert client_timeout(0.01, 2.0) == 0.25
    assert client_timeout(1.9, 1.9) == 1.9


def _client_error(code: str, status: int, **extra: object) -> ClientError:
    response = {
        "Error": {"Code": code, "Message": "the rows were: secret"},
        "ResponseMetadata": {"HTTPStatusCode": status},
    }
    return ClientError({**response, **extra}, "InvokeEndpoint")  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("code", "status", "kind", "retryable"),
    [
        ("ThrottlingException", 400, "throttled", True),
        ("TooManyRequestsException", 429, "throttled", True),
        ("ModelNotReadyException", 429, "unavailable", True),  # 429, but the endpoint is not up
        ("ServiceUnavailable", 503, "unavailable", True),
        ("InternalFailure", 500, "unavailable", True),
        ("ServiceException", 500, "unavailable", True),
        ("SomethingNew", 502, "unavailable", True),
        ("SomethingNewAndBusy", 429, "throttled", True),
        ("ValidationError", 400, "unavailable", False),
        ("ResourceNotFoundException", 404, "unavailable", False),
        ("AccessDeniedException", 403, "unavailable", False),
        ("KMSAccessDeniedException", 502, "unavailable", False),  # 502, but the function's KMS key
    ],
)
def test_aws_error_codes_are_classified(code: str, status: int, kind: str, retryable: bool) -> None:
    failure = classify(_client_error(code, status), "InvokeEndpoint")
    assert (failure.kind, failure.retryable) == (kind, retryable)
    assert code in failure.cause
    assert "secret" not in failure.cause  # AWS error messages may quote the request


@pytest.mark.parametrize(("original", "kind", "retryable"), [(500, "unavailable", True), (400, "unavailable", False)])
def test_a_model_error_is_retried_when_the_container_failed(original: int, kind: str, retryable: bool) -> None:
    failure = classify(_client_error("ModelError", 424, OriginalStatusCode=original), "InvokeEndpoint")
    assert (failure.kind, failure.retryable) == (kind, retryable)
    assert f"HTTP {original}" in failure.cause


@pytest.mark.parametrize(
    ("error", "kind", "retryable"),
    [
        (ReadTimeoutError(endpoint_url="https://x"), "timeout", True),
        (ConnectTimeoutError(endpoint_url="https://x"), "timeout", True),
        (EndpointConnectionError(endpoint_url="https://x"), "unavailable", True),
        (SSLError(endpoint_url="https://x", error="bad cert"), "unavailable", False),
    ],
)
def test_transport_exceptions_are_classified(error: Exception, kind: str, retryable: bool) -> None:
    failure = classify(error, "Invoke")
    assert (failure.kind, failure.retryable) == (kind, retryable)
