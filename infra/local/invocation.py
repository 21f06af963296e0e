"""Which function of template.yaml this thread is running, locally, where functions share a process.

In AWS each function runs in its own container with its own role; on the local stack and in the
tests the handlers' first instances run in one process, so whatever answers per function (the S3
semantics of `infra/local/s3_semantics.py`) asks here. The gateway's in-process instances, the SQS
poller and each worker process (`infra/local/lambda_worker.py`) set it around each invocation; tests set
it around the function code they call directly.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from contextvars import ContextVar

# A new thread starts with no value: the gateway's request threads and the pollers set their own.
_running: ContextVar[str | None] = ContextVar("candor_running_function", default=None)


@contextlib.contextmanager
def running(function: str) -> Iterator[None]:
    """Attribute this thread's calls to `function` (a logical id) while inside."""
    token = _running.set(function)
    try:
        yield
    finally:
        _running.reset(token)


def current_function() -> str | None:
    """The function this thread is running, or None outside any invocation."""
    return _running.get()
