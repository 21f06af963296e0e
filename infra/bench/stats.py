"""Timing helpers shared by the figures: repeated, interleaved runs summarised as median and spread."""

from __future__ import annotations

import os
import platform
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any


@dataclass(frozen=True)
class Summary:
    """Median and spread of repeated measurements (p10-p90; p99 when there are enough runs)."""

    runs: int
    median: float
    p10: float
    p90: float
    p99: float | None = None

    @classmethod
    def of(cls, samples: Sequence[float]) -> Summary:
        if not samples:
            raise ValueError("no samples")
        ordered = sorted(samples)
        return cls(
            runs=len(ordered),
            median=statistics.median(ordered),
            p10=percentile(ordered, 10),
            p90=percentile(ordered, 90),
            p99=percentile(ordered, 99) if len(ordered) >= 50 else None,
        )


def percentile(ordered: Sequence[float], q: float) -> float:
    """Linear-interpolated percentile of already sorted samples."""
    if len(ordered) == 1:
        return float(ordered[0])
    pos = (len(ordered) - 1) * q / 100.0
    lo = int(pos)
    hi = min(lo + 1, len(ordered) - 1)
    return float(ordered[lo] + (ordered[hi] - ordered[lo]) * (pos - lo))


@dataclass
class Row:
    """One line of the table: what was measured, in which unit, and its summary (or a plain value)."""

    name: str
    measured: str
    unit: str
    summary: Summary | None = None
    value: float | None = None
    note: str = ""

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"name": self.name, "measured": self.measured, "unit": self.unit}
        if self.summary is not None:
            out.update(asdict(self.summary))
        if self.value is not None:
            out["value"] = self.value
        if self.note:
            out["note"] = self.note
        return out

    @property
    def headline(self) -> float | None:
        return self.summary.median if self.summary is not None else self.value


@dataclass
class Figure:
    """One numbered figure of the issue: its rows, its goal and whether the run met it."""

    number: int
    title: str
    goal: str
    rows: list[Row] = field(default_factory=list)
    goal_met: bool | None = None  # None: not measured (feature missing, or skipped in quick mode)
    notes: list[str] = field(default_factory=list)
    available: bool = True
    details: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {
            "number": self.number,
            "title": self.title,
            "goal": self.goal,
            "available": self.available,
            "goal_met": self.goal_met,
            "rows": [row.to_json() for row in self.rows],
            "notes": self.notes,
            "details": self.details,
        }


def timed(fn: Callable[[], object]) -> float:
    """Seconds one call of `fn` takes (perf_counter)."""
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def side_by_side(fns: dict[str, Callable[[], object]], runs: int, warmup: int = 1) -> dict[str, list[float]]:
    """Seconds per call of each function, run in turns (a, b, a, b ...) so that noise hits both alike."""
    for _ in range(warmup):
        for fn in fns.values():
            fn()
    samples: dict[str, list[float]] = {name: [] for name in fns}
    for _ in range(runs):
        for name, fn in fns.items():
            samples[name].append(timed(fn))
    return samples


def ratios(numerator: Sequence[float], denominator: Sequence[float]) -> list[float]:
    """Per-round ratios of paired samples (round i of one over round i of the other)."""
    return [a / b for a, b in zip(numerator, denominator, strict=True)]


def machine() -> dict[str, Any]:
    """What the figures were measured on."""
    return {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "python": sys.version.split()[0],
        "implementation": platform.python_implementation(),
        "platform": platform.platform(),
        "machine": platform.machine(),
        "processor": platform.processor() or platform.machine(),
        "cores": os.cpu_count(),
        "cores_usable": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count(),
    }
