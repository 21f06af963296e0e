"""Lambda's scaling, locally: a pool of instances per function, each serving one event at a time.

An instance is either the gateway's own process (the first one, as the local stack always ran:
cheap, and what tests can patch) or a worker process (`infra.local.lambda_worker`): its own interpreter,
its own cold start and module state, as each Lambda execution environment has. An event goes to a
free instance; when none is free and the function has fewer than its maximum, a new worker is
started for it (a cold start the event waits for, as in Lambda); at the maximum it waits for one to
free up (where Lambda would throttle). `warm(n)` starts workers ahead of traffic, as provisioned
concurrency does.

A worker that runs past the function's timeout is killed, as Lambda stops the invocation and
discards the environment; its event is answered as a failed invocation.
"""

from __future__ import annotations

import contextlib
import json
import logging
import multiprocessing
import os
import threading
import time
import traceback
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Protocol

from infra.local.function_logs import FunctionLogs
from infra.local.invocation import running
from infra.local.lambda_runtime import Handler, LambdaContext
from infra.local.lambda_worker import WorkerHook, WorkerSpec, serve

logger = logging.getLogger("infra.local.gateway")

_SPAWN = multiprocessing.get_context("spawn")  # never fork: the gateway runs threads (moto, HTTP, pollers)
COLD_START_LIMIT_S = 120.0  # a worker that has not imported its handler by then is broken (a loaded CI box is slow)
KILL_WAIT_S = 5.0


class InvocationFailed(Exception):
    """The function raised, timed out or its instance died: Lambda reports an error, API Gateway a 502."""

    def __init__(self, detail: str) -> None:
        super().__init__(detail.strip().splitlines()[-1] if detail.strip() else "failed")
        self.detail = detail  # the traceback or reason, for the gateway's log


@dataclass(frozen=True)
class WorkerSettings:
    """What every worker of a local stack shares; `spec` adds the function's own parts."""

    environ: dict[str, str]
    template_path: str
    logs_dir: str | None = None
    hooks: tuple[WorkerHook, ...] = ()
    timeout_scale: float = 1.0  # a worker is stopped at this multiple of the function's Timeout

    def spec(self, function: str, handler: str) -> WorkerSpec:
        log_file = str(Path(self.logs_dir) / f"{function}.log") if self.logs_dir else None
        return WorkerSpec(
            function, handler, dict(self.environ), log_file, self.template_path, self.hooks, self.timeout_scale
        )


class Instance(Protocol):
    name: str  # what the X-Local-Instance header shows: function/instance number/pid

    def invoke(self, event: dict[str, Any], context: LambdaContext) -> Any: ...

    def alive(self) -> bool: ...

    def stop(self) -> None: ...


class InProcessInstance:
    """The function's handler called in the gateway's own process (imported on first use)."""

    def __init__(self, function: str, resolve: Callable[[], Handler], logs: FunctionLogs | None) -> None:
        self.function, self.name = function, f"{function}/0/pid-{os.getpid()}"
        self._resolve, self._logs = resolve, logs

    def invoke(self, event: dict[str, Any], context: LambdaContext) -> Any:
        context.log_stream_name = self.name
        logs = self._logs.capture(self.function) if self._logs else contextlib.nullcontext()
        try:
            handler = self._resolve()  # a broken import fails the invocation, as a failed init does
            with logs, running(self.function):
                result = handler(event, context)
        except Exception as error:
            raise InvocationFailed(traceback.format_exc()) from error
        if context.get_remaining_time_in_millis() == 0:  # a thread cannot be stopped; a worker would have been
            logger.warning("%s ran past its %ss timeout; Lambda would stop it", self.function, context.timeout_s)
        return result

    def alive(self) -> bool:
        return True

    def stop(self) -> None:
        pass


