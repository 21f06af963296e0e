"""The bundled LightGBM model served over HTTPS, explained as a black box, against exact TreeSHAP on the same model."""

from __future__ import annotations

import json
import math

import lightgbm
import numpy as np
import pytest
import shap

from functions.adapters.background import summarise
from functions.adapters.in_process import encode_row
from functions.adapters.loader import load_model
from functions.domain.seal import sha256_hex
from functions.schemas.settings import BUNDLED_MODELS
from infra.local.model_server import ModelServer, refund_decision_predict, remote_manifest
from infra.training.synthetic import refund_requests
from tests.support import predict_and_explain

FOLDER = BUNDLED_MODELS / "refund-decision"


@pytest.fixture(scope="module")
def served():
    with ModelServer(refund_decision_predict(), output_key="score") as server:
        yield server


def test_black_box_attributions_of_a_served_tree_model_match_exact_interventional_tree_shap(served, capsys):
    adapter = {
        "type": "https_endpoint",
        "url": served.url(),
        "ca_bundle": {"path": "ca.pem", "sha256": sha256_hex(served.ca_pem)},
        "response_path": "predictions[*].score",
        "max_batch_rows": 5000,
    }
    manifest = remote_manifest("refund-decision", adapter)
    files = {"ca.pem": served.ca_pem, "background.json": (FOLDER / "background.json").read_bytes()}
    runtime = load_model(manifest, files.__getitem__)
    booster = lightgbm.Booster(model_file=str(FOLDER / "model.txt"))
    spec = manifest.explainer
    background_rows = np.array(
        [encode_row(manifest, r) for r in json.loads(files["background.json"])["rows"]], dtype=float
    )
    background, weights = summarise(background_rows, spec.background_size, spec.background_summary, spec.seed)

    errors, standard_errors = [], []
    for request in refund_requests(8, seed=404):
        inputs = request["inputs"]
        row = encode_row(manifest, inputs)[None, :]
        before = served.requests
        prediction, run = predict_and_explain(runtime, inputs)
        assert served.requests - before == 2  # one call decides, one carries every perturbed row
        exact = _interventional(booster, background, weights, row)
        assert run.attribution.additivity_error < 1e-9
        assert prediction.model_output == pytest.approx(float(booster.predict(row, raw_score=True)[0]), abs=1e-9)
        assert run.sampling is not None and run.sampling.model_calls == 1
        errors.append(float(np.abs(run.attribution.values - exact).max()))
        standard_errors.append(run.sampling.standard_error)

    with capsys.disabled():
        print(
            f"\n[black box over HTTPS vs exact interventional TreeSHAP] max abs error {max(errors):.4f} log-odds,"
            f" largest reported standard error {max(standard_errors):.4f}"
        )
    assert max(errors) < 4 * max(standard_errors)  # the reported error estimate is honest
    assert not math.isnan(max(errors))


def _interventional(booster, background, weights, row):
    """Exact interventional TreeSHAP of the log-odds over the weighted background rows."""
    total = np.zeros(row.shape[1])
    for base, weight in zip(background, weights, strict=True):
        tree = shap.TreeExplainer(
            booster, data=base[None, :], feature_perturbation="interventional", model_output="raw"
        )
        total += weight * np.asarray(tree.shap_values(row, check_additivity=False)).reshape(-1)
    return total / float(np.sum(weights))
