"""A Lambda image's file tree as its Dockerfile builds it, without Docker.

Only the instructions an image of this project needs are understood, and anything else stops
the build with a message naming it, so a change to the Dockerfile is followed or refused,
never silently skipped:

- `FROM` one of the base images in `BASE_IMAGES` (their glibc decides which Linux wheels fit);
- `COPY` from the build context (with `.dockerignore` applied) into the image;
- `RUN` made of `&&`-joined commands: `pip install` (run here with pip's `--platform` tags of the
  base image's glibc, `--python-version`, `--implementation cp` and `--only-binary=:all:`),
  `python -m compileall`, and system package installs (`dnf`, `yum`, `microdnf`), which are
  recorded but cannot be reproduced (the test runs with this machine's system libraries), and `rm`;
- `WORKDIR`, `ENV`, `ARG`, `ENTRYPOINT`, `CMD`, `LABEL`.

The image's root is a directory here; container paths map below it (`/var/task` -> `<root>/var/task`).
"""

from __future__ import annotations

import json
import re
import shlex
import shutil
import subprocess
import sys
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath


class UnsupportedDockerfile(ValueError):
    """The Dockerfile uses something this emulation does not reproduce."""


@dataclass(frozen=True)
class BaseImage:
    """What a base image brings that matters to the files built on it."""

    glibc: tuple[int, int]  # decides the manylinux wheels its pip accepts
    python: str | None  # the Python of an AWS python image; None on an OS-only image
    env: Mapping[str, str] = field(default_factory=dict)

    @property
    def site_packages(self) -> str | None:
        """Where the AWS python image's `pip install` without --target puts packages."""
        return f"/var/lang/lib/python{self.python}/site-packages" if self.python else None


_LAMBDA_ENV = {"LAMBDA_TASK_ROOT": "/var/task", "LAMBDA_RUNTIME_DIR": "/var/runtime"}

# Amazon Linux 2 has glibc 2.26, Amazon Linux 2023 glibc 2.34 (AWS's Lambda base image tables).
BASE_IMAGES: Mapping[str, BaseImage] = {
    "public.ecr.aws/lambda/python:3.11": BaseImage((2, 26), "3.11", _LAMBDA_ENV),
    "public.ecr.aws/lambda/python:3.12": BaseImage((2, 34), "3.12", _LAMBDA_ENV),
    "public.ecr.aws/lambda/python:3.13": BaseImage((2, 34), "3.13", _LAMBDA_ENV),
    "public.ecr.aws/lambda/provided:al2": BaseImage((2, 26), None, _LAMBDA_ENV),
    "public.ecr.aws/lambda/provided:al2023": BaseImage((2, 34), None, _LAMBDA_ENV),
}

# dnf's python3.X on Amazon Linux 2023 installs packages for root here (pip without --target).
_DNF_SITE_PACKAGES = "/usr/local/lib/python{version}/site-packages"

_PIP_FLAGS_KEPT = {"--require-hashes", "--no-deps", "--no-compile", "--only-binary=:all:"}
_PIP_FLAGS_DROPPED = {"--no-cache-dir", "-q", "--quiet", "--upgrade", "-U", "--disable-pip-version-check"}


@dataclass(frozen=True)
class Instruction:
    keyword: str  # upper case
    arguments: str
    line: int

    @property
    def text(self) -> str:
        return f"{self.keyword} {self.arguments}"


def parse(text: str) -> list[Instruction]:
    """The instructions of a Dockerfile: comments dropped, continuation lines joined."""
    found: list[Instruction] = []
    pending: list[str] = []
    start = 0
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not pending and (not line or line.startswith("#")):
            continue
        if pending and line.startswith("#"):
            continue  # a comment inside a continued instruction
        if not pending:
            start = number
        if line.endswith("\\"):
            pending.append(line[:-1].strip())
            continue
        pending.append(line)
        joined = " ".join(part for part in pending if part)
        pending = []
        keyword, _, arguments = joined.partition(" ")
        found.append(Instruction(keyword.upper(), arguments.strip(), start))
    if pending:
        raise UnsupportedDockerfile(f"line {start}: a continuation line ends the file")
    return found


def glibc_platforms(glibc: tuple[int, int], architecture: str) -> list[str]:
    """pip `--platform` tags of a Linux with this glibc: manylinux_2_N down to 2_5, the legacy aliases, linux."""
    arch = {"x86_64": "x86_64", "arm64": "aarch64", "aarch64": "aarch64"}[architecture]
    major, minor = glibc
    tags = [f"manylinux_{major}_{m}_{arch}" for m in range(minor, 4, -1)]
    legacy = {(2, 17): "manylinux2014", (2, 12): "manylinux2010", (2, 5): "manylinux1"}
    tags += [f"{name}_{arch}" for (lmajor, lminor), name in legacy.items() if (lmajor, lminor) <= glibc]
    return [*tags, f"linux_{arch}"]


