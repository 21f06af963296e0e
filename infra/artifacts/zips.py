"""Zip functions (`Metadata.BuildMethod: makefile`): `make build-<LogicalId>` with `ARTIFACTS_DIR` set,
as `sam build` runs it, and the AWS SDK that Lambda's Python runtime puts beside a zip.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Iterable
from pathlib import Path

from infra import template as tpl
from infra.artifacts import cache
from infra.artifacts.artifact import Artifact, BuildError
from infra.artifacts.distributions import RUNTIME_LOCK, installed_distributions, normalize

# What Lambda's python3.11 runtime itself puts on every zip function's path besides the standard
# library: the AWS SDK and its dependencies. Emulated with the versions pinned in
# requirements/runtime.lock (hash-checked), not the ones the runtime ships at a given date, which
# AWS updates without notice and are usually older.
LAMBDA_RUNTIME_LIBRARIES = ("boto3", "botocore", "s3transfer", "jmespath", "python-dateutil", "urllib3", "six")

_ARTIFACTS_PLACEHOLDER = "@ARTIFACTS_DIR@"


def _make_env(artifacts_dir: str) -> dict[str, str]:
    # The caller's make (`make test`) must not hand its jobserver or flags to this one.
    env = {k: v for k, v in os.environ.items() if k not in ("MAKEFLAGS", "MFLAGS", "MAKELEVEL", "MAKEOVERRIDES")}
    env["ARTIFACTS_DIR"] = artifacts_dir
    # The recipes' `$(PYTHON) -m pip install --target ... --platform ...`: any pip gives the same files;
    # this interpreter's is there for sure (the Makefile's default, python3, may have none).
    env["PYTHON"] = sys.executable
    return env


def build_makefile(spec: tpl.FunctionSpec) -> Artifact:
    code_dir = (tpl.REPO_ROOT / (spec.code_uri or ".")).resolve()
    target = f"build-{spec.logical_id}"
    dry_run = subprocess.run(  # noqa: S603
        ["make", "--no-print-directory", "-n", target],  # noqa: S607
        cwd=code_dir,
        env=_make_env(_ARTIFACTS_PLACEHOLDER),
        capture_output=True,
        text=True,
        check=False,
    )
    if dry_run.returncode != 0:
        raise BuildError(f"`sam build` would fail for {spec.logical_id}: make {target}: {dry_run.stderr.strip()}")
    commands = dry_run.stdout.replace(sys.executable, "$(PYTHON)")
    # The repository folders and files the commands name (functions/., models, ...): their content is input.
    named = {word.split("/")[0] for word in re.findall(r"[\w.][\w./-]*", commands)} - {".", ".."}
    sources = sorted(code_dir / name for name in named if (code_dir / name).exists())
    files = [f for source in sources for f in cache.source_files(source)]
    key = cache.key_of("makefile-v1", commands, cache.digest_files(files, code_dir))

    def build(directory: Path) -> dict[str, object]:
        result = subprocess.run(  # noqa: S603
            ["make", "--no-print-directory", target],  # noqa: S607
            cwd=code_dir,
            env=_make_env(str(directory)),
            capture_output=True,
            text=True,
            check=False,
        )
        if result.returncode != 0:
            raise BuildError(f"make {target} failed:\n{result.stdout[-2000:]}\n{result.stderr[-4000:]}")
        return {"recipe": f"make {target}", "commands": commands}

    path, details, cached = cache.cached("zip", key, build)
    python = (spec.runtime or "python3.11").removeprefix("python")
    return Artifact(
        function=spec.logical_id,
        kind="zip",
        recipe=f"make {target}",
        root=path,
        code=path,
        runtime_paths=(lambda_runtime_libraries(python, spec.architecture),),
        handler=spec.handler,
        python=python,
        entrypoint_module=None,
        key=key,
        cached=cached,
        build_seconds=float(str(details["build_seconds"])),
        distributions=installed_distributions(path),
    )


def _lock_entries(lock: Path, names: Iterable[str]) -> str:
    """The entries (pin and hashes) of these distributions in a uv/pip-compile lock file."""
    wanted = {normalize(name) for name in names}
    kept: list[str] = []
    keeping = False
    for line in lock.read_text(encoding="utf-8").splitlines():
        if line and not line[0].isspace() and not line.startswith("#"):
            keeping = normalize(re.split(r"[=<>!~\[ ;]", line, maxsplit=1)[0]) in wanted
        if keeping and not line.strip().startswith("#"):
            kept.append(line)
    found = {normalize(line.split("==")[0]) for line in kept if "==" in line and not line[0].isspace()}
    if found != wanted:
        raise BuildError(f"{lock.name} pins none of {sorted(wanted - found)}")
    return "\n".join(kept).rstrip(" \\") + "\n"


def lambda_runtime_libraries(python: str, architecture: str) -> Path:
    """A folder holding only what Lambda's Python runtime provides to a zip (boto3 and its dependencies)."""
    entries = _lock_entries(RUNTIME_LOCK, LAMBDA_RUNTIME_LIBRARIES)
    tag = {"x86_64": "manylinux2014_x86_64", "arm64": "manylinux2014_aarch64"}[architecture]
    key = cache.key_of("runtime-v2", entries, python, tag)

    def build(directory: Path) -> dict[str, object]:
        requirements = directory.parent / f".{directory.name}.requirements.txt"
        requirements.write_text(entries, encoding="utf-8")
        command = [sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check"]
        command += ["--target", str(directory), "--require-hashes", "--no-deps", "--only-binary=:all:"]
        command += ["--platform", tag, "--python-version", python, "--implementation", "cp", "-r", str(requirements)]
        result = subprocess.run(command, capture_output=True, text=True, check=False)  # noqa: S603
        requirements.unlink()
        if result.returncode != 0:
            raise BuildError(f"installing Lambda's runtime libraries failed:\n{result.stderr[-4000:]}")
        return {"recipe": "Lambda runtime's boto3 (versions of requirements/runtime.lock)"}

    path, _, _ = cache.cached("runtime", key, build)
    return path
