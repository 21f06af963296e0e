"""One Lambda execution environment, locally: a process that serves one function, one event at a time.

The gateway (`infra.local.instances`) starts it with the `spawn` start method, so it begins as a fresh
interpreter, as a new Lambda instance does: the function's environment is set, stdout goes to the
function's log file (as CloudWatch Logs gets it), the local hooks are installed (the S3 answers
of `infra.local.s3_semantics`, any recorder a test adds), and then the handler is imported: that is the
instance's cold start, and a broken import ends it before it takes any event. Then it answers
events read from a pipe, each inside `infra.local.invocation.running(function)`, until the pipe closes.

Messages are JSON text both ways, as Lambda's Runtime API carries them: a response that is not
JSON-serializable is the function's error (Lambda's `Runtime.MarshalError`), not the gateway's.
"""

from __future__ import annotations

import contextlib
import importlib
import json
import os
import sys
import traceback
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

# Local hooks a worker installs before its cold start: dotted paths of callables that take the
# template path and return a context manager held open for the worker's life.
WorkerHook = str


@dataclass(frozen=True)
class WorkerSpec:
    """What a worker needs to become an instance of one function (picklable, for `spawn`)."""

    function: str  # logical id in template.yaml
    handler: str  # dotted path
    environ: dict[str, str]  # the function's environment (the local stack's provisioned names)
    log_file: str | None  # the function's log file; None leaves stdout alone
    template_path: str
    hooks: tuple[WorkerHook, ...] = field(default=())
    timeout_scale: float = 1.0  # read by the gateway's side (`infra.local.instances`)
    log_stream: str = "local"  # this instance's log stream, as each Lambda instance has its own


def _hook(dotted: str, template_path: str) -> contextlib.AbstractContextManager[Any]:
    module, _, name = dotted.rpartition(".")
    factory: Any = getattr(importlib.import_module(module), name)
    return factory(template_path)  # type: ignore[no-any-return,unused-ignore]


def serve(connection: Connection, spec: WorkerSpec) -> None:
    """The worker's main: cold start, then one event at a time until the gateway closes the pipe."""
    os.environ.update(spec.environ)
    if spec.log_file:  # Powertools binds its handler to sys.stdout at import: redirect before the import
        Path(spec.log_file).parent.mkdir(parents=True, exist_ok=True)
        sys.stdout = open(spec.log_file, "a", buffering=1)  # noqa: SIM115 - open for the process's life
    with contextlib.ExitStack() as hooks:
        try:
            for dotted in spec.hooks:
                hooks.enter_context(_hook(dotted, spec.template_path))
            from infra.local.lambda_runtime import import_handler

            handler = import_handler(spec.handler)
        except BaseException:
            connection.send(json.dumps({"init_error": traceback.format_exc()}))
            return
        connection.send(json.dumps({"ready": os.getpid()}))
        _loop(connection, spec, handler)


def _loop(connection: Connection, spec: WorkerSpec, handler: Any) -> None:
    from infra.local.invocation import running
    from infra.local.lambda_runtime import LambdaContext

    while True:
        try:
            message = json.loads(connection.recv())
        except (EOFError, OSError):  # the gateway stopped this instance
            return
        context = LambdaContext.from_fields({**message["context"], "log_stream_name": spec.log_stream})
        try:
            with running(spec.function):
                result = handler(message["event"], context)
            answer = json.dumps({"result": result})
        except Exception:
            answer = json.dumps({"error": traceback.format_exc()})
        finally:
            sys.stdout.flush()
        connection.send(answer)