# --------------------------------------------------------------------------- .dockerignore


def _ignore_regex(pattern: str) -> re.Pattern[str]:
    pattern = pattern.strip().lstrip("/")
    out = ""
    index = 0
    while index < len(pattern):
        if pattern.startswith("**/", index):
            out += "(?:.*/)?"
            index += 3
        elif pattern.startswith("**", index):
            out += ".*"
            index += 2
        elif pattern[index] == "*":
            out += "[^/]*"
            index += 1
        elif pattern[index] == "?":
            out += "[^/]"
            index += 1
        else:
            out += re.escape(pattern[index])
            index += 1
    # A pattern that names a directory excludes everything below it.
    return re.compile(f"^{out}(?:/.*)?$")


def dockerignore(context: Path) -> list[tuple[bool, re.Pattern[str]]]:
    """(negated, pattern) rules of `<context>/.dockerignore`, in order (the last match wins)."""
    path = context / ".dockerignore"
    rules: list[tuple[bool, re.Pattern[str]]] = []
    if not path.exists():
        return rules
    for raw in path.read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        negated = line.startswith("!")
        rules.append((negated, _ignore_regex(line[1:] if negated else line)))
    return rules


def ignored(relative: str, rules: Sequence[tuple[bool, re.Pattern[str]]]) -> bool:
    verdict = False
    for negated, regex in rules:
        if regex.match(relative):
            verdict = not negated
    return verdict


def context_files(context: Path, source: str, rules: Sequence[tuple[bool, re.Pattern[str]]]) -> Iterator[Path]:
    """The files a `COPY <source>` sends from the context, sorted, `.dockerignore` applied."""
    base = (context / source).resolve()
    if not base.is_relative_to(context.resolve()):
        raise UnsupportedDockerfile(f"COPY {source}: outside the build context")
    if not base.exists():
        raise UnsupportedDockerfile(f"COPY {source}: no such file in the build context")
    candidates = [base] if base.is_file() else sorted(p for p in base.rglob("*") if p.is_file())
    for path in candidates:
        if not ignored(path.relative_to(context.resolve()).as_posix(), rules):
            yield path


# ------------------------------------------------------------------------------- the plan


@dataclass(frozen=True)
class Copy:
    sources: tuple[str, ...]  # relative to the context
    destination: str  # container path


@dataclass(frozen=True)
class PipInstall:
    python: str  # X.Y of the interpreter that runs pip in the image
    target: str  # container path the packages go to
    requirement_files: tuple[str, ...]  # container paths
    requirements: tuple[str, ...]  # specifiers on the command line
    flags: tuple[str, ...]


@dataclass(frozen=True)
class CompileAll:
    directories: tuple[str, ...]  # container paths


@dataclass(frozen=True)
class SystemPackages:
    manager: str
    packages: tuple[str, ...]


Step = Copy | PipInstall | CompileAll | SystemPackages


@dataclass(frozen=True)
class PlannedStep:
    instruction: Instruction
    actions: tuple[Step, ...]


@dataclass(frozen=True)
class ImagePlan:
    """What a Dockerfile does, step by step, and how the image starts."""

    base_name: str
    base: BaseImage
    steps: tuple[PlannedStep, ...]
    env: Mapping[str, str]
    workdir: str
    entrypoint: tuple[str, ...]
    cmd: tuple[str, ...]
    python: str | None  # X.Y of the image's Python (the base's, or the one a package install added)

    @property
    def entrypoint_module(self) -> str | None:
        """`python -m <module>` in ENTRYPOINT (a runtime interface client), if that is how it starts."""
        words = list(self.entrypoint)
        if "-m" in words and words.index("-m") + 1 < len(words) and "python" in PurePosixPath(words[0]).name:
            return words[words.index("-m") + 1]
        return None

    def site_packages(self) -> str | None:
        if self.base.site_packages:
            return self.base.site_packages
        return _DNF_SITE_PACKAGES.format(version=self.python) if self.python else None


def _expand(text: str, env: Mapping[str, str]) -> str:
    def value(match: re.Match[str]) -> str:
        name = match.group(1) or match.group(2)
        if name not in env:
            raise UnsupportedDockerfile(f"${name} is not defined (ENV/ARG or the base image)")
        return env[name]

    return re.sub(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}|\$([A-Za-z_][A-Za-z0-9_]*)", value, text)


