"""Run inside a fresh interpreter whose path holds only a function's artifact: what Lambda's runtime does.

    python -I -S -B infra/artifacts/bootstrap.py <spec.json>

Standard library only, and nothing of the repository is importable (`-I`: no script folder, no
user site, no PYTHON* variables; `-S`: no site-packages; `-B`: no .pyc written, /var/task is
read-only in Lambda). `sys.path` becomes [the artifact's code] + the standard library + [what the
runtime adds] as the spec says; then the handler is imported as the runtime interface client
imports it, and called once per event with a context like the one Lambda passes (its
`memory_limit_in_mb` is a string, as awslambdaric reads it from the environment). Results go
to the spec's `results` file as JSON; the handler's own output (logs, metrics) stays on stdout.
"""

from __future__ import annotations

import importlib
import importlib.util
import json
import os
import sys
import time
import traceback
import uuid
from typing import Any


class Identity:
    cognito_identity_id = None
    cognito_identity_pool_id = None


class Context:
    """The attributes of awslambdaric's LambdaContext."""

    def __init__(self, request_id: str, arn: str, deadline_ms: int) -> None:
        self.aws_request_id = request_id
        self.log_group_name = os.environ.get("AWS_LAMBDA_LOG_GROUP_NAME")
        self.log_stream_name = os.environ.get("AWS_LAMBDA_LOG_STREAM_NAME")
        self.function_name = os.environ.get("AWS_LAMBDA_FUNCTION_NAME")
        self.memory_limit_in_mb = os.environ.get("AWS_LAMBDA_FUNCTION_MEMORY_SIZE")
        self.function_version = os.environ.get("AWS_LAMBDA_FUNCTION_VERSION")
        self.invoked_function_arn = arn
        self.tenant_id = None
        self.client_context = None
        self.identity = Identity()
        self._deadline_ms = deadline_ms

    def get_remaining_time_in_millis(self) -> int:
        return max(0, self._deadline_ms - int(time.time() * 1000))


def _error(error: BaseException) -> dict[str, str]:
    return {
        "type": type(error).__name__,
        "module": type(error).__module__,
        "message": str(error)[:2000],
        "traceback": "".join(traceback.format_exception(error))[-8000:],
    }


def _findable(name: str) -> bool:
    try:
        return importlib.util.find_spec(name) is not None
    except (ImportError, ValueError):
        return False


def _import_handler(dotted: str) -> Any:
    """As awslambdaric's bootstrap does: `module.function`, slashes in the module allowed."""
    module_name, function_name = dotted.rsplit(".", 1)
    module = importlib.import_module(module_name.replace("/", "."))
    return getattr(module, function_name)


def _outside(roots: list[str]) -> list[str]:
    """Modules loaded from anywhere but the allowed folders (the artifact, the runtime's, the stdlib)."""
    found = []
    for name, module in list(sys.modules.items()):
        path = getattr(module, "__file__", None)
        if name in ("__main__", "__mp_main__") or not path:  # this script (multiprocessing aliases it)
            continue
        real = os.path.realpath(path)
        if not any(real == root or real.startswith(root + os.sep) for root in roots):
            found.append(f"{name}: {real}")
    return sorted(found)


def main(spec_path: str) -> None:
    with open(spec_path, encoding="utf-8") as stream:
        spec = json.load(stream)
    stdlib = list(sys.path)
    sys.path[:] = [*spec["front"], *stdlib, *spec["back"]]
    report: dict[str, Any] = {
        "python": list(sys.version_info[:3]),
        "executable": sys.executable,
        "sys_path": list(sys.path),
        "stdlib": stdlib,
        "flags": {"isolated": sys.flags.isolated, "no_site": sys.flags.no_site},
        "findable_forbidden": sorted(name for name in spec["forbidden"] if _findable(name)),
        "entrypoint_error": None,
        "init_error": None,
        "invocations": [],
    }
    results = spec["results"]

    def save() -> None:
        report["modules_outside"] = _outside([os.path.realpath(p) for p in sys.path if p])
        report["top_level_modules"] = sorted({name.split(".")[0] for name in sys.modules})
        with open(results, "w", encoding="utf-8") as stream:
            json.dump(report, stream)

    module = spec.get("entrypoint_module")
    if module:
        # The image's ENTRYPOINT is `python -m <module>`: it must import from the image's files.
        try:
            found = importlib.util.find_spec(module)
            main_module = f"{module}.__main__" if found and found.submodule_search_locations else module
            importlib.import_module(main_module)
        except BaseException as error:
            report["entrypoint_error"] = _error(error)

    started = time.perf_counter()
    try:
        handler = _import_handler(spec["handler"])
    except BaseException as error:
        report["init_error"] = _error(error)
        save()
        return
    report["init_ms"] = round((time.perf_counter() - started) * 1000, 1)

    for invocation in spec["events"]:
        request_id = str(uuid.uuid4())
        now_ms = int(time.time() * 1000)
        trace = f"Root=1-{now_ms // 1000:08x}-{uuid.uuid4().hex[:24]};Parent={uuid.uuid4().hex[:16]};Sampled=1"
        os.environ["_X_AMZN_TRACE_ID"] = trace  # set per invocation, as the runtime does
        context = Context(request_id, spec["arn"], now_ms + int(spec["timeout_s"] * 1000))
        entry: dict[str, Any] = {"name": invocation["name"]}
        started = time.perf_counter()
        try:
            response = handler(invocation["event"], context)
            entry["response"] = json.loads(json.dumps(response))  # what the runtime serializes
        except BaseException as error:
            entry["error"] = _error(error)
        entry["ms"] = round((time.perf_counter() - started) * 1000, 1)
        report["invocations"].append(entry)
    save()


if __name__ == "__main__":
    main(sys.argv[1])
