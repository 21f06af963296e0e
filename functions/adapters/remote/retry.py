"""Deadline, bounded retries with jittered exponential backoff, and the typed errors they end in.

Every transport (SageMaker, Lambda, HTTPS) turns its own exceptions into `AttemptFailed`,
saying what kind of failure it was and whether trying again can help; `call_with_retries`
owns the policy, so all adapters retry, back off and give up the same way.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal, TypeVar

from functions.domain.errors import DependencyUnavailable, ModelThrottled, ModelTimeout, ModelUnavailable

FailureKind = Literal["timeout", "throttled", "unavailable"]
T = TypeVar("T")

_ERROR_OF_KIND: dict[FailureKind, type[DependencyUnavailable]] = {
    "timeout": ModelTimeout,
    "throttled": ModelThrottled,
    "unavailable": ModelUnavailable,
}

# Below this, an attempt cannot even finish a TLS handshake: give up instead of sending it.
MIN_ATTEMPT_SECONDS = 0.01


class AttemptFailed(Exception):
    """One attempt at calling the model failed; `cause` is safe to show (no payloads, no secrets)."""

    def __init__(self, kind: FailureKind, cause: str, *, retryable: bool, retry_after: float | None = None) -> None:
        super().__init__(cause)
        self.kind = kind
        self.cause = cause
        self.retryable = retryable
        self.retry_after = retry_after  # seconds the endpoint asked us to wait (HTTP Retry-After)


@dataclass(frozen=True)
class RetryPolicy:
    timeout_seconds: float  # one attempt, connect and read
    max_attempts: int
    backoff_seconds: float  # first delay; doubles on each retry, with jitter

    def backoff(self, retries_so_far: int) -> float:
        """The delay before retry number `retries_so_far + 1`: exponential, with "equal jitter".

        Half the delay is fixed so that retries do spread out, half is random so that many
        containers throttled together do not come back together.
        """
        ceiling = self.backoff_seconds * 2**retries_so_far
        return ceiling / 2 + random.uniform(0, ceiling / 2)  # noqa: S311 - jitter, not cryptography


def call_with_retries(
    attempt: Callable[[float], T],
    policy: RetryPolicy,
    deadline: float,
    *,
    target: str,
    on_attempt: Callable[[], None] = lambda: None,
    sleep: Callable[[float], None] = time.sleep,
) -> T:
    """`attempt(timeout)` until it succeeds, fails for good, runs out of tries or of time.

    Each attempt gets `min(policy.timeout_seconds, time left before deadline)`; neither an
    attempt nor a backoff sleep goes past `deadline` (a `time.monotonic()` value). Raises
    ModelTimeout when the deadline stops it, otherwise the error of the last failure's
    kind (ModelTimeout, ModelThrottled, ModelUnavailable). Other exceptions (such as
    ModelOutputInvalid) pass through at once: an unreadable answer is not retried.
    """
    last: AttemptFailed | None = None
    attempts = 0
    for number in range(1, policy.max_attempts + 1):
        left = deadline - time.monotonic()
        if left < MIN_ATTEMPT_SECONDS:
            break
        attempts = number
        on_attempt()
        try:
            return attempt(min(policy.timeout_seconds, left))
        except AttemptFailed as failure:
            last = failure
        if not last.retryable or number == policy.max_attempts:
            raise _give_up(last, target, number)
        delay = max(policy.backoff(number - 1), last.retry_after or 0.0)
        if time.monotonic() + delay + MIN_ATTEMPT_SECONDS >= deadline:
            break
        sleep(delay)
    because = f"; last failure: {last.cause}" if last else ""
    raise ModelTimeout(f"{target}: no answer before the deadline, after {attempts} attempt(s){because}")


def _give_up(failure: AttemptFailed, target: str, attempts: int) -> DependencyUnavailable:
    retried = f" (after {attempts} attempts)" if attempts > 1 else ""
    return _ERROR_OF_KIND[failure.kind](f"{target}: {failure.cause}{retried}")
