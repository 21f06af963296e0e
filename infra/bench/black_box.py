"""Figure 4: black-box explanation of the bundled refund-decision model, served over HTTPS on 127.0.0.1.

The model (LightGBM, 12 features) runs behind `infra.local.model_server` and Candor reaches it
only through the https_endpoint adapter (`functions.adapters.remote`). Candor's side is
`BlackBoxRuntime` (permutation SHAP, record/replay, budget 2000 rows, 10 sampled
background rows, `max_batch_rows` 2000), and again on Clarify's own game (one baseline
row, Clarify's row count as the budget) for a like-for-like error. The Clarify-style
side, measured in the same run over the same adapter, is shap's KernelExplainer the way
SageMaker Clarify's online explainability runs it: nsamples = 2F + 2048, one baseline
row (the background mean), shap calling the model itself. All explain the log-odds of
"approve".

Errors are max abs differences against exact SHAP computed from the booster: exact
interventional TreeSHAP over the same background (the very game each sampler estimates,
so the gap is sampling error alone) and path-dependent TreeSHAP (LightGBM pred_contrib,
what Candor's in-process runtime returns: a different game, so the gap is informational).
"""

from __future__ import annotations

import json
import math
import time
from typing import Any

import numpy as np

from infra.bench.stats import Figure, Row, Summary

BUDGET = 2000
BACKGROUND_SIZE = 10
BATCH_ROWS = 2000


class Counting:
    """Counts the rows that go through a BatchModel (and mirrors its request count)."""

    def __init__(self, model: Any) -> None:
        self.model = model
        self.rows = 0
        self.requests_sent = 0

    def __call__(self, rows: Any, deadline: float) -> np.ndarray:
        self.rows += len(rows)
        try:
            return np.asarray(self.model(rows, deadline))
        finally:
            self.requests_sent = int(self.model.requests_sent)


def _adapter(server: Any) -> dict[str, Any]:
    from functions.domain.seal import sha256_hex

    return {
        "type": "https_endpoint",
        "url": server.url("/invocations"),
        "ca_bundle": {"path": "model-ca.pem", "sha256": sha256_hex(server.ca_pem)},
        "response_path": "predictions[*].score",
        "max_batch_rows": BATCH_ROWS,
        "timeout_seconds": 30,
    }


def _manifest(
    adapter: dict[str, Any],
    budget: int = BUDGET,
    background_size: int = BACKGROUND_SIZE,
    method: str = "permutation_shap",
) -> Any:
    from infra.local.model_server import remote_manifest

    manifest = remote_manifest("refund-decision", adapter)
    explainer = {
        "method": method,
        "max_evaluations": budget,
        "background_size": background_size,
        "background_summary": "sample",
        "seed": 0,
    }
    return manifest.model_copy(update={"explainer": manifest.explainer.model_validate(explainer)})


def run(quick: bool) -> Figure:
    figure = Figure(
        4,
        "Black-box explanation",
        "at most 2 model calls per explanation over the HTTPS adapter on 127.0.0.1, error vs exact TreeSHAP",
    )
    n_rows = 3 if quick else 20
    from functions.adapters.remote import remote_model
    from infra.local.model_server import ModelServer, refund_decision_predict

    with ModelServer(refund_decision_predict(), output_key="score") as server:
        manifest = _manifest(_adapter(server))
        model = remote_model(manifest, {"model-ca.pem": server.ca_pem}.__getitem__)
        result = measure(manifest, model, n_rows)
        # Clarify's own game (one baseline row) at Clarify's row count: the like-for-like comparison,
        # with Candor's permutation sampler and with Kernel SHAP itself driven through the replay.
        budget = result["clarify_nsamples"] + 2
        for method in ("permutation_shap", "kernel_shap"):
            same_game = _manifest(_adapter(server), budget=budget, background_size=1, method=method)
            result.update(_prefixed(f"same_game_{method}_", candor(same_game, Counting(model), n_rows)))
        from infra.bench import black_box_artifact  # the same endpoint, explained from its pinned model file

        artifact_rows = black_box_artifact.rows(server, _adapter(server), n_rows)
    transport = "HTTPS adapter -> infra.local.model_server on 127.0.0.1"
    _rows(figure, result, transport, n_rows)
    figure.rows += artifact_rows
    figure.details = {k: v for k, v in result.items() if not k.endswith("_s")}
    one_call = artifact_rows[0].summary is not None and artifact_rows[0].summary.p90 <= 1
    figure.goal_met = result["candor_calls_max"] <= 2 and one_call and (artifact_rows[2].value or 0.0) <= 1e-9
    return figure


