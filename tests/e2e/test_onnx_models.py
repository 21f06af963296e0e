"""The bundled ONNX models decided over HTTP: trees explained exactly, a neural network as an in-process black box."""

from __future__ import annotations

import numpy as np
import pytest

from functions.adapters.in_process import load_runtime
from functions.adapters.onnx_model import OnnxTreeRuntime
from functions.schemas.settings import BUNDLED_MODELS
from functions.stores.model_registry import FolderSource, ModelRegistry
from infra.training import onnx_models
from infra.training.synthetic import refund_requests
from infra.training.train_models import encode_refund_inputs
from tests.e2e.conftest import Client
from tests.integration.test_onnx_models import interventional

pytestmark = pytest.mark.e2e


def test_an_onnx_tree_ensemble_answers_with_shaps_interventional_attributions(api: Client):
    runtime = ModelRegistry(FolderSource(BUNDLED_MODELS), load_runtime).runtime("refund-onnx")
    assert isinstance(runtime, OnnxTreeRuntime)
    _, _, x_train, y_train = onnx_models.training_data(encode_refund_inputs)
    original = onnx_models.MODELS["refund-onnx"]["estimator"]().fit(x_train, y_train)
    requests = [r["inputs"] for r in refund_requests(3, seed=33)]
    values, base = interventional(original, runtime, requests)
    names = [f.name for f in runtime.manifest.features]
    for i, (inputs, expected) in enumerate(zip(requests, -values, strict=True)):  # approve's log-odds: -deny's
        answer = api.decide("refund-onnx", {"request_id": f"onnx-{i}", "inputs": inputs})
        assert answer.status_code == 200, answer.text
        explanation = answer.json()["explanation"]
        assert explanation["exact"] is True and explanation["method"] == "tree_shap"
        by_feature = {c["feature"]: c["attribution"] for c in explanation["contributions"]}
        np.testing.assert_allclose([by_feature[n] for n in names], expected, rtol=0, atol=1e-6)
        assert explanation["base_value"] == pytest.approx(-base[0], abs=1e-6)
        assert explanation["additivity_error"] < 1e-6


def test_an_onnx_network_is_explained_in_process_as_a_black_box_in_one_run(api: Client):
    answer = api.decide(
        "refund-onnx-mlp", {"request_id": "onnx-mlp-1", "inputs": refund_requests(1, seed=34)[0]["inputs"]}
    )
    assert answer.status_code == 200, answer.text
    explanation = answer.json()["explanation"]
    assert explanation["status"] == "complete" and explanation["exact"] is False
    sampling = explanation["sampling"]
    assert sampling["model_calls"] == 1 and sampling["evaluations"] <= sampling["max_evaluations"] == 2000
    assert sampling["standard_error"] > 0 and explanation["additivity_error"] < 1e-9
