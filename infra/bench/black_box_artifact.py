"""Figure 4's remote-with-artifact rows: the same HTTPS endpoint, its decisions explained from the pinned model file.

The endpoint (refund-decision's LightGBM behind `infra.local.model_server`) decides; the manifest pins
`model.txt`, so the explanation is exact TreeSHAP in-process (functions/adapters/remote_exact.py):
one endpoint call per decision instead of a decision plus a batch. Error is against shap's own
C++ path-dependent TreeSHAP of that file.
"""

from __future__ import annotations

import math
import time
from typing import Any

import numpy as np

from infra.bench.stats import Row, Summary


def rows(server: Any, adapter: dict[str, Any], n_rows: int) -> list[Row]:
    """Calls, time and error per decision of the remote model explained from its pinned artifact."""
    from explainers import reference
    from functions.adapters.loader import load_model
    from functions.domain.seal import sha256_hex
    from functions.schemas.settings import BUNDLED_MODELS
    from infra.local.model_server import remote_manifest
    from infra.training.synthetic import refund_requests

    folder = BUNDLED_MODELS / "refund-decision"
    model = (folder / "model.txt").read_bytes()
    pinned = {"format": "lightgbm_text", "file": {"path": "model.txt", "sha256": sha256_hex(model)}}
    manifest = remote_manifest("refund-decision", {**adapter, "exact_artifact": pinned})
    background = (folder / "background.json").read_bytes()
    files = {"model-ca.pem": server.ca_pem, "model.txt": model, "background.json": background}
    runtime: Any = load_model(manifest, files.__getitem__)  # ArtifactExplainedRuntime

    calls: list[float] = []
    seconds: list[float] = []
    errors: list[float] = []
    for inputs in (r["inputs"] for r in refund_requests(n_rows, seed=606)):
        before = server.requests
        started = time.perf_counter()
        prediction = runtime.predict(inputs)
        run = runtime.explain(inputs, prediction, math.inf)
        seconds.append(time.perf_counter() - started)
        calls.append(server.requests - before)
        if run.explainer is None or not run.explainer.exact:  # the artifact must match the endpoint it pins
            raise RuntimeError(f"the pinned artifact was not used: {run.note}")
        values, _ = reference.tree_shap(runtime.local.booster, runtime.local.encode(inputs)[None, :])
        errors.append(float(np.abs(run.attribution.values - values[0, :, 0]).max()))
    name = "refund-decision over HTTPS, pinned artifact"
    return [
        Row(f"{name}: Candor tree_shap", "model calls per decision, explanation included", "calls", Summary.of(calls)),
        Row(
            f"{name}: Candor tree_shap",
            "time per decision (the endpoint call, the artifact's score check and TreeSHAP)",
            "ms",
            Summary.of([s * 1000 for s in seconds]),
        ),
        Row(
            f"{name}: Candor max abs error",
            f"vs shap C++ path-dependent TreeSHAP of the pinned file, {n_rows} rows",
            "log-odds",
            value=max(errors),
        ),
    ]
