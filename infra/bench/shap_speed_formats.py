"""Figure 1, one row group per in-process format beyond LightGBM: the bundled XGBoost and CatBoost models.

Candor's path is the served one: the runtime's `explain` (XGBoost's `pred_contribs` summed by
parts in float64; CatBoost's `ShapValues`), one thread. The Clarify-style path is
`shap.KernelExplainer` over the same model's raw margin with `nsamples = 2F + 2048` and a
10-row baseline: a seeded sample of the background rows, not k-means centroids, since a
centroid of category indexes is no category CatBoost could read. Errors are against exact SHAP
of the game each one computes: shap's own TreeSHAP for Candor (its C++ walker for XGBoost; its
TreeExplainer, which hands CatBoost models to CatBoost, for CatBoost), and for Kernel the exact
interventional values over the same baseline, from Kernel SHAP enumerating all 2^F coalitions.
"""

from __future__ import annotations

import math
import time
import warnings
from typing import Any

import numpy as np

from infra.bench.stats import Row, Summary, ratios

BASELINE_ROWS = 10
MODELS = ("refund-decision-xgboost", "refund-decision-catboost")
# XGBoost keeps its trees in float32: no explanation of it is closer to the exact values than ~1e-7.
ERROR_GOAL = {"refund-decision-xgboost": 1e-6, "refund-decision-catboost": 1e-9}


def _runtime(model_id: str) -> Any:
    from functions.adapters.in_process import load_runtime
    from functions.schemas.settings import BUNDLED_MODELS
    from functions.stores.model_registry import FolderSource, ModelRegistry

    return ModelRegistry(FolderSource(BUNDLED_MODELS), load_runtime).runtime(model_id)


def _margin_of_encoded(runtime: Any) -> Any:
    """The raw margin of rows encoded as floats (categories as their index), as Kernel SHAP needs them."""
    manifest = runtime.manifest
    if type(runtime).__name__ == "XGBoostRuntime":
        import xgboost

        def xgboost_margin(x: np.ndarray) -> np.ndarray:
            matrix = xgboost.DMatrix(x, nthread=1)
            return np.asarray(runtime.booster.predict(matrix, output_margin=True, validate_features=False))

        return xgboost_margin

    def catboost_margin(x: np.ndarray) -> np.ndarray:
        rows = [
            [
                (f.categories or [])[round(v)] if f.type == "category" else float(v)
                for f, v in zip(manifest.features, row, strict=True)
            ]
            for row in x
        ]
        return runtime.margins(rows)[:, 0]

    return catboost_margin


def _encoded(runtime: Any, inputs: dict[str, Any]) -> np.ndarray:
    from functions.adapters.in_process import encode_row

    return encode_row(runtime.manifest, inputs)


def _shap_reference(runtime: Any, inputs: list[dict[str, Any]]) -> np.ndarray:
    from infra.cli import boosted_check

    values, _ = boosted_check.reference(runtime, inputs)
    return np.asarray(values)[:, :, 0]


def compare(model_id: str, n_rows: int) -> dict[str, Any]:
    import shap

    from infra.training.synthetic import refund_requests

    runtime = _runtime(model_id)
    inputs = [r["inputs"] for r in refund_requests(n_rows, seed=606)]
    background = _background(runtime)
    rng = np.random.default_rng(606)
    baseline = np.array([_encoded(runtime, background[i]) for i in rng.choice(len(background), BASELINE_ROWS)])
    rows = np.array([_encoded(runtime, row) for row in inputs])
    margin = _margin_of_encoded(runtime)
    n_features = rows.shape[1]
    nsamples = 2 * n_features + 2048

    prediction = runtime.predict(inputs[0])
    runtime.explain(inputs[0], prediction, math.inf)  # warm-up
    candor_s: list[float] = []
    kernel_s: list[float] = []
    ours: list[np.ndarray] = []
    kernel_values: list[np.ndarray] = []
    exact_values: list[np.ndarray] = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        kernel = shap.KernelExplainer(margin, baseline, link="identity")
        for row_inputs, row in zip(inputs, rows, strict=True):
            prediction = runtime.predict(row_inputs)
            started = time.perf_counter()
            ours.append(runtime.explain(row_inputs, prediction, math.inf).attribution.values)
            candor_s.append(time.perf_counter() - started)
            started = time.perf_counter()
            found = kernel.shap_values(row[None, :], nsamples=nsamples, l1_reg=False, silent=True)
            kernel_s.append(time.perf_counter() - started)
            kernel_values.append(np.asarray(found).reshape(-1))
            every = kernel.shap_values(row[None, :], nsamples=2**n_features, l1_reg=False, silent=True)
            exact_values.append(np.asarray(every).reshape(-1))
    return {
        "nsamples": nsamples,
        "candor_s": candor_s,
        "kernel_s": kernel_s,
        "candor_error": float(np.abs(np.array(ours) - _shap_reference(runtime, inputs)).max()),
        "kernel_error": float(np.abs(np.array(kernel_values) - np.array(exact_values)).max()),
    }


def _background(runtime: Any) -> list[dict[str, Any]]:
    import json

    from functions.schemas.settings import BUNDLED_MODELS

    assert runtime.manifest.background is not None
    path = BUNDLED_MODELS / runtime.manifest.id / runtime.manifest.background.path
    return list(json.loads(path.read_text(encoding="utf-8"))["rows"])


def rows(n_rows: int) -> tuple[list[Row], bool]:
    """Figure 1's rows for each format, and whether each met its goal (>= 100x, error within its floor)."""
    out: list[Row] = []
    met = True
    for model_id in MODELS:
        result = compare(model_id, n_rows)
        speedup = Summary.of(ratios(result["kernel_s"], result["candor_s"]))
        name = f"{model_id} (12 features)"
        out += [
            Row(
                f"{name}: Candor tree_shap",
                "time per explanation (the served runtime, one thread)",
                "ms",
                Summary.of([s * 1000 for s in result["candor_s"]]),
            ),
            Row(
                f"{name}: Kernel SHAP, nsamples={result['nsamples']}",
                f"time per explanation (KernelExplainer over the raw margin, {BASELINE_ROWS} baseline rows)",
                "ms",
                Summary.of([s * 1000 for s in result["kernel_s"]]),
            ),
            Row(f"{name}: speed-up", "Kernel time / Candor time, per row", "x", speedup),
            Row(
                f"{name}: Candor max abs error",
                f"vs shap's TreeSHAP, {n_rows} rows (goal {ERROR_GOAL[model_id]:g})",
                "log-odds",
                value=result["candor_error"],
            ),
            Row(
                f"{name}: Kernel max abs error",
                f"vs Kernel SHAP over all 2^12 coalitions, {n_rows} rows",
                "log-odds",
                value=result["kernel_error"],
            ),
        ]
        met = met and speedup.median >= 100 and result["candor_error"] <= ERROR_GOAL[model_id]
    return out, met
