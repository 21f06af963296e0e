"""The bundled scikit-learn pipelines (skops files) decided over HTTP, explained exactly on the customer's features."""

from __future__ import annotations

import json

import numpy as np
import pytest

from functions.adapters.in_process import load_runtime
from functions.adapters.skops_model import SkopsRuntime
from functions.schemas.settings import BUNDLED_MODELS
from functions.stores.model_registry import FolderSource, ModelRegistry
from infra.training.sklearn_models import MODELS
from infra.training.synthetic import refund_requests
from tests.e2e.conftest import Client
from tests.integration.test_skops_models import shap_per_feature

pytestmark = pytest.mark.e2e


@pytest.mark.parametrize("model_id", sorted(MODELS))
def test_a_pipeline_decision_carries_shaps_attributions_on_the_original_features(api: Client, model_id):
    runtime = ModelRegistry(FolderSource(BUNDLED_MODELS), load_runtime).runtime(model_id)
    assert isinstance(runtime, SkopsRuntime)
    requests = refund_requests(3, seed=31)
    expected, base = shap_per_feature(runtime, [r["inputs"] for r in requests])
    for i, (request, row) in enumerate(zip(requests, expected, strict=True)):
        body = {"request_id": f"{model_id}-{i}", "inputs": request["inputs"], "locale": "en-GB"}
        answer = api.decide(model_id, body)
        assert answer.status_code == 200, answer.text
        explanation = answer.json()["explanation"]
        assert explanation["status"] == "complete" and explanation["exact"] is True
        assert explanation["method"] == runtime.manifest.explainer.method
        by_feature = {c["feature"]: c["attribution"] for c in explanation["contributions"]}
        assert set(by_feature) == {f.name for f in runtime.manifest.features}
        names = [f.name for f in runtime.manifest.features]
        np.testing.assert_allclose([by_feature[n] for n in names], row, rtol=0, atol=1e-6)
        assert explanation["base_value"] == pytest.approx(base, abs=1e-6)
        assert explanation["additivity_error"] < 1e-9
        shown = json.dumps(answer.json(), ensure_ascii=False)
        assert "Payment method" in shown and "payment_method_" not in shown and "categories__" not in shown


def test_the_record_names_the_skops_artifact_and_the_explainer(api: Client):
    answer = api.decide(
        "refund-sklearn", {"request_id": "skops-record", "inputs": refund_requests(1, seed=32)[0]["inputs"]}
    )
    assert answer.status_code == 200, answer.text
    record = api.call("GET", f"/v1/explanations/{answer.json()['decision_id']}", role="auditor").json()["record"]
    envelope = record["envelope"]
    manifest = json.loads((BUNDLED_MODELS / "refund-sklearn" / "manifest.json").read_text())
    assert envelope["model"]["artifact_sha256"] == manifest["artifact"]["sha256"]
    assert "TreeExplainer" in envelope["explainer"]["implementation"]
    assert envelope["explainer"]["exact"] is True
