"""Which Python distributions an artifact holds, which the locks pin, and which must stay out of it."""

from __future__ import annotations

import re
import tomllib
from collections.abc import Iterable
from importlib import metadata
from pathlib import Path

from infra import template as tpl
from infra.artifacts import dockerfile as docker

RUNTIME_LOCK = tpl.REPO_ROOT / "requirements" / "runtime.lock"

# Libraries the small zip functions must not carry: the reason the decisions function is an image.
HEAVY_DISTRIBUTIONS = frozenset({"numpy", "scipy", "pandas", "shap", "lightgbm", "scikit-learn", "numba", "llvmlite"})


def normalize(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def installed_distributions(*paths: Path) -> frozenset[str]:
    """Normalized names of the distributions whose `*.dist-info` lies directly in these folders."""
    found: set[str] = set()
    for path in paths:
        if path.is_dir():
            for entry in path.glob("*.dist-info"):
                found.add(normalize(entry.name.removesuffix(".dist-info").rsplit("-", 1)[0]))
    return frozenset(found)


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

    project = tomllib.loads((tpl.REPO_ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    dev = project["optional-dependencies"]["dev"]
    runtime = locked_names(RUNTIME_LOCK, *_image_locks())
    return frozenset(normalize(name) for name in closure(dev)) - runtime


def _image_locks() -> list[Path]:
    """Lock files the images' Dockerfiles copy in besides the runtime lock."""
    found: set[Path] = set()
    for spec in tpl.functions().values():
        if spec.package_type == "Image" and spec.dockerfile:
            context = tpl.REPO_ROOT / (spec.docker_context or ".")
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
