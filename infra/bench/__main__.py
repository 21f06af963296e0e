"""Runner: every figure in turn, then the table on stdout and the results as JSON (and markdown)."""

from __future__ import annotations

import argparse
import json
import sys
import time
import traceback
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path

from infra.bench import (
    black_box,
    cold_start,
    latency,
    middleware,
    partitions,
    reports_scale,
    shap_speed,
    size,
    throughput,
)
from infra.bench.report import markdown, results, text
from infra.bench.stats import Figure, Row, machine

FIGURES: list[tuple[int, str, Callable[[bool], Figure]]] = [
    (1, "exact vs Clarify-style SHAP", shap_speed.run),
    (2, "middleware tax", middleware.run),
    (3, "cold start", cold_start.run),
    (4, "black-box explanation", black_box.run),
    (5, "reports at scale", reports_scale.run),
    (6, "local stack throughput", throughput.run),
    (7, "deployment size", size.run),
    (8, "partitions", partitions.run),
    (9, "chat-turn latency under an AWS latency model", latency.run),
]


def run_figure(number: int, name: str, run: Callable[[bool], Figure], quick: bool) -> Figure:
    """The figure, or one that says it failed and why (the other figures still run; goal_met stays None)."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            figure = run(quick)
        if figure.number != number:
            raise ValueError(f"figure {number} came back numbered {figure.number}")
        return figure
    except Exception as error:
        traceback.print_exc()
        figure = Figure(number, name, "-")
        figure.rows.append(Row(name, f"FAILED: {type(error).__name__}: {error}"[:300], "-"))
        return figure


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m infra.bench", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="few runs of each figure: checks the bench, in seconds")
    parser.add_argument("--out", type=Path, default=Path("bench-results/results.json"))
    parser.add_argument("--markdown", type=Path, help="also write the table as markdown (default: next to --out)")
    args = parser.parse_args(argv)
    command = "python -m infra.bench" + (" --quick" if args.quick else "")
    figures: list[Figure] = []
    for number, name, run in FIGURES:
        started = time.perf_counter()
        print(f"[bench] {name} ...", file=sys.stderr, flush=True)
        figures.append(run_figure(number, name, run, args.quick))
        print(f"[bench] {name}: {time.perf_counter() - started:.1f} s", file=sys.stderr, flush=True)
    data = results(figures, machine(), command, args.quick)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
    md_path = args.markdown or args.out.with_suffix(".md")
    md_path.write_text(markdown(data, figures), encoding="utf-8")
    print(text(data, figures))
    print(f"\nwrote {args.out} and {md_path}", file=sys.stderr)
    return 1 if any(f.available and f.goal_met is None for f in figures) else 0


if __name__ == "__main__":
    raise SystemExit(main())