def _workload(manifest: Any, n_rows: int) -> tuple[Any, list[dict[str, Any]], list[dict[str, Any]], np.ndarray]:
    """The booster (for exact SHAP), the background rows, the requests and their encoded rows."""
    import lightgbm

    from functions.adapters.in_process import encode_row
    from functions.schemas.settings import BUNDLED_MODELS
    from infra.training.synthetic import refund_requests

    folder = BUNDLED_MODELS / "refund-decision"
    booster = lightgbm.Booster(model_file=str(folder / "model.txt"))
    background = json.loads((folder / "background.json").read_bytes())["rows"]
    requests = [r["inputs"] for r in refund_requests(n_rows, seed=606)]
    return booster, background, requests, np.array([encode_row(manifest, r) for r in requests])


def candor(manifest: Any, counted: Counting, n_rows: int) -> dict[str, Any]:
    """Candor's black-box path over `counted`: calls, rows, time, and error vs exact interventional TreeSHAP."""
    from functions.adapters.black_box import BlackBoxRuntime

    booster, background, requests, rows = _workload(manifest, n_rows)
    runtime = BlackBoxRuntime(manifest, counted, background)
    seconds, calls, sent, values, errors = [], [], [], [], []
    for request in requests:
        prediction = runtime.predict(request)
        before_calls, before_rows = counted.requests_sent, counted.rows
        started = time.perf_counter()
        run = runtime.explain(request, prediction, deadline=time.monotonic() + 60)
        seconds.append(time.perf_counter() - started)
        calls.append(counted.requests_sent - before_calls)
        sent.append(counted.rows - before_rows)
        values.append(run.attribution.values)
        errors.append(run.sampling.standard_error if run.sampling else math.nan)
    exact = _interventional(booster, runtime._background, runtime._weights, rows)
    return {
        "s": seconds,
        "calls": calls,
        "calls_max": max(calls),
        "rows": sent,
        "standard_error_max": float(np.nanmax(errors)),
        "values": np.array(values),
        "error_interventional": float(np.abs(np.array(values) - exact).max()),
    }


def _prefixed(prefix: str, result: dict[str, Any]) -> dict[str, Any]:
    return {f"{prefix}{key}": value for key, value in result.items() if key != "values"}


def measure(manifest: Any, model: Any, n_rows: int) -> dict[str, Any]:
    """Candor's black-box path and the Clarify-style one on the same rows, model and adapter."""
    import shap

    from functions.adapters.in_process import encode_row

    booster, background, _, rows = _workload(manifest, n_rows)
    counted = Counting(model)
    ours = candor(manifest, counted, n_rows)
    path_dependent = np.asarray(booster.predict(rows, pred_contrib=True))[:, :-1]

    # Clarify-style: Kernel SHAP, 2F + 2048 coalitions, one baseline row (the background mean), shap calling the model.
    baseline = np.array([encode_row(manifest, r) for r in background]).mean(axis=0, keepdims=True)
    nsamples = 2 * rows.shape[1] + 2048

    def log_odds(x: np.ndarray) -> np.ndarray:
        p = np.clip(counted(x, time.monotonic() + 60)[:, 1], 1e-12, 1 - 1e-12)
        return np.log(p) - np.log1p(-p)

    clarify_s, clarify_calls, clarify_rows, clarify_values = [], [], [], []
    for row in rows:
        before_calls, before_rows = counted.requests_sent, counted.rows
        started = time.perf_counter()
        kernel = shap.KernelExplainer(log_odds, baseline)  # evaluates the baseline: part of the explanation
        clarify_values.append(np.asarray(kernel.shap_values(row[None], nsamples=nsamples, l1_reg=False, silent=True)))
        clarify_s.append(time.perf_counter() - started)
        clarify_calls.append(counted.requests_sent - before_calls)
        clarify_rows.append(counted.rows - before_rows)
    clarify = np.array(clarify_values).reshape(rows.shape)
    clarify_exact = _interventional(booster, baseline, np.ones(1), rows)
    return {
        "rows_explained": n_rows,
        **_prefixed("candor_", ours),
        "candor_error_path_dependent": float(np.abs(ours["values"] - path_dependent).max()),
        "clarify_s": clarify_s,
        "clarify_calls": clarify_calls,
        "clarify_rows": clarify_rows,
        "clarify_nsamples": nsamples,
        "clarify_error_interventional": float(np.abs(clarify - clarify_exact).max()),
        "clarify_error_path_dependent": float(np.abs(clarify - path_dependent).max()),
    }


