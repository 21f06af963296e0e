"""Figure 3: cold start, a fresh Python process to its first answer, against a bare process of the same kind.

Each side is a new interpreter (`python -c`), timed by the parent from spawn to exit, the
pairs run in turns. Decisions: import the handler, inject the in-memory stores, answer
`events/decision-refund.json` (the model loads and explains on that first request), vs a
process that imports lightgbm, loads `models/refund-decision/model.txt` and predicts once;
twice: as in the black-box image (this virtualenv: shap's stack installed, so `import lightgbm`
also imports scikit-learn and pandas on both sides) and as in the exact image (both sides
with the `black-box` extra's modules made unimportable, `in_exact_image`).
Audit: import `functions.handlers.audit` and answer `GET /v1/explanations?model_id=refund-decision`
(`events/audit-list.json`) from a moto server provisioned like the local stack (one
DynamoDB Query per day of the window), vs a process that only imports boto3, Powertools
and pydantic. The catalog function's first `GET /v1/models` and the customer function's
first page request (a forged link token: 403) are measured against the same bare process.
"""

from __future__ import annotations

import functools
import os
import re
import subprocess
import sys
import tomllib
from collections import defaultdict
from dataclasses import dataclass
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

# Prepended to a child's code: the modules of `hidden` cannot be imported, as in an image built without
# them. Each attempt is recorded with the top-level package of the module that tried (`NOT_IN_IMAGE.tried`).
_HIDE = """
import importlib.abc, sys
class _NotInThisImage(importlib.abc.MetaPathFinder):
    def __init__(self, hidden):
        self.hidden, self.tried = frozenset(hidden), {{}}
    def find_spec(self, name, path=None, target=None):
        top = name.partition(".")[0]
        if top not in self.hidden:
            return None
        frame = sys._getframe(1)
        while frame is not None and frame.f_code.co_filename.startswith("<frozen"):
            frame = frame.f_back
        importer = frame.f_globals.get("__name__", "?") if frame is not None else "?"
        self.tried.setdefault(top, set()).add(importer.partition(".")[0])
        raise ModuleNotFoundError(f"No module named {{name!r}} (not in this image)", name=name)
NOT_IN_IMAGE = _NotInThisImage({hidden!r})
sys.meta_path.insert(0, NOT_IN_IMAGE)
"""


CUSTOMER = (
    _CONTEXT
    + """
import json
from functions.handlers.customer import lambda_handler
response = lambda_handler(json.load(open("events/customer-view-bad-token.json")), Context())
assert response["statusCode"] == 403, response
"""
)


@functools.cache
def black_box_only_modules() -> frozenset[str]:
    """Import names of what only the `black-box` extra brings (shap and its stack), not the exact path's needs."""
    from infra.artifacts.distributions import import_names
    from infra.bench.size import closure

    project = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    core = closure(project["dependencies"])
    with_extra = closure(project["dependencies"] + project["optional-dependencies"]["black-box"])
    return import_names(with_extra - core)


def in_exact_image(code: str) -> str:
    """`code` run as in the exact-models decisions image: shap's stack is not installed."""
    return _HIDE.format(hidden=sorted(black_box_only_modules())) + code


@dataclass(frozen=True)
class Pair:
    """One function's cold start against a bare process of the same kind, both in the same environment."""

    label: str  # what the function side does
    code: str
    bare: str
    goal: float | None
    on_moto: bool = False  # the function side reaches a moto server provisioned like the local stack
    bare_label: str = ""  # the bare side in words, when its code is not one short line

    def bare_words(self) -> str:
        return self.bare_label or "; ".join(line.strip() for line in self.bare.strip().splitlines())


def pairs() -> dict[str, Pair]:
    exact = "the same, with shap's stack not importable (as in the exact image)"
    return {
        "decisions": Pair(
            "decisions function, black-box image (shap's stack installed): import to first exact answer",
            DECISIONS,
            BARE_MODEL,
            1.2,
        ),
        "decisions-exact": Pair(
            "decisions function, exact image (shap's stack not importable, both sides): import to first exact answer",
            in_exact_image(DECISIONS),
            in_exact_image(BARE_MODEL),
            1.2,
            bare_label=f"import lightgbm, load the model, predict once: {exact}",
        ),
        "audit": Pair(
            "audit function: import to first GET /v1/explanations?model_id=refund-decision, against moto",
            AUDIT,
            BARE_LIBRARIES,
            1.3,
            on_moto=True,
        ),
        "catalog": Pair("catalog function: import to first GET /v1/models", CATALOG, BARE_LIBRARIES, 1.3, True),
        "customer": Pair(
            "customer function: import to first GET /v1/explanations/{id}/view (a forged token: 403), against moto",
            CUSTOMER,
            BARE_LIBRARIES,
            1.3,
            on_moto=True,
        ),
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
    from infra.local.aws import provision

    figure = Figure(
        3,
        "Cold start",
        "fresh process to first answer at most 1.2x a bare model process (decisions, exact models) "
        "and 1.3x a bare boto3+Powertools+pydantic process (audit, catalog, customer)",
    )
    rounds = 1 if quick else 12
    met = True
    with moto_process() as aws_url:
        aws_env = provision(aws_url) | {k: v for k, v in ENV.items() if k.startswith("POWERTOOLS_")}
        for key, pair in pairs().items():
            env = aws_env if pair.on_moto else None
            samples = side_by_side(
                {
                    "function": lambda c=pair.code, e=env: run_child(c, env=e),  # type: ignore[misc]
                    "bare": lambda b=pair.bare: run_child(b),  # type: ignore[misc]
                },
                runs=rounds,
                warmup=0 if quick else 1,
            )
            ratio = Summary.of(ratios(samples["function"], samples["bare"]))
            figure.rows += [
                Row(f"{key}: function process", pair.label, "ms", Summary.of([s * 1000 for s in samples["function"]])),
                Row(f"{key}: bare process", pair.bare_words(), "ms", Summary.of([s * 1000 for s in samples["bare"]])),
                Row(
                    f"{key}: ratio",
                    f"function / bare, same round ({f'goal <= {pair.goal}x' if pair.goal else 'no goal'})",
                    "x",
                    ratio,
                ),
            ]
            if pair.goal is not None:
                met = met and ratio.median <= pair.goal
        if not quick:
            figure.details["import_time_decisions"] = import_breakdown(DECISIONS)
            figure.details["import_time_decisions_exact"] = import_breakdown(in_exact_image(DECISIONS))
            figure.details["import_time_audit"] = import_breakdown(AUDIT, env=aws_env)
            figure.details["import_time_catalog"] = import_breakdown(CATALOG, env=aws_env)
            figure.details["import_time_customer"] = import_breakdown(CUSTOMER, env=aws_env)
    figure.goal_met = met
    return figure
