"""What a built artifact is: the files a function runs from, laid out as Lambda lays them out, and their size."""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal


class BuildError(RuntimeError):
    """A function's artifact could not be built the way `sam build` would build it."""


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