def _interventional(booster: Any, background: np.ndarray, weights: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """Exact interventional TreeSHAP of the log-odds, weight-averaged over the background rows."""
    import shap

    total = np.zeros(rows.shape)
    for row, weight in zip(background, weights, strict=True):
        tree = shap.TreeExplainer(booster, data=row[None, :], feature_perturbation="interventional", model_output="raw")
        total += weight * np.asarray(tree.shap_values(rows, check_additivity=False)).reshape(rows.shape)
    return total / float(np.sum(weights))


def _rows(figure: Figure, r: dict[str, Any], transport: str, n_rows: int) -> None:
    name = "refund-decision (12 features)"
    candor = f"Candor permutation_shap, budget {BUDGET} rows, {BACKGROUND_SIZE} background rows, batched replay"
    clarify = f"Clarify-style Kernel SHAP, nsamples={r['clarify_nsamples']}, 1 baseline row"
    figure.rows += [
        Row(f"{name}: {candor}", f"model calls per explanation ({transport})", "calls", Summary.of(r["candor_calls"])),
        Row(f"{name}: {candor}", "rows sent per explanation (distinct rows)", "rows", Summary.of(r["candor_rows"])),
        Row(f"{name}: {candor}", "time per explanation, model calls included", "ms", _ms(r["candor_s"])),
        Row(
            f"{name}: {candor}",
            f"max abs error vs exact interventional TreeSHAP, same background, {n_rows} rows",
            "log-odds",
            value=r["candor_error_interventional"],
            note=f"largest reported standard error {r['candor_standard_error_max']:.4f}",
        ),
        Row(
            f"{name}: {candor}",
            "max abs difference vs path-dependent TreeSHAP (another game; informational)",
            "log-odds",
            value=r["candor_error_path_dependent"],
        ),
        *(row for method in ("permutation_shap", "kernel_shap") for row in _same_game_rows(name, r, method, transport)),
        Row(
            f"{name}: {clarify}", f"model calls per explanation ({transport})", "calls", Summary.of(r["clarify_calls"])
        ),
        Row(f"{name}: {clarify}", "rows sent per explanation", "rows", Summary.of(r["clarify_rows"])),
        Row(f"{name}: {clarify}", "time per explanation, model calls included", "ms", _ms(r["clarify_s"])),
        Row(
            f"{name}: {clarify}",
            f"max abs error vs exact interventional TreeSHAP on its baseline row, {n_rows} rows",
            "log-odds",
            value=r["clarify_error_interventional"],
        ),
        Row(
            f"{name}: {clarify}",
            "max abs difference vs path-dependent TreeSHAP (another game; informational)",
            "log-odds",
            value=r["clarify_error_path_dependent"],
        ),
    ]


def _same_game_rows(name: str, r: dict[str, Any], method: str, transport: str) -> list[Row]:
    same = f"Candor {method} on Clarify's game: 1 baseline row, budget {r['clarify_nsamples'] + 2} rows, batched replay"
    key = f"same_game_{method}_"
    return [
        Row(f"{name}: {same}", f"model calls per explanation ({transport})", "calls", Summary.of(r[f"{key}calls"])),
        Row(f"{name}: {same}", "rows sent per explanation (distinct rows)", "rows", Summary.of(r[f"{key}rows"])),
        Row(f"{name}: {same}", "time per explanation, model calls included", "ms", _ms(r[f"{key}s"])),
        Row(
            f"{name}: {same}",
            "max abs error vs exact interventional TreeSHAP on its baseline row",
            "log-odds",
            value=r[f"{key}error_interventional"],
            note=f"largest reported standard error {r[f'{key}standard_error_max']:.4f}",
        ),
    ]


def _ms(seconds: list[float]) -> Summary:
    return Summary.of([s * 1000 for s in seconds])
