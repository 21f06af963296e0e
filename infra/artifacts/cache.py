"""The content-addressed build cache: entries keyed by a hash of their inputs, built once, pruned by use.

Under `$CANDOR_BUILD_DIR/artifacts` (default `~/.cache/candor/artifacts`: outside the repository, which
`sam build` copies whole for every makefile function). An entry is a folder and its JSON record; it is
built in a scratch folder and renamed into place, so a failed or interrupted build leaves nothing
behind. The least recently used beyond a few per kind are deleted.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import time
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

_KEEP_PER_KIND = {"zip": 8, "image": 3, "layer": 2, "runtime": 2}


def cache_dir() -> Path:
    default = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "candor"
    return Path(os.environ.get("CANDOR_BUILD_DIR") or default) / "artifacts"


# ----------------------------------------------------------------------------- hashing


def digest_files(paths: Iterable[Path], relative_to: Path) -> str:
    digest = hashlib.sha256()
    for path in sorted(set(paths)):
        digest.update(path.relative_to(relative_to).as_posix().encode() + b"\0")
        digest.update(hashlib.sha256(path.read_bytes()).digest())
    return digest.hexdigest()


def source_files(root: Path) -> Iterator[Path]:
    if root.is_file():
        yield root
        return
    for path in root.rglob("*"):
        if path.is_file() and "__pycache__" not in path.parts:
            yield path


def key_of(*parts: str) -> str:
    digest = hashlib.sha256()
    for part in parts:
        digest.update(part.encode() + b"\0")
    return digest.hexdigest()


# ------------------------------------------------------------------------------- entries


def entry(kind: str, key: str) -> tuple[Path, Path]:
    """The folder and the JSON record of the entry of this kind for key (which may not exist)."""
    name = f"{kind}-{key[:24]}"
    return cache_dir() / name, cache_dir() / f"{name}.json"


def cached(kind: str, key: str, build: Callable[[Path], dict[str, object]]) -> tuple[Path, dict[str, object], bool]:
    """The cache entry for key, built into a fresh folder by build (which returns its metadata) if absent."""
    path, record = entry(kind, key)
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
    prune(kind)
    return path, details, False


def prune(kind: str) -> None:
    records = sorted(cache_dir().glob(f"{kind}-*.json"), key=lambda p: p.stat().st_mtime, reverse=True)
    for record in records[_KEEP_PER_KIND[kind] :]:
        shutil.rmtree(record.with_suffix(""), ignore_errors=True)
        record.unlink(missing_ok=True)


def link_tree(source: Path, destination: Path) -> None:
    """A copy of source whose files are hard links (instant, no space); writers must replace, not modify."""
    shutil.copytree(source, destination, copy_function=os.link, symlinks=True, dirs_exist_ok=True)
