"""What every remote adapter shares: chunking into calls, counting requests, checking answers.

A `Transport` sends one request body within a timeout and returns the raw answer, turning
its own failures into `AttemptFailed`; `RemoteBatchModel` does the rest, the same way for
SageMaker, Lambda and HTTPS.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from functions.adapters.remote.codec import AnswerDecoder, Rows
from functions.adapters.remote.probabilities import to_probabilities
from functions.adapters.remote.retry import RetryPolicy, call_with_retries
from functions.domain.errors import ModelTimeout
from functions.schemas.manifest import ModelManifest, RemoteCall


@dataclass(frozen=True)
class Answer:
    body: bytes
    content_type: str | None


class Transport(Protocol):
    target: str  # how errors name the model endpoint: no secrets, no query strings

    def prepare(self) -> None:
        """Anything needed before the first request (e.g. reading an auth secret); may raise ModelUnavailable."""
        ...

    def send(self, body: bytes, content_type: str, timeout: float) -> Answer:
        """One attempt; raises AttemptFailed (or ModelOutputInvalid for an unreadable answer)."""
        ...


class RequestEncoder(Protocol):
    @property
    def content_type(self) -> str: ...

    def encode(self, rows: Rows) -> bytes: ...


class RemoteBatchModel:
    """A `BatchModel` over any transport: (n, K) label probabilities for n rows, within a deadline."""

    def __init__(
        self,
        manifest: ModelManifest,
        call: RemoteCall,
        transport: Transport,
        encoder: RequestEncoder,
        decoder: AnswerDecoder,
    ) -> None:
        self.manifest = manifest
        self.transport = transport
        self.encoder = encoder
        self.decoder = decoder
        self.max_batch_rows = call.max_batch_rows
        self.policy = RetryPolicy(call.timeout_seconds, call.max_attempts, call.backoff_seconds)
        self.requests_sent = 0
        self._count_lock = threading.Lock()  # explainers may call from several threads

    def __call__(self, rows: np.ndarray | Sequence[str], deadline: float) -> np.ndarray:
        """Label probabilities of `rows`, in chunks of at most `max_batch_rows` (unset: one), one after another."""
        total = len(rows)
        labels = len(self.manifest.labels)
        if total == 0:
            return np.empty((0, labels))
        if time.monotonic() >= deadline:
            raise ModelTimeout(f"{self.transport.target}: the deadline passed before the model was called")
        self.transport.prepare()
        size = self.max_batch_rows or total
        parts = [
            self._call_once(rows[i * size : (i + 1) * size], labels, deadline) for i in range(math.ceil(total / size))
        ]
        return np.vstack(parts)

    def _call_once(self, rows: Rows, labels: int, deadline: float) -> np.ndarray:
        body = self.encoder.encode(rows)

        def attempt(timeout: float) -> np.ndarray:
            answer = self.transport.send(body, self.encoder.content_type, timeout)
            return to_probabilities(self.decoder.decode(answer.body, answer.content_type), len(rows), labels)

        return call_with_retries(
            attempt, self.policy, deadline, target=self.transport.target, on_attempt=self._count_request
        )

    def _count_request(self) -> None:
        with self._count_lock:
            self.requests_sent += 1
