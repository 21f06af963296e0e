"""The thread behind each local event source mapping: poll until stopped, survive a failed poll."""

from __future__ import annotations

import logging
import threading
import traceback

logger = logging.getLogger(__name__)


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
