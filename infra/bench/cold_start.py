"""Figure 3: cold start, a fresh Python process to its first answer, against a bare process of the same kind.

Each side is a new interpreter (`python -c`), timed by the parent from spawn to exit, the
pairs run in turns. Decisions: import the handler, inject the in-memory stores, answer
`events/decision-refund.json` (the model loads and explains on that first request), vs a
process that imports lightgbm, loads `models/refund-decision/model.txt` and predicts once.
Audit: import `functions.handlers.audit` and answer `GET /v1/explanations?model_id=refund-decision`
(`events/audit-list.json`) from a moto server provisioned like the local stack (one
DynamoDB Query per day of the window), vs a process that only imports boto3, Powertools
and pydantic. The catalog function's first `GET /v1/models` is measured against the same
bare process, as an extra pair (no goal of its own).
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections import defaultdict
from typing import Any

from infra.bench.middleware import ENV, bench_environment
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
AUDIT = (
    _CONTEXT
    + """
import json
from functions.handlers.audit import lambda_handler
response = lambda_handler(json.load(open("events/audit-list.json")), Context())
assert response["statusCode"] == 200, response
assert "items" in json.loads(response["body"])
"""
)
BARE_LIBRARIES = "import boto3, aws_lambda_powertools, pydantic\n"

# key: (what the function side does, its code, the bare side's code, goal or None)
PAIRS: dict[str, tuple[str, str, str, float | None]] = {
    "decisions": ("decisions function: import to first explained answer", DECISIONS, BARE_MODEL, 1.2),
    "audit": (
        "audit function: import to first GET /v1/explanations?model_id=refund-decision, against moto",
        AUDIT,
        BARE_LIBRARIES,
        1.3,
    ),
    "catalog": ("catalog function: import to first GET /v1/models (extra, no goal)", CATALOG, BARE_LIBRARIES, None),
}


def _env(aws: dict[str, str] | None = None) -> dict[str, str]:
    """The decisions side's bench environment (no AWS reached), or a provisioned stack's (`aws`)."""
    base = os.environ | (aws if aws is not None else bench_environment())
    return base | {"PYTHONPATH": str(REPO), "PYTHONDONTWRITEBYTECODE": "1"}


def run_child(code: str, *flags: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(  # noqa: S603  # our own interpreter on our own code
        [sys.executable, *flags, "-c", code], cwd=REPO, env=_env(env), capture_output=True, text=True, check=False
    )
    if result.returncode != 0:
        raise RuntimeError(f"cold-start child failed: {result.stderr[-2000:]}")
    return result


def import_breakdown(code: str, top: int = 12, env: dict[str, str] | None = None) -> list[dict[str, Any]]:
    """`python -X importtime`: own import time summed per top-level package, largest first."""
    stderr = run_child(code, "-X", "importtime", env=env).stderr
    totals: dict[str, int] = defaultdict(int)
    for match in re.finditer(r"^import time:\s+(\d+) \|\s+\d+ \| *(\S+)$", stderr, re.MULTILINE):
        own, name = match.groups()
        totals[name.split(".")[0]] += int(own)
    everything = sum(totals.values())
    ranked = sorted(totals.items(), key=lambda kv: -kv[1])[:top]
    return [{"package": name, "ms": us / 1000, "share": us / everything} for name, us in ranked]


def run(quick: bool) -> Figure:
    from infra.bench.reports_scale import moto_process
    from infra.local_aws import provision

    figure = Figure(
        3,
        "Cold start",
        "fresh process to first answer at most 1.2x a bare model process (decisions) "
        "and 1.3x a bare boto3+Powertools+pydantic process (audit)",
    )
    rounds = 1 if quick else 12
    met = True
    with moto_process() as aws_url:
        aws_env = provision(aws_url) | {k: v for k, v in ENV.items() if k.startswith("POWERTOOLS_")}
        envs = {"decisions": None, "audit": aws_env, "catalog": aws_env}
        for key, (label, code, bare, goal) in PAIRS.items():
            env = envs[key]
            samples = side_by_side(
                {
                    "function": lambda c=code, e=env: run_child(c, env=e),  # type: ignore[misc]
                    "bare": lambda b=bare: run_child(b),  # type: ignore[misc]
                },
                runs=rounds,
                warmup=0 if quick else 1,
            )
            ratio = Summary.of(ratios(samples["function"], samples["bare"]))
            figure.rows += [
                Row(f"{key}: function process", label, "ms", Summary.of([s * 1000 for s in samples["function"]])),
                Row(f"{key}: bare process", _first_line(bare), "ms", Summary.of([s * 1000 for s in samples["bare"]])),
                Row(
                    f"{key}: ratio",
                    f"function / bare, same round ({f'goal <= {goal}x' if goal else 'no goal'})",
                    "x",
                    ratio,
                ),
            ]
            if goal is not None:
                met = met and ratio.median <= goal
        if not quick:
            figure.details["import_time_decisions"] = import_breakdown(DECISIONS)
            figure.details["import_time_audit"] = import_breakdown(AUDIT, env=aws_env)
            figure.details["import_time_catalog"] = import_breakdown(CATALOG, env=aws_env)
    figure.goal_met = met
    return figure


def _first_line(code: str) -> str:
    return "; ".join(line.strip() for line in code.strip().splitlines())
