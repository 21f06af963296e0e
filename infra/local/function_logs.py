"""CloudWatch Logs, locally: what a function writes to stdout goes to its own log file.

Powertools logs and metrics (EMF) are printed to stdout, as Lambda expects; on the local
stack they would drown the console. While the gateway runs a handler, this stdout stand-in
routes that thread's writes to `<directory>/<FunctionLogicalId>.log`; every other write
passes through.
"""

from __future__ import annotations

import io
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TextIO


class FunctionLogs(io.TextIOBase):
    def __init__(self, directory: Path, passthrough: TextIO) -> None:
        self.directory, self.passthrough = directory, passthrough
        self._current = threading.local()
        self._files: dict[str, TextIO] = {}
        self._lock = threading.Lock()

    def _file(self, function: str) -> TextIO:
        with self._lock:
            if function not in self._files:
                self.directory.mkdir(parents=True, exist_ok=True)
                self._files[function] = (self.directory / f"{function}.log").open("a", buffering=1)
            return self._files[function]

    @contextmanager
    def capture(self, function: str) -> Iterator[None]:
        self._current.function = function
        try:
            yield
        finally:
            self._current.function = None

    def write(self, text: str) -> int:
        function = getattr(self._current, "function", None)
        return (self._file(function) if function else self.passthrough).write(text)

    def flush(self) -> None:
        self.passthrough.flush()

    def close_files(self) -> None:
        with self._lock:
            for handle in self._files.values():
                handle.close()
            self._files.clear()


@contextmanager
def installed(directory: Path) -> Iterator[FunctionLogs]:
    """Replace sys.stdout with a FunctionLogs for the duration (handlers imported inside bind to it)."""
    logs = FunctionLogs(directory, sys.stdout)
    sys.stdout = logs
    try:
        yield logs
    finally:
        sys.stdout = logs.passthrough
        logs.close_files()
