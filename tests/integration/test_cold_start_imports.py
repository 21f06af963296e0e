"""A cold start imports only what its path needs (issue 13): checked on the modules loaded, not on timings.

Each case is a fresh interpreter that imports a function's handler and answers its first sample
event(s) against a moto server provisioned like the local stack, with tracing off as the bench runs
it; then the top-level modules in `sys.modules` are compared with what that function must not load.
The decisions function is also run as in its exact image: with shap's stack made unimportable, the
exact models still answer, and only LightGBM probes for the optional scikit-learn and pandas.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from infra.bench.cold_start import in_exact_image
from infra.local.aws import MotoEndpoint, provision, reset_moto, start_moto

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[2]
SHAP_STACK = {"shap", "numba", "llvmlite", "pandas", "sklearn"}
# Never at cold start with tracing off (functions/tracing.py), nor Powertools' OpenAPI document models.
EVERYWHERE = {"aws_xray_sdk"}
MODEL_LIBRARIES = {"numpy", "scipy", "lightgbm", "explainers", *SHAP_STACK}

CHILD = """
import contextlib, io, json, sys
class Context:
    function_name = "cold"; memory_limit_in_mb = 1024; aws_request_id = "cold-1"; function_version = "$LATEST"
    invoked_function_arn = "arn:aws:lambda:eu-west-1:123456789012:function:cold"
    def get_remaining_time_in_millis(self): return 30000
from functions.handlers.{module} import lambda_handler
statuses = []
for name in {events!r}:
    with contextlib.redirect_stdout(io.StringIO()):
        response = lambda_handler(json.load(open("events/" + name)), Context())
    statuses.append(response.get("statusCode", 200))
hider = globals().get("NOT_IN_IMAGE")  # set by in_exact_image's prelude
from pydantic_settings import BaseSettings
settings = sys.modules.get("functions.schemas.settings")
print(json.dumps({{
    "settings_built": sorted(
        name for name, kind in vars(settings).items()
        if isinstance(kind, type) and issubclass(kind, BaseSettings) and kind is not BaseSettings
        and kind.__pydantic_complete__
    ) if settings else [],
    "statuses": statuses,
    "modules": sorted({{name.partition(".")[0] for name in sys.modules}}),
    "tried": {{name: sorted(importers) for name, importers in hider.tried.items()}} if hider else {{}},
    "openapi": "aws_lambda_powertools.event_handler.openapi.models" in sys.modules,
}}))
"""


@pytest.fixture(scope="module")
def aws() -> Iterator[dict[str, str]]:
    endpoint: MotoEndpoint = start_moto()
    try:
        reset_moto(endpoint.url)
        yield provision(endpoint.url)
    finally:
        endpoint.stop()


def cold_start(module: str, events: list[str], aws: dict[str, str], *, exact_image: bool = False) -> dict:
    code = CHILD.format(module=module, events=events)
    env = os.environ | aws | {"POWERTOOLS_TRACE_DISABLED": "true", "PYTHONPATH": str(REPO)}
    env.pop("LAMBDA_TASK_ROOT", None)
    done = subprocess.run(  # this interpreter on a constant snippet
        [sys.executable, "-c", in_exact_image(code) if exact_image else code],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


# The settings classes whose validators a function's first answer builds (functions/schemas/settings.py
# defers each until it is read): none of the other functions' at import.
SETTINGS_READ = {
    "catalog": ["CatalogSettings"],
    "audit": ["AuditSettings", "CatalogSettings"],
    "customer": ["CatalogSettings", "CustomerSettings"],
    "decisions": ["CatalogSettings", "DecisionSettings"],
}


@pytest.mark.parametrize(
    ("module", "events", "statuses"),
    [
        ("catalog", ["models.json"], [200]),
        ("audit", ["audit-list.json"], [200]),
        ("customer", ["customer-view-bad-token.json"], [403]),
        ("privacy", ["privacy-legal-hold.json"], [404]),
        ("integrity", ["integrity-schedule.json"], [200]),
        ("rollups", ["records-stream.json"], [200]),
    ],
)
def test_small_functions_load_no_model_library_no_xray_and_no_openapi_models(module, events, statuses, aws):
    started = cold_start(module, events, aws)
    assert started["statuses"] == statuses
    assert not set(started["modules"]) & (MODEL_LIBRARIES | EVERYWHERE)
    assert started["openapi"] is False
    if module in SETTINGS_READ:
        assert started["settings_built"] == SETTINGS_READ[module]


def test_decisions_exact_models_load_no_shap_stack_and_no_xray(aws):
    # In this virtualenv shap's stack is installed, so LightGBM imports scikit-learn and pandas itself;
    # Candor's own exact path must not reach for shap, numba or llvmlite, nor the X-Ray SDK.
    started = cold_start("decisions", ["decision-refund.json", "decision-ticket-router-en.json"], aws)
    assert started["statuses"] == [200, 200]
    assert not set(started["modules"]) & ({"shap", "numba", "llvmlite"} | EVERYWHERE)
    assert started["openapi"] is False
    assert started["settings_built"] == SETTINGS_READ["decisions"]


def test_decisions_exact_models_answer_in_the_exact_image(aws):
    started = cold_start("decisions", ["decision-refund.json", "decision-ticket-router-en.json"], aws, exact_image=True)
    assert started["statuses"] == [200, 200]
    assert not set(started["modules"]) & (SHAP_STACK | EVERYWHERE)
    # Only LightGBM looks for its optional scikit-learn and pandas integrations; nothing of Candor's does.
    assert {importer for importers in started["tried"].values() for importer in importers} <= {"lightgbm"}
