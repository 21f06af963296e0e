"""Where a call's time goes: cProfile, own time summed per component (package or Candor module)."""

from __future__ import annotations

import cProfile
import pstats
import sysconfig
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
STDLIB = Path(sysconfig.get_paths()["stdlib"]).resolve()


def component(filename: str, function: str) -> str:
    """`functions.api`, `explainers`, `pydantic`, `stdlib json`, `builtins` ... for one profiled function."""
    if filename == "~" or filename.startswith("<"):
        return "builtins / C calls" if "method" in function or "built-in" in function else "builtins"
    path = Path(filename).resolve()
    if "site-packages" in path.parts:
        return path.parts[path.parts.index("site-packages") + 1].removesuffix(".py")
    if path.is_relative_to(REPO):
        parts = path.relative_to(REPO).with_suffix("").parts
        return ".".join(parts[:2]) if parts[0] in {"functions", "infra"} else parts[0]
    if path.is_relative_to(STDLIB):
        return f"stdlib {path.relative_to(STDLIB).parts[0].removesuffix('.py')}"
    return path.name


def profile_calls(
    call: Callable[[], object], calls: int, stages: dict[str, tuple[str, str]] | None = None, top: int = 12
) -> dict[str, Any]:
    """Profile `calls` calls: per-call own time by component, the cumulative time of named `stages`
    (label -> (file path ending, function name)), and the functions with most cumulative time."""
    profiler = cProfile.Profile()
    profiler.enable()
    for _ in range(calls):
        call()
    profiler.disable()
    stats: dict[Any, Any] = pstats.Stats(profiler).stats  # type: ignore[attr-defined]
    own: dict[str, float] = defaultdict(float)
    cumulative: list[tuple[float, str]] = []
    for (filename, line, function), (_, _, tottime, cumtime, _) in stats.items():
        own[component(filename, function)] += tottime
        cumulative.append((cumtime, f"{_short(filename)}:{line}({function})"))
    total = sum(own.values())
    staged = {
        label: 1000 * sum(v[3] for (f, _, name), v in stats.items() if f.endswith(suffix) and name == function) / calls
        for label, (suffix, function) in (stages or {}).items()
    }
    by_component = sorted(own.items(), key=lambda kv: -kv[1])[:top]
    return {
        "tool": "cProfile",
        "calls": calls,
        "profiled_ms_per_call": 1000 * total / calls,
        "stages_ms_per_call": staged,
        "own_time_by_component": [
            {"component": name, "ms_per_call": 1000 * t / calls, "share": t / total} for name, t in by_component
        ],
        "top_cumulative": [
            {"function": name, "ms_per_call": 1000 * t / calls, "share": t / total}
            for t, name in sorted(cumulative, reverse=True)[: top * 2]
        ],
    }


def _short(filename: str) -> str:
    path = Path(filename)
    if "site-packages" in path.parts:
        return "/".join(path.parts[path.parts.index("site-packages") + 1 :])
    if path.is_absolute() and path.is_relative_to(REPO):
        return str(path.relative_to(REPO))
    return filename
