"""Each function's deployment artifact, built here the way `sam build` builds it, without Docker.

    python -m infra.artifacts [--function LogicalId ...] [--out bench-results/artifact-sizes.json]

- Zip functions with `Metadata.BuildMethod: makefile`: `make build-<LogicalId>` with
  `ARTIFACTS_DIR` set, as `sam build` runs it (the artifact is that directory).
- Image functions: the Dockerfile named in their Metadata, emulated by `infra.artifacts.dockerfile`:
  its COPY lines from the context (`.dockerignore` applied), its `pip install` for the base
  image's platform, its compileall. The artifact is the image's file tree (`<root>/var/task`...);
  the base image itself is not part of it.

Builds are cached under `$CANDOR_BUILD_DIR/artifacts` (default `~/.cache/candor/artifacts`: outside
the repository, which `sam build` copies whole for every makefile function), keyed by a hash of
their inputs: for a make target, its commands as `make -n` prints them and the files of the
repository folders those commands name; for an image, Docker-like per instruction (the text of
each instruction and the content of what it copies), with the tree after each `pip install` kept
as a layer, so a change to `functions/` re-copies the code onto the installed dependencies instead
of installing them again. Entries are hard-linked from their layer, and the least recently used
beyond a few per kind are deleted.

`infra.artifacts.invoke` runs a handler from an artifact in a fresh interpreter.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import time
import tomllib
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Literal

from infra import template as tpl
from infra.artifacts import dockerfile as docker

REPO_ROOT = tpl.REPO_ROOT
RUNTIME_LOCK = REPO_ROOT / "requirements" / "runtime.lock"

# What Lambda's python3.11 runtime itself puts on every zip function's path besides the standard
# library: the AWS SDK and its dependencies. Emulated with the versions pinned in
# requirements/runtime.lock (hash-checked), not the ones the runtime ships at a given date, which
# AWS updates without notice and are usually older.
LAMBDA_RUNTIME_LIBRARIES = ("boto3", "botocore", "s3transfer", "jmespath", "python-dateutil", "urllib3", "six")

# Lambda's limits: a zip's unzipped size (function and layers), and an image's size.
ZIP_LIMIT_BYTES = 250 * 1024 * 1024
IMAGE_LIMIT_BYTES = 10 * 1024 * 1024 * 1024

# Libraries the small zip functions must not carry: the reason the decisions function is an image.
HEAVY_DISTRIBUTIONS = frozenset({"numpy", "scipy", "pandas", "shap", "lightgbm", "scikit-learn", "numba", "llvmlite"})

_KEEP_PER_KIND = {"zip": 8, "image": 3, "layer": 2, "runtime": 2}
_ARTIFACTS_PLACEHOLDER = "@ARTIFACTS_DIR@"


class BuildError(RuntimeError):
    """A function's artifact could not be built the way `sam build` would build it."""


def cache_dir() -> Path:
    default = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "candor"
    return Path(os.environ.get("CANDOR_BUILD_DIR") or default) / "artifacts"


@dataclass(frozen=True)
class Size:
    bytes: int
    files: int

    @property
    def mb(self) -> float:
        return self.bytes / 1024 / 1024


@dataclass(frozen=True)
class Artifact:
    """What one function runs from, as Lambda would lay it out."""

    function: str  # logical id
    kind: Literal["zip", "image"]
    recipe: str  # how it was built, in words
    root: Path  # zip: the ARTIFACTS_DIR; image: the image's root directory
    code: Path  # first on sys.path: the zip's root, or the image's working directory / LAMBDA_TASK_ROOT
    runtime_paths: tuple[Path, ...]  # after the standard library: the zip runtime's SDK; an image's site-packages
    handler: str
    python: str  # X.Y
    entrypoint_module: str | None  # an image's `python -m <module>` runtime interface client
    key: str
    cached: bool
    build_seconds: float
    distributions: frozenset[str]  # normalized names of the dist-infos in the artifact

    def size(self) -> Size:
        """Bytes and regular files the artifact adds (an image: without its base image or /tmp)."""
        return tree_size(self.root, exclude=("tmp",) if self.kind == "image" else ())


