"""Figure 1, one row group per in-process format of issue 15 (scikit-learn via skops, ONNX): exact vs Kernel SHAP.

Candor's side is the bundled model's runtime, `explain` as the decision path calls it, after
`predict` (a pipeline's preprocessed row is the decision's; the summing of one-hot columns
is included). The Clarify-style side is
`shap.KernelExplainer` with `nsamples = 2F + 2048` over a 10-cluster k-means baseline, on
the same explained output as a function of the 12 original features (categories as their
index, decoded for the pipeline), so both explain the same model and row. Candor's error
is against an exact reference computed another way: shap's own explainers on the
pipeline's columns summed by column name (`infra/cli/skops_reference.py`; for trees the
same shap TreeExplainer, so it checks the grouping), and for ONNX trees the brute-force
Shapley values of the interventional game (`infra/cli/onnx_reference.py`).
"""

from __future__ import annotations

import math
import statistics
import warnings
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np

from infra.bench.stats import Row, Summary, ratios, timed

MODELS = ("refund-sklearn", "refund-sklearn-linear", "refund-onnx")
KMEANS_CLUSTERS = 10
REPEATS = 5


def _decode(manifest: Any, rows: np.ndarray) -> list[dict[str, Any]]:
    """Encoded rows (categories as their index, booleans 0/1) back to requests' feature values."""
    out = []
    for row in rows:
        inputs: dict[str, Any] = {}
        for feature, value in zip(manifest.features, row, strict=True):
            if feature.type == "category":
                inputs[feature.name] = feature.categories[min(max(round(value), 0), len(feature.categories) - 1)]
            else:
                inputs[feature.name] = bool(value >= 0.5) if feature.type == "boolean" else float(value)
        out.append(inputs)
    return out


def _explained_output(runtime: Any) -> Callable[[np.ndarray], np.ndarray]:
    """The explained output (approve's log-odds) of encoded rows, as the runtime computes it."""
    from functions.adapters.onnx_model import OnnxTreeRuntime

    if isinstance(runtime, OnnxTreeRuntime):
        column, sign, offset = runtime._explained("approve")
        return lambda x: offset + sign * runtime._scores(np.asarray(x, np.float32).astype(np.float64))[:, column]
    _, sign = runtime._explained("approve")
    return lambda x: sign * np.asarray(runtime.model.decision_function(runtime._frame(_decode(runtime.manifest, x))))


def _reference(runtime: Any, requests: list[Mapping[str, Any]]) -> np.ndarray:
    from functions.adapters.onnx_model import OnnxTreeRuntime

    if isinstance(runtime, OnnxTreeRuntime):
        from infra.cli.onnx_reference import exact_interventional

        return exact_interventional(runtime, requests)[0][:, :, 1]
    from infra.cli.skops_reference import pipeline_shap

    return pipeline_shap(runtime.model, runtime.manifest, requests, runtime.background or [])[0][:, :, 1]


def compare(model_id: str, n_rows: int) -> dict[str, Any]:
    """Per-row seconds of both paths, Candor's max abs error, and how far Kernel's values are from Candor's."""
    import shap

    from functions.adapters.in_process import encode_row, load_runtime
    from functions.schemas.settings import BUNDLED_MODELS
    from functions.stores.model_registry import FolderSource, ModelRegistry
    from infra.training.synthetic import refund_requests

    runtime: Any = ModelRegistry(FolderSource(BUNDLED_MODELS), load_runtime).runtime(model_id)
    requests = [r["inputs"] for r in refund_requests(n_rows, seed=606)]
    background = np.array([encode_row(runtime.manifest, row) for row in _background(runtime)])
    kernel = shap.KernelExplainer(_explained_output(runtime), shap.kmeans(background, KMEANS_CLUSTERS), link="identity")
    nsamples = 2 * len(runtime.manifest.features) + 2048
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        timings = [_one_row(runtime, kernel, nsamples, inputs) for inputs in requests]
    candor_s, both_s, kernel_s, ours, theirs = (list(column) for column in zip(*timings, strict=True))
    return {
        "nsamples": nsamples,
        "candor_s": candor_s,
        "decision_s": both_s,
        "kernel_s": kernel_s,
        "candor_error": float(np.abs(np.array(ours) - _reference(runtime, requests)).max()),
        "kernel_vs_candor": float(np.abs(np.array(theirs) - np.array(ours)).max()),
        "implementation": runtime.explainer.implementation,
    }


def _one_row(runtime: Any, kernel: Any, nsamples: int, inputs: Mapping[str, Any]) -> tuple[Any, ...]:
    """(explain s, decide and explain s, Kernel s, Candor's values, Kernel's values) of one request."""
    from functions.adapters.in_process import encode_row

    prediction = runtime.predict(inputs)
    values = runtime.explain(inputs, prediction, math.inf).attribution.values
    explain_s = statistics.median(timed(lambda: runtime.explain(inputs, prediction, math.inf)) for _ in range(REPEATS))
    decide_s = statistics.median(timed(lambda: _decide(runtime, inputs)) for _ in range(REPEATS))
    row = encode_row(runtime.manifest, inputs)[None, :]
    theirs: list[Any] = []
    kernel_s = timed(lambda: theirs.append(kernel.shap_values(row, nsamples=nsamples, l1_reg=False, silent=True)))
    return explain_s, decide_s, kernel_s, values, np.ravel(theirs[0])


def _decide(runtime: Any, inputs: Mapping[str, Any]) -> None:
    """A decision and its explanation from scratch: the pipeline's preprocessing paid once, as on a request."""
    if hasattr(runtime, "_last"):
        runtime._last = None
    runtime.explain(inputs, runtime.predict(inputs), math.inf)


def _background(runtime: Any) -> Sequence[Mapping[str, Any]]:
    from functions.adapters.onnx_model import OnnxTreeRuntime

    if isinstance(runtime, OnnxTreeRuntime):
        return _decode(runtime.manifest, runtime.background)
    return list(runtime.background or [])


def format_rows(n_rows: int) -> tuple[list[Row], bool]:
    """Figure 1's rows for the skops and ONNX bundled models, and whether they meet its goal."""
    rows: list[Row] = []
    met = True
    for model_id in MODELS:
        result = compare(model_id, n_rows)
        speedup = Summary.of(ratios(result["kernel_s"], result["candor_s"]))
        ms = Summary.of([s * 1000 for s in result["candor_s"]])
        rows += [
            Row(
                f"{model_id}: Candor",
                f"time per explanation after its decision ({result['implementation']})",
                "ms",
                ms,
            ),
            Row(
                f"{model_id}: Candor decision + explanation",
                "time of predict then explain, preprocessing included (informational)",
                "ms",
                Summary.of([s * 1000 for s in result["decision_s"]]),
            ),
            Row(
                f"{model_id}: Kernel SHAP, nsamples={result['nsamples']}",
                "time per explanation (shap KernelExplainer, same output over the 12 original features)",
                "ms",
                Summary.of([s * 1000 for s in result["kernel_s"]]),
            ),
            Row(f"{model_id}: speed-up", "Kernel time / Candor time, per row", "x", speedup),
            Row(
                f"{model_id}: Candor max abs error",
                f"vs an exact reference computed another way, {n_rows} rows",
                "log-odds",
                value=result["candor_error"],
            ),
            Row(
                f"{model_id}: Kernel vs Candor values",
                "max abs difference (sampling error + a different baseline; informational)",
                "log-odds",
                value=result["kernel_vs_candor"],
            ),
        ]
        met = met and speedup.median >= 100 and result["candor_error"] <= 1e-9
    return rows, met