def _json_or_shell(arguments: str) -> tuple[str, ...]:
    stripped = arguments.strip()
    if stripped.startswith("["):
        return tuple(str(word) for word in json.loads(stripped))
    return ("/bin/sh", "-c", stripped)


def _python_version(word: str, fallback: str | None) -> str | None:
    match = re.fullmatch(r"(?:.*/)?(?:python|pip)(\d+\.\d+)", word)
    return match.group(1) if match else fallback


def _pip_install(words: list[str], python: str | None, site_packages: str | None, workdir: str) -> PipInstall:
    version = _python_version(words[0], python)
    if version is None:
        raise UnsupportedDockerfile(f"{' '.join(words)}: which Python runs this pip?")
    rest = words[words.index("install") + 1 :]
    target: str | None = None
    files: list[str] = []
    requirements: list[str] = []
    flags: list[str] = []
    index = 0
    while index < len(rest):
        word = rest[index]
        if word in ("-t", "--target", "-r", "--requirement"):
            if index + 1 >= len(rest):
                raise UnsupportedDockerfile(f"pip install: {word} without a value")
            value = rest[index + 1]
            index += 2
            if word in ("-t", "--target"):
                target = value
            else:
                files.append(str(PurePosixPath(workdir) / value))
            continue
        if word.startswith("--target="):
            target = word.partition("=")[2]
        elif word.startswith("--requirement="):
            files.append(str(PurePosixPath(workdir) / word.partition("=")[2]))
        elif word in _PIP_FLAGS_KEPT:
            flags.append(word)
        elif word in _PIP_FLAGS_DROPPED:
            pass  # output and cache only: the installed files are the same
        elif word.startswith("-"):
            raise UnsupportedDockerfile(f"pip install {word}: not understood; teach infra/artifacts/dockerfile.py")
        else:
            requirements.append(word)
        index += 1
    if target is None:
        if site_packages is None:
            raise UnsupportedDockerfile("pip install without --target on an image whose site-packages is unknown")
        target = site_packages
    target = str(PurePosixPath(workdir) / target)
    return PipInstall(version, target, tuple(files), tuple(requirements), tuple(flags))


def _run_actions(command: str, python: str | None, base: BaseImage, workdir: str) -> tuple[list[Step], str | None]:
    """The actions of one RUN, and the image's Python after it (a package install may add one)."""
    actions: list[Step] = []
    for part in command.split("&&"):
        words = shlex.split(part)
        if not words:
            continue
        program = PurePosixPath(words[0]).name
        if program in ("dnf", "yum", "microdnf"):
            if "install" in words:
                packages = tuple(w for w in words[words.index("install") + 1 :] if not w.startswith("-"))
                actions.append(SystemPackages(program, packages))
                python = next((v for v in (_python_version(p, None) for p in packages) if v), python)
            elif "clean" not in words:
                raise UnsupportedDockerfile(f"RUN {part.strip()}: only installs and cleans of system packages")
        elif program == "rm":
            continue  # removes build leftovers (a copied lock in /tmp); not reproduced
        elif "pip" in words[:3] or re.fullmatch(r"pip(\d+(\.\d+)?)?", program):
            if "install" not in words:
                raise UnsupportedDockerfile(f"RUN {part.strip()}: only `pip install`")
            site = base.site_packages or (_DNF_SITE_PACKAGES.format(version=python) if python else None)
            actions.append(_pip_install(words, python, site, workdir))
        elif words[1:3] == ["-m", "compileall"]:
            actions.append(CompileAll(tuple(w for w in words[3:] if not w.startswith("-"))))
        else:
            raise UnsupportedDockerfile(f"RUN {part.strip()}: not understood; teach infra/artifacts/dockerfile.py")
    return actions, python