def normalize(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def tree_size(root: Path, exclude: Iterable[str] = ()) -> Size:
    skipped = {root / name for name in exclude}
    total = files = 0
    for directory, subdirectories, names in os.walk(root):
        if Path(directory) in skipped:
            subdirectories[:] = []
            continue
        for name in names:
            stat = os.lstat(os.path.join(directory, name))
            if not os.path.islink(os.path.join(directory, name)):
                total += stat.st_size
                files += 1
    return Size(total, files)


def installed_distributions(*paths: Path) -> frozenset[str]:
    """Normalized names of the distributions whose `*.dist-info` lies directly in these folders."""
    found: set[str] = set()
    for path in paths:
        if path.is_dir():
            for entry in path.glob("*.dist-info"):
                found.add(normalize(entry.name.removesuffix(".dist-info").rsplit("-", 1)[0]))
    return frozenset(found)


# ----------------------------------------------------------------------------- hashing


def _digest_files(paths: Iterable[Path], relative_to: Path) -> str:
    digest = hashlib.sha256()
    for path in sorted(set(paths)):
        digest.update(path.relative_to(relative_to).as_posix().encode() + b"\0")
        digest.update(hashlib.sha256(path.read_bytes()).digest())
    return digest.hexdigest()


def _source_files(root: Path) -> Iterator[Path]:
    if root.is_file():
        yield root
        return
    for path in root.rglob("*"):
        if path.is_file() and "__pycache__" not in path.parts:
            yield path


def _key(*parts: str) -> str:
    digest = hashlib.sha256()
    for part in parts:
        digest.update(part.encode() + b"\0")
    return digest.hexdigest()


# ------------------------------------------------------------------------------- the cache


def _entry(kind: str, key: str) -> tuple[Path, Path]:
    name = f"{kind}-{key[:24]}"
    return cache_dir() / name, cache_dir() / f"{name}.json"


def _cached(kind: str, key: str, build: Callable[[Path], dict[str, object]]) -> tuple[Path, dict[str, object], bool]:
    """The cache entry for key, built into a fresh folder by build (which returns its metadata) if absent."""
    path, record = _entry(kind, key)
    if record.exists() and path.is_dir():
        os.utime(record)  # recently used
        return path, json.loads(record.read_text(encoding="utf-8")), True
    cache_dir().mkdir(parents=True, exist_ok=True)
    scratch = cache_dir() / f".{path.name}.{os.getpid()}.tmp"
    shutil.rmtree(scratch, ignore_errors=True)
    scratch.mkdir()
    started = time.perf_counter()
    try:
        details = build(scratch)
    except BaseException:
        shutil.rmtree(scratch, ignore_errors=True)
        raise
    details = {**details, "key": key, "build_seconds": round(time.perf_counter() - started, 1)}
    shutil.rmtree(path, ignore_errors=True)
    scratch.rename(path)
    record.write_text(json.dumps(details, indent=2) + "\n", encoding="utf-8")
    _prune(kind)
    return path, details, False


def _prune(kind: str) -> None:
    records = sorted(cache_dir().glob(f"{kind}-*.json"), key=lambda p: p.stat().st_mtime, reverse=True)
    for record in records[_KEEP_PER_KIND[kind] :]:
        shutil.rmtree(record.with_suffix(""), ignore_errors=True)
        record.unlink(missing_ok=True)


def _link_tree(source: Path, destination: Path) -> None:
    """A copy of source whose files are hard links (instant, no space); writers must replace, not modify."""
    shutil.copytree(source, destination, copy_function=os.link, symlinks=True, dirs_exist_ok=True)


# --------------------------------------------------------------------- makefile functions


def _make_env(artifacts_dir: str) -> dict[str, str]:
    # The caller's make (`make test`) must not hand its jobserver or flags to this one.
    env = {k: v for k, v in os.environ.items() if k not in ("MAKEFLAGS", "MFLAGS", "MAKELEVEL", "MAKEOVERRIDES")}
    env["ARTIFACTS_DIR"] = artifacts_dir
    # The recipes' `$(PYTHON) -m pip install --target ... --platform ...`: any pip gives the same files;
    # this interpreter's is there for sure (the Makefile's default, python3, may have none).
    env["PYTHON"] = sys.executable
    return env


def _build_makefile(spec: tpl.FunctionSpec) -> Artifact:
    code_dir = (REPO_ROOT / (spec.code_uri or ".")).resolve()
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
    files = [f for source in sources for f in _source_files(source)]
    key = _key("makefile-v1", commands, _digest_files(files, code_dir))

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

    path, details, cached = _cached("zip", key, build)
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
    key = _key("runtime-v2", entries, python, tag)

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

    path, _, _ = _cached("runtime", key, build)
    return path


# ------------------------------------------------------------------------ image functions


def _image_step_keys(plan: docker.ImagePlan, context: Path, architecture: str) -> list[str]:
    """Docker-like cache keys: each step's key covers every step before it and what it copies."""
    rules = docker.dockerignore(context)
    key = _key("image-v1", plan.base_name, json.dumps(plan.base.glibc), architecture)
    keys: list[str] = []
    for step in plan.steps:
        copied = ""
        for action in step.actions:
            if isinstance(action, docker.Copy):
                files = [f for source in action.sources for f in docker.context_files(context, source, rules)]
                copied += _digest_files(files, context.resolve())
        key = _key(key, step.instruction.text, copied)
        keys.append(key)
    return keys


def _run_step(root: Path, context: Path, step: docker.PlannedStep, plan: docker.ImagePlan, architecture: str) -> None:
    for action in step.actions:
        if isinstance(action, docker.Copy):
            docker.copy_into(root, context, action)
        elif isinstance(action, docker.PipInstall):
            docker.pip_install(root, action, architecture, plan.base.glibc)
        elif isinstance(action, docker.CompileAll):
            docker.compile_all(root, action)
        # SystemPackages: the image's own libraries (libgomp...) are this machine's here.


def _save_layer(root: Path, layer: Path) -> dict[str, object]:
    _link_tree(root, layer)
    return {"recipe": "the image's tree after a pip install"}


def _build_image(spec: tpl.FunctionSpec) -> Artifact:
    context = (REPO_ROOT / (spec.docker_context or ".")).resolve()
    dockerfile = context / (spec.dockerfile or "Dockerfile")
    try:
        plan = docker.plan(dockerfile)
    except docker.UnsupportedDockerfile as error:
        raise BuildError(f"{dockerfile.relative_to(REPO_ROOT)}: {error}") from error
    keys = _image_step_keys(plan, context, spec.architecture)
    installs = [i for i, step in enumerate(plan.steps) if any(isinstance(a, docker.PipInstall) for a in step.actions)]

    def build(directory: Path) -> dict[str, object]:
        root = directory
        start = 0
        for index in reversed(installs):
            layer, record = _entry("layer", keys[index])
            if record.exists() and layer.is_dir():
                _link_tree(layer, root)
                os.utime(record)
                start = index + 1
                break
        for index in range(start, len(plan.steps)):
            try:
                _run_step(root, context, plan.steps[index], plan, spec.architecture)
            except (RuntimeError, subprocess.CalledProcessError) as error:
                where = f"{dockerfile.relative_to(REPO_ROOT)}:{plan.steps[index].instruction.line}"
                raise BuildError(f"{where} {plan.steps[index].instruction.keyword}: {error}") from error
            if index in installs:
                _cached("layer", keys[index], functools.partial(_save_layer, root))
        return {
            "recipe": f"{dockerfile.relative_to(REPO_ROOT)} on {plan.base_name}",
            "system_packages": [
                p for s in plan.steps for a in s.actions if isinstance(a, docker.SystemPackages) for p in a.packages
            ],
        }

    root, details, cached = _cached("image", keys[-1], build)
    task_root = plan.env.get("LAMBDA_TASK_ROOT", "/var/task")
    # `python -m <client>` imports from its working directory; AWS's python images from LAMBDA_TASK_ROOT.
    code = docker.host_path(root, plan.workdir if plan.entrypoint_module else task_root)
    site = plan.site_packages()
    runtime_paths = (docker.host_path(root, site),) if site and docker.host_path(root, site).is_dir() else ()
    if plan.python is None:
        raise BuildError(f"{dockerfile.relative_to(REPO_ROOT)}: the image has no Python")
    return Artifact(
        function=spec.logical_id,
        kind="image",
        recipe=str(details["recipe"]),
        root=root,
        code=code,
        runtime_paths=runtime_paths,
        handler=spec.handler,
        python=plan.python,
        entrypoint_module=plan.entrypoint_module,
        key=keys[-1],
        cached=cached,
        build_seconds=float(str(details["build_seconds"])),
        distributions=installed_distributions(code, *runtime_paths),
    )


def build(logical_id: str, dockerfile: str | None = None) -> Artifact:
    """The function's artifact as `sam build` makes it (from the cache when its inputs are unchanged).

    `dockerfile`: an image function built from another Dockerfile of its context than its Metadata names
    (the decisions function's exact image, infra/decisions-exact.Dockerfile).
    """
    spec = tpl.functions()[logical_id]
    if dockerfile is not None:
        if spec.package_type != "Image":
            raise BuildError(f"{logical_id} is not an image function: it has no Dockerfile to replace")
        spec = dataclasses.replace(spec, dockerfile=dockerfile)
    if spec.package_type == "Image":
        return _build_image(spec)
    if spec.build_method == "makefile":
        return _build_makefile(spec)
    raise BuildError(f"{logical_id}: only BuildMethod makefile and container images are emulated")


# ---------------------------------------------------------------------- what must be absent


def locked_names(*locks: Path) -> frozenset[str]:
    names = set()
    for lock in locks:
        for line in lock.read_text(encoding="utf-8").splitlines():
            if line and not line[0].isspace() and not line.startswith("#") and "==" in line:
                names.add(normalize(line.split("==")[0]))
    return frozenset(names)


def dev_only_distributions() -> frozenset[str]:
    """The dev extra of pyproject.toml and what it pulls in, less everything a runtime lock pins."""
    from infra.bench.size import closure

    project = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    dev = project["optional-dependencies"]["dev"]
    runtime = locked_names(RUNTIME_LOCK, *_image_locks())
    return frozenset(normalize(name) for name in closure(dev)) - runtime


def _image_locks() -> list[Path]:
    """Lock files the images' Dockerfiles copy in besides the runtime lock."""
    found: set[Path] = set()
    for spec in tpl.functions().values():
        if spec.package_type == "Image" and spec.dockerfile:
            context = REPO_ROOT / (spec.docker_context or ".")
            for step in docker.plan(context / spec.dockerfile).steps:
                for action in step.actions:
                    if isinstance(action, docker.Copy):
                        found.update(context / s for s in action.sources if s.endswith(".lock"))
    return sorted(found - {RUNTIME_LOCK})


def import_names(distributions: Iterable[str]) -> frozenset[str]:
    """Top-level import names of these distributions, as installed in this virtualenv."""
    wanted = {normalize(d) for d in distributions}
    names: set[str] = set()
    for module, owners in metadata.packages_distributions().items():
        if any(normalize(owner) in wanted for owner in owners) and module.isidentifier():
            names.add(module)
    return frozenset(names)


def sizes_report(artifacts: Iterable[Artifact]) -> dict[str, dict[str, object]]:
    """Per function: kind, recipe, bytes, files, MB, Lambda's limit."""
    report: dict[str, dict[str, object]] = {}
    for artifact in artifacts:
        size = artifact.size()
        limit = ZIP_LIMIT_BYTES if artifact.kind == "zip" else IMAGE_LIMIT_BYTES
        report[artifact.function] = {
            "kind": artifact.kind,
            "recipe": artifact.recipe,
            "bytes": size.bytes,
            "files": size.files,
            "mb": round(size.mb, 1),
            "limit_mb": limit // 1024 // 1024,
            "key": artifact.key[:12],
        }
    return report


def write_sizes(report: Mapping[str, Mapping[str, object]], path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(report, indent=2, sort_keys=True) + "\n", encoding="utf-8")