class WorkerInstance:
    """A worker process; `start()` is its cold start (the handler imported in a fresh interpreter)."""

    def __init__(self, spec: WorkerSpec, number: int) -> None:
        self.function = spec.function
        self._spec, self._number = spec, number
        self._connection: Any = None
        self._process: Any = None
        self.name = f"{spec.function}/{number}/starting"

    def start(self) -> WorkerInstance:
        parent, child = _SPAWN.Pipe()
        spec = replace(self._spec, log_stream=f"{self._spec.function}/{self._number}")
        self._process = _SPAWN.Process(target=serve, args=(child, spec), name=spec.log_stream, daemon=True)
        self._process.start()
        child.close()
        self._connection = parent
        if not parent.poll(COLD_START_LIMIT_S):
            self.stop()
            raise InvocationFailed(f"{self.function}: no cold start within {COLD_START_LIMIT_S:.0f} s")
        try:
            message = json.loads(parent.recv())
        except EOFError as error:
            self.stop()
            raise InvocationFailed(f"{self.function}: the instance died during its cold start") from error
        if "init_error" in message:
            self.stop()
            raise InvocationFailed(f"{self.function}: the cold start failed:\n{message['init_error']}")
        self.name = f"{self.function}/{self._number}/pid-{message['ready']}"
        return self

    def invoke(self, event: dict[str, Any], context: LambdaContext) -> Any:
        self._connection.send(json.dumps({"event": event, "context": context.fields()}))
        # The function's own timeout, counted here from the send (the worker starts its clock on receipt).
        limit = context.timeout_s * self._spec.timeout_scale
        if not self._connection.poll(limit):
            self.stop()
            raise InvocationFailed(f"Task timed out after {limit:.2f} seconds ({self.name})")
        try:
            message = json.loads(self._connection.recv())
        except (EOFError, OSError) as error:
            self.stop()
            raise InvocationFailed(f"{self.name} exited during the invocation") from error
        if "error" in message:
            raise InvocationFailed(message["error"])
        return message["result"]

    def alive(self) -> bool:
        return self._process is not None and self._process.is_alive()

    def stop(self) -> None:
        if self._connection is not None:
            self._connection.close()
        if self._process is not None:
            self._process.join(timeout=0.5)  # an idle worker ends when its pipe closes
            if self._process.is_alive():
                self._process.kill()
                self._process.join(timeout=KILL_WAIT_S)
        self._connection = self._process = None


class FunctionInstances:
    """The instances of one function: at most `maximum`, the in-process one first, workers on demand."""

    def __init__(self, function: str, maximum: int, local: Instance | None, spec: WorkerSpec | None) -> None:
        if maximum < 1:
            raise ValueError("a function needs at least one instance")
        if spec is None and (local is None or maximum > 1):
            raise ValueError(f"{function}: more instances than the in-process one need a worker spec")
        self.function, self.maximum = function, maximum
        self._spec = spec
        self._free: list[Instance] = [local] if local else []
        self._count = len(self._free)
        self._local = local
        self._started = 0  # worker numbers, for names; never reused
        self._workers: list[WorkerInstance] = []
        self._changed = threading.Condition()

    def acquire(self) -> Instance:
        """A free instance (the in-process one when free), a new worker, or the first to free up."""
        with self._changed:
            while True:
                if self._free:
                    free = self._local if self._local in self._free else self._free[-1]
                    self._free.remove(free)
                    return free
                if self._count < self.maximum:
                    self._count += 1
                    self._started += 1
                    number = self._started
                    break
                self._changed.wait()
        return self._started_worker(number)

    def _started_worker(self, number: int) -> Instance:
        assert self._spec is not None
        started = time.monotonic()
        try:
            worker = WorkerInstance(self._spec, number).start()
        except BaseException:
            with self._changed:
                self._count -= 1
                self._changed.notify()
            raise
        logger.info("%s: cold start of %s in %.1f s", self.function, worker.name, time.monotonic() - started)
        with self._changed:
            self._workers.append(worker)
        return worker

    def release(self, instance: Instance) -> None:
        """Give an instance back; one that died (timed out, crashed) leaves the pool."""
        with self._changed:
            if instance.alive():
                self._free.append(instance)
            else:
                self._count -= 1
                if instance in self._workers:
                    self._workers.remove(instance)
            self._changed.notify()

    def warm(self, count: int) -> list[str]:
        """Start workers until `count` instances exist (capped at the maximum), side by side; their names."""
        wanted = min(count, self.maximum)
        with ThreadPoolExecutor(wanted) as starting:  # held together, so that each acquire needs a new one
            futures = [starting.submit(self.acquire) for _ in range(wanted)]
        held = [f.result() for f in futures if f.exception() is None]
        for instance in held:
            self.release(instance)
        for future in futures:
            future.result()  # a failed cold start, raised once the others are back in the pool
        return [instance.name for instance in held]

    def configure(self, maximum: int, spec: WorkerSpec | None) -> None:
        """A new maximum and worker spec (workers already running keep theirs until stopped)."""
        if maximum < 1 or (spec is None and (maximum > 1 or self._local is None)):
            raise ValueError(f"{self.function}: {maximum} instances need a worker spec")
        with self._changed:
            self.maximum, self._spec = maximum, spec
            self._changed.notify_all()

    def stop_workers(self, above: int = 1) -> None:
        """Stop idle workers until at most `above` instances remain (the in-process one always stays)."""
        with self._changed:
            idle = [i for i in self._free if isinstance(i, WorkerInstance)][: max(0, self._count - above)]
            for worker in idle:
                self._free.remove(worker)
                self._workers.remove(worker)
                self._count -= 1
        for worker in idle:
            worker.stop()

    @property
    def instances(self) -> int:
        return self._count
