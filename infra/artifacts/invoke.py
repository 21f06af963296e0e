"""Invoke a function's handler from its built artifact, in a fresh interpreter, against an AWS endpoint (moto).

The child is this machine's Python 3.11 without its virtualenv, run as `python -I -S -B`
(`infra/artifacts/bootstrap.py`): its `sys.path` is the artifact's code, the standard library, and,
for a zip, a folder with only the AWS SDK that Lambda's python runtime provides. Its environment is
the one Lambda gives the function: the template's variables (Globals and the function's own,
resolved to the moto resources), Lambda's reserved variables (function name, memory, task root,
X-Ray daemon address...) and nothing of this shell's. Files may be written to its /tmp only: the
artifact is compared before and after the run.
"""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from infra import template as tpl
from infra.artifacts.artifact import Artifact
from infra.local.aws import ACCOUNT_ID, REGION

BOOTSTRAP = Path(__file__).resolve().parent / "bootstrap.py"

# What `provision()` adds besides the template's variables: credentials, region, the local endpoint.
_ACCOUNT_VARIABLES = (
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_DEFAULT_REGION",
    "AWS_REGION",
    "AWS_ENDPOINT_URL",
)


def base_interpreter() -> Path:
    """This Python without the virtualenv around it (the same binary the venv links to)."""
    return Path(getattr(sys, "_base_executable", sys.executable))


@dataclass
class Outcome:
    """What one child run reported, and what it printed."""

    report: dict[str, Any]
    stdout: str
    stderr: str
    returncode: int
    seconds: float
    changed_files: list[str]
    xray_datagrams: int
    invocations: dict[str, dict[str, Any]] = field(init=False)

    def __post_init__(self) -> None:
        self.invocations = {entry["name"]: entry for entry in self.report.get("invocations", [])}

    def log_records(self) -> list[dict[str, Any]]:
        """The JSON lines the handler printed (Powertools' logs and metrics)."""
        records = []
        for line in self.stdout.splitlines():
            if line.startswith("{"):
                try:
                    records.append(json.loads(line))
                except json.JSONDecodeError:
                    continue
        return records

    def logged_exceptions(self) -> list[dict[str, Any]]:
        """Log records that carry an exception (Powertools' `logger.exception`)."""
        return [record for record in self.log_records() if "exception_name" in record or "exception" in record]

    def explain(self) -> str:
        """Enough of the child's output to see why a run failed."""
        return f"exit {self.returncode}\n--- stderr\n{self.stderr[-6000:]}\n--- stdout\n{self.stdout[-4000:]}"


def lambda_environment(artifact: Artifact, aws_env: Mapping[str, str], scratch: Path, xray_port: int) -> dict[str, str]:
    """The variables Lambda sets for this function, with the template's resolved by `provision()`."""
    spec = tpl.functions()[artifact.function]
    declared = set(tpl.function_environment()) | set(tpl.own_environment()[artifact.function])
    env = {name: aws_env[name] for name in sorted(declared | set(_ACCOUNT_VARIABLES)) if name in aws_env}
    env.update(
        {
            "AWS_LAMBDA_FUNCTION_NAME": artifact.function,
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(spec.memory_mb),
            "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
            "AWS_LAMBDA_LOG_GROUP_NAME": f"/aws/lambda/{artifact.function}",
            "AWS_LAMBDA_LOG_STREAM_NAME": "2026/01/01/[$LATEST]0123456789abcdef",
            "AWS_LAMBDA_INITIALIZATION_TYPE": "on-demand",
            "LAMBDA_TASK_ROOT": str(artifact.code),
            "LAMBDA_RUNTIME_DIR": str(artifact.runtime_paths[0] if artifact.runtime_paths else artifact.code),
            "_HANDLER": artifact.handler,
            "AWS_XRAY_CONTEXT_MISSING": "LOG_ERROR",
            "AWS_XRAY_DAEMON_ADDRESS": f"127.0.0.1:{xray_port}",
            "_AWS_XRAY_DAEMON_ADDRESS": "127.0.0.1",
            "_AWS_XRAY_DAEMON_PORT": str(xray_port),
            "TZ": ":UTC",
            "LANG": "en_US.UTF-8",
            "PATH": "/usr/local/bin:/usr/bin:/bin",
            # Lambda's /tmp; no shared AWS config or credentials files from this machine.
            "TMPDIR": str(scratch),
            "HOME": str(scratch),
            "AWS_CONFIG_FILE": str(scratch / "no-aws-config"),
            "AWS_SHARED_CREDENTIALS_FILE": str(scratch / "no-aws-credentials"),
        }
    )
    if artifact.kind == "zip":
        env["AWS_EXECUTION_ENV"] = f"AWS_Lambda_python{artifact.python}"
    return env


def _snapshot(paths: Iterable[Path]) -> dict[str, tuple[int, int]]:
    found: dict[str, tuple[int, int]] = {}
    for root in paths:
        for path in root.rglob("*"):
            stat = path.lstat()
            found[str(path)] = (stat.st_size, stat.st_mtime_ns)
    return found


def _drain(sink: socket.socket) -> int:
    count = 0
    sink.setblocking(False)
    while True:
        try:
            sink.recv(65536)
        except BlockingIOError:
            return count
        count += 1


def run(
    artifact: Artifact,
    events: Sequence[tuple[str, Mapping[str, Any]]],
    aws_env: Mapping[str, str],
    *,
    forbidden_imports: Iterable[str] = (),
    timeout_s: float = 900,
) -> Outcome:
    """Import the artifact's handler in a fresh interpreter and call it with each (name, event), in order."""
    spec = tpl.functions()[artifact.function]
    watched = [artifact.root, *artifact.runtime_paths]
    before = _snapshot(watched)
    with (
        tempfile.TemporaryDirectory(prefix="candor-lambda-tmp-") as scratch_name,
        socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as xray_sink,
    ):
        scratch = Path(scratch_name)
        xray_sink.bind(("127.0.0.1", 0))
        results = scratch / ".results.json"
        spec_path = scratch / ".spec.json"
        spec_path.write_text(
            json.dumps(
                {
                    "front": [str(artifact.code)],
                    "back": [str(p) for p in artifact.runtime_paths],
                    "handler": artifact.handler,
                    "entrypoint_module": artifact.entrypoint_module,
                    "forbidden": sorted(forbidden_imports),
                    "events": [{"name": name, "event": event} for name, event in events],
                    "arn": f"arn:aws:lambda:{REGION}:{ACCOUNT_ID}:function:{artifact.function}",
                    "timeout_s": spec.timeout_s,
                    "results": str(results),
                }
            ),
            encoding="utf-8",
        )
        env = lambda_environment(artifact, aws_env, scratch, xray_sink.getsockname()[1])
        started = time.perf_counter()
        completed = subprocess.run(  # noqa: S603
            [str(base_interpreter()), "-I", "-S", "-B", str(BOOTSTRAP), str(spec_path)],
            cwd=artifact.code,
            env=env,
            capture_output=True,
            text=True,
            timeout=timeout_s,
            check=False,
        )
        seconds = time.perf_counter() - started
        report = json.loads(results.read_text(encoding="utf-8")) if results.exists() else {}
        datagrams = _drain(xray_sink)
    after = _snapshot(watched)
    changed = sorted(path for path in before.keys() | after.keys() if before.get(path) != after.get(path))
    return Outcome(report, completed.stdout, completed.stderr, completed.returncode, seconds, changed, datagrams)
