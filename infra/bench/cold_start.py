"""Figure 3: cold start, a fresh Python process to its first answer, against a bare process of the same kind.

Each side is a new interpreter (`python -c`), timed by the parent from spawn to exit, the
pairs run in turns. Decisions: import the handler, inject the in-memory stores, answer
`events/decision-refund.json` (the model loads and explains on that first request), vs a
process that imports lightgbm, loads `models/refund-decision/model.txt` and predicts once.
The audit function does not exist yet, so the small-zip figure is the catalog function's
first `GET /v1/models` answer, vs a process that only imports boto3, Powertools and pydantic.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections import defaultdict
from typing import Any

from infra.bench.middleware import bench_environment
from infra.bench.profile import REPO
from infra.bench.stats import Figure, Row, Summary, ratios, side_by_side

_CONTEXT = """
class Context:
    function_name = "bench"; memory_limit_in_mb = 1024; aws_request_id = "cold-1"; function_version = "$LATEST"
    invoked_function_arn = "arn:aws:lambda:eu-west-1:123456789012:function:bench"
    def get_remaining_time_in_millis(self): return 30000
"""

DECISIONS = (
    _CONTEXT
    + """
import contextlib, json
from infra.bench.middleware import in_memory_handler
with in_memory_handler() as (handler, _), contextlib.redirect_stdout(None):
    response = handler(json.load(open("events/decision-refund.json")), Context())
assert response["statusCode"] == 200, response
assert json.loads(response["body"])["explanation"]
"""
)
BARE_MODEL = """
import lightgbm, numpy
booster = lightgbm.Booster(model_file="models/refund-decision/model.txt")
booster.predict(numpy.zeros((1, booster.num_feature())))
"""
CATALOG = (
    _CONTEXT
    + """
import json
from functions.handlers.catalog import lambda_handler
response = lambda_handler(json.load(open("events/models.json")), Context())
assert response["statusCode"] == 200, response
"""
)
BARE_LIBRARIES = "import boto3, aws_lambda_powertools, pydantic\n"

PAIRS = {
    "decisions": ("decisions function: import to first explained answer", DECISIONS, BARE_MODEL, 1.2),
    "catalog": ("catalog function (stands in for audit): import to first GET /v1/models", CATALOG, BARE_LIBRARIES, 1.3),
}


def _env() -> dict[str, str]:
    return os.environ | bench_environment() | {"PYTHONPATH": str(REPO), "PYTHONDONTWRITEBYTECODE": "1"}


def run_child(code: str, *flags: str) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(  # noqa: S603  # our own interpreter on our own code
        [sys.executable, *flags, "-c", code], cwd=REPO, env=_env(), capture_output=True, text=True, check=False
    )
    if result.returncode != 0:
        raise RuntimeError(f"cold-start child failed: {result.stderr[-2000:]}")
    return result


def import_breakdown(code: str, top: int = 12) -> list[dict[str, Any]]:
    """`python -X importtime`: own import time summed per top-level package, largest first."""
    stderr = run_child(code, "-X", "importtime").stderr
    totals: dict[str, int] = defaultdict(int)
    for match in re.finditer(r"^import time:\s+(\d+) \|\s+\d+ \| *(\S+)$", stderr, re.MULTILINE):
        own, name = match.groups()
        totals[name.split(".")[0]] += int(own)
    everything = sum(totals.values())
    ranked = sorted(totals.items(), key=lambda kv: -kv[1])[:top]
    return [{"package": name, "ms": us / 1000, "share": us / everything} for name, us in ranked]


def run(quick: bool) -> Figure:
    figure = Figure(
        3,
        "Cold start",
        "fresh process to first answer at most 1.2x a bare model process (decisions) "
        "and 1.3x a bare boto3+Powertools+pydantic process (audit; measured: catalog)",
    )
    figure.notes.append(
        "The audit function does not exist yet: the second pair measures the catalog function, the other small zip."
    )
    rounds = 1 if quick else 12
    met = True
    for key, (label, code, bare, goal) in PAIRS.items():
        samples = side_by_side(
            {"function": lambda c=code: run_child(c), "bare": lambda b=bare: run_child(b)},  # type: ignore[misc]
            runs=rounds,
            warmup=0 if quick else 1,
        )
        ratio = Summary.of(ratios(samples["function"], samples["bare"]))
        figure.rows += [
            Row(f"{key}: function process", label, "ms", Summary.of([s * 1000 for s in samples["function"]])),
            Row(f"{key}: bare process", _first_line(bare), "ms", Summary.of([s * 1000 for s in samples["bare"]])),
            Row(f"{key}: ratio", f"function / bare, same round (goal <= {goal}x)", "x", ratio),
        ]
        met = met and ratio.median <= goal
    figure.goal_met = met
    if not quick:
        figure.details["import_time_decisions"] = import_breakdown(DECISIONS)
        figure.details["import_time_catalog"] = import_breakdown(CATALOG)
    return figure


def _first_line(code: str) -> str:
    return "; ".join(line.strip() for line in code.strip().splitlines())