def plan(dockerfile: Path) -> ImagePlan:
    """Read a Dockerfile into the steps that make its file tree."""
    instructions = parse(dockerfile.read_text(encoding="utf-8"))
    if not instructions or instructions[0].keyword not in ("FROM", "ARG"):
        raise UnsupportedDockerfile("a Dockerfile starts with FROM")
    froms = [i for i in instructions if i.keyword == "FROM"]
    if len(froms) != 1:
        raise UnsupportedDockerfile("one FROM (multi-stage builds are not emulated)")
    base_name = froms[0].arguments.split()[0]
    if base_name not in BASE_IMAGES:
        raise UnsupportedDockerfile(f"FROM {base_name}: unknown base image; add its glibc to BASE_IMAGES")
    base = BASE_IMAGES[base_name]
    env: dict[str, str] = dict(base.env)
    workdir = "/"
    entrypoint: tuple[str, ...] = ()
    cmd: tuple[str, ...] = ()
    python = base.python
    steps: list[PlannedStep] = []
    for instruction in instructions:
        keyword, arguments = instruction.keyword, instruction.arguments
        if keyword in ("FROM", "LABEL"):
            continue
        if keyword in ("ENV", "ARG"):
            name, _, value = arguments.partition("=") if "=" in arguments.split()[0] else arguments.partition(" ")
            env[name.strip()] = _expand(value.strip().strip('"'), env) if value else env.get(name.strip(), "")
        elif keyword == "WORKDIR":
            workdir = str(PurePosixPath(workdir) / _expand(arguments, env))
        elif keyword == "ENTRYPOINT":
            entrypoint = _json_or_shell(arguments)
        elif keyword == "CMD":
            cmd = _json_or_shell(arguments)
        elif keyword == "COPY":
            words = [_expand(w, env) for w in shlex.split(arguments)]
            if any(w.startswith("--") for w in words):
                raise UnsupportedDockerfile(f"line {instruction.line}: COPY flags are not emulated")
            if len(words) < 2:
                raise UnsupportedDockerfile(f"line {instruction.line}: COPY <source>... <destination>")
            destination = str(PurePosixPath(workdir) / words[-1]) + ("/" if words[-1].endswith("/") else "")
            steps.append(PlannedStep(instruction, (Copy(tuple(words[:-1]), destination),)))
        elif keyword == "RUN":
            command = _expand(" ".join(_json_or_shell(arguments)[2:]) if arguments.startswith("[") else arguments, env)
            actions, python = _run_actions(command, python, base, workdir)
            steps.append(PlannedStep(instruction, tuple(actions)))
        else:
            raise UnsupportedDockerfile(f"line {instruction.line}: {keyword} is not emulated")
    return ImagePlan(base_name, base, tuple(steps), env, workdir, entrypoint, cmd, python)


# --------------------------------------------------------------------------- executing it


def host_path(root: Path, container_path: str) -> Path:
    """Where a container path of the image lies in its root directory here."""
    return root / container_path.lstrip("/")


def copy_into(root: Path, context: Path, step: Copy) -> None:
    rules = dockerignore(context)
    many = len(step.sources) > 1
    for source in step.sources:
        base = (context / source).resolve()
        for path in context_files(context, source, rules):
            if base.is_dir():
                destination = host_path(root, step.destination) / path.relative_to(base)
            elif step.destination.endswith("/") or many:
                destination = host_path(root, step.destination) / path.name
            else:
                destination = host_path(root, step.destination)
            destination.parent.mkdir(parents=True, exist_ok=True)
            # A new file, never a write into an existing one: the tree may hard-link a cached layer's.
            destination.unlink(missing_ok=True)
            shutil.copy2(path, destination)


def pip_install(root: Path, step: PipInstall, architecture: str, glibc: tuple[int, int]) -> None:
    """`pip install` as the image's pip would do it, for the image's platform, from this machine."""
    platforms = [flag for tag in glibc_platforms(glibc, architecture) for flag in ("--platform", tag)]
    command = [
        sys.executable,
        "-m",
        "pip",
        "install",
        "--quiet",
        "--disable-pip-version-check",
        "--target",
        str(host_path(root, step.target)),
        *platforms,
        "--python-version",
        step.python,
        "--implementation",
        "cp",
        # No compiler here for another platform: a requirement without a fitting wheel fails,
        # where the image's pip might try its sources.
        "--only-binary=:all:",
        *[flag for flag in step.flags if flag != "--only-binary=:all:"],
    ]
    for requirement_file in step.requirement_files:
        command += ["-r", str(host_path(root, requirement_file))]
    command += list(step.requirements)
    result = subprocess.run(command, capture_output=True, text=True, check=False)  # noqa: S603
    if result.returncode != 0:
        errors = "\n".join(line for line in result.stderr.splitlines() if not line.startswith("WARNING: Location"))
        raise RuntimeError(f"pip install for the image failed (glibc {glibc[0]}.{glibc[1]}):\n{errors[-4000:]}")


def compile_all(root: Path, step: CompileAll) -> None:
    for directory in step.directories:
        target = host_path(root, directory)
        # -s/-p: record the image's paths in the .pyc files, not this machine's.
        subprocess.run(  # noqa: S603
            [sys.executable, "-m", "compileall", "-q", "-s", str(root), "-p", "/", str(target)],
            check=True,
            capture_output=True,
        )
