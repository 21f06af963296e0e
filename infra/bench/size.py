"""Figure 7: installed size of each function's dependency closure, against Lambda's 250 MB unzipped limit.

Decisions: the runtime dependencies of pyproject.toml with its `black-box` extra (the black-box
image, infra/decisions.Dockerfile) and without it (decisions-exact: infra/decisions-exact.Dockerfile).
Catalog: what the Makefile's `build-CatalogFunction` installs. Full mode installs each with
`pip install --target` for Lambda's platform (manylinux2014_x86_64, CPython 3.11), as that recipe
does; quick mode (and full mode without an index) sums the same closure from this virtualenv's
installed files.
Both leave out `__pycache__`, as the recipe deletes it.
"""

from __future__ import annotations

import re
import subprocess
import sys
import tempfile
import tomllib
from importlib import metadata
from pathlib import Path

from packaging.requirements import Requirement

from infra.bench.profile import REPO
from infra.bench.stats import Figure, Row

LIMIT_MB = 250.0
ZIP_PLATFORM = "manylinux2014_x86_64"  # the Makefile's build-CatalogFunction
MUST_NOT_NEED = {"shap", "numpy", "lightgbm", "scipy", "pandas", "scikit-learn"}


def decisions_requirements(black_box: bool = True) -> list[str]:
    """The decisions image's requirements: pyproject's runtime dependencies, with the `black-box` extra or not."""
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    extra = project["optional-dependencies"]["black-box"] if black_box else []
    return list(project["dependencies"]) + list(extra)


def catalog_requirements() -> list[str]:
    recipe = (REPO / "Makefile").read_text().split("build-CatalogFunction:", 1)[1].split("\n\n", 1)[0]
    return re.findall(r'"([A-Za-z][^"$]*)"', recipe)


def closure(requirements: list[str]) -> set[str]:
    """Installed distributions needed by `requirements` (with extras), by normalised name."""
    seen: set[str] = set()
    pending = [Requirement(r) for r in requirements]
    while pending:
        requirement = pending.pop()
        name = _normal(requirement.name)
        key = f"{name}[{','.join(sorted(requirement.extras))}]"
        if key in seen:
            continue
        seen.add(key)
        seen.add(name)
        for text in metadata.requires(name) or []:
            child = Requirement(text)
            environments = [{"extra": extra} for extra in requirement.extras] or [{"extra": ""}]
            if child.marker is None or any(child.marker.evaluate(env) for env in environments):
                pending.append(child)
    return {key for key in seen if "[" not in key}


def venv_size_mb(names: set[str]) -> float:
    total = 0
    for name in names:
        for file in metadata.distribution(name).files or []:
            path = Path(str(file.locate()))
            if "__pycache__" not in path.parts and "site-packages" in path.parts and path.is_file():
                total += path.stat().st_size
    return total / 1e6


def pip_target_size_mb(requirements: list[str], platforms: tuple[str, ...]) -> float:
    with tempfile.TemporaryDirectory(prefix="candor-size-") as target:
        flags = [arg for platform in platforms for arg in ("--platform", platform)]
        done = subprocess.run(  # noqa: S603  # our own interpreter's pip
            [sys.executable, "-m", "pip", "install", "--quiet", "--target", target, *flags,
             "--implementation", "cp", "--python-version", "3.11", "--only-binary=:all:", *requirements],
            check=False, capture_output=True, text=True, timeout=600,
        )  # fmt: skip
        if done.returncode != 0:
            raise OSError(done.stderr.strip().splitlines()[-1] if done.stderr.strip() else "pip failed")
        files = (p for p in Path(target).rglob("*") if p.is_file() and "__pycache__" not in p.parts)
        return sum(p.stat().st_size for p in files) / 1e6


def _normal(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def run(quick: bool) -> Figure:
    figure = Figure(
        7,
        "Deployment size",
        f"each function's dependencies against Lambda's {LIMIT_MB:.0f} MB unzipped limit; "
        "the small functions need no shap, numpy or model library",
    )
    met = True
    image_platforms = (ZIP_PLATFORM, "manylinux_2_28_x86_64")
    for function, requirements, small, platforms in (
        # LightGBM 4 ships manylinux_2_28 wheels only: the decisions image is not a manylinux2014 zip anyway.
        ("decisions", decisions_requirements(), False, image_platforms),
        ("decisions-exact", decisions_requirements(black_box=False), False, image_platforms),
        ("catalog", catalog_requirements(), True, (ZIP_PLATFORM,)),
    ):
        names = closure(requirements)
        local = venv_size_mb(names)
        figure.rows.append(
            Row(
                f"{function}: closure in this venv",
                f"{len(names)} distributions: {' '.join(requirements)}",
                "MB",
                value=local,
            )
        )
        if not quick:
            try:
                size = pip_target_size_mb(requirements, platforms)
                where = ", ".join(platforms) + ", cp311"
                figure.rows.append(Row(f"{function}: pip install --target", where, "MB", value=size))
            except (subprocess.SubprocessError, OSError) as error:
                figure.notes.append(f"{function}: pip install --target failed ({error}); the venv figure stands")
        size = figure.rows[-1].value or local
        verdict = "fits the zip limit" if size <= LIMIT_MB else "needs the container image"
        figure.notes.append(f"{function}: {size:.0f} MB of {LIMIT_MB:.0f} MB, {verdict}")
        heavy = sorted(MUST_NOT_NEED & names)
        if small:
            figure.notes.append(f"{function}: heavy libraries in the closure: {heavy or 'none'}")
            met = met and not heavy and size <= LIMIT_MB
    figure.goal_met = met
    return figure
