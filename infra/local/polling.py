"""The thread behind each local event source mapping: poll until stopped, survive a failed poll, invoke as Lambda."""

from __future__ import annotations

import contextlib
import logging
import threading
import traceback
import uuid
from collections.abc import Callable
from typing import Any, Protocol

from infra.local.aws import ACCOUNT_ID, REGION
from infra.local.function_logs import FunctionLogs
from infra.local.gateway import LambdaContext
from infra.local.invocation import running

logger = logging.getLogger(__name__)
Handler = Callable[[dict[str, Any], Any], Any]


class Subscription(Protocol):
    """What a mapping knows of its function (`infra.template`'s queue and stream subscriptions)."""

    @property
    def function(self) -> str: ...
    @property
    def memory_mb(self) -> int: ...
    @property
    def timeout_s(self) -> int: ...


def function_arn(function: str) -> str:
    return f"arn:aws:lambda:{REGION}:{ACCOUNT_ID}:function:{function}"


def invoke(subscription: Subscription, handler: Handler, event: dict[str, Any], logs: FunctionLogs | None) -> Any:
    """One invocation by the mapping: the function's stdout goes to its log (as in CloudWatch Logs),
    its AWS calls are its role's (`infra.local.invocation.running`)."""
    context = LambdaContext(
        function_name=subscription.function,
        memory_limit_in_mb=subscription.memory_mb,
        invoked_function_arn=function_arn(subscription.function),
        aws_request_id=str(uuid.uuid4()),
        timeout_s=float(subscription.timeout_s),
    )
    captured = logs.capture(subscription.function) if logs else contextlib.nullcontext()
    with captured, running(subscription.function):
        return handler(event, context)


class PollingThread:
    """Calls `poll_once` on a daemon thread until `stop`; a poll that raises is logged and retried a second later.

    `pause_seconds`: the wait after a poll that found nothing (0 for a source that waits itself, as
    SQS's long poll does); `stop` waits that long plus 10 s for the poll in flight.
    """

    def __init__(self, name: str, source: str, pause_seconds: float) -> None:
        self._name, self._source, self._pause = name, source, pause_seconds
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def poll_once(self) -> int:
        """One poll; how many records or messages it handled."""
        raise NotImplementedError

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name=self._name, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=self._pause + 10)
            self._thread = None

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                if not self.poll_once() and self._pause:
                    self._stop.wait(self._pause)
            except Exception:
                if self._stop.is_set():
                    break  # moto was stopped under us
                logger.error("polling %s failed:\n%s", self._source, traceback.format_exc())
                self._stop.wait(1)
