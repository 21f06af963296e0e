"""The bundled XGBoost and CatBoost models decide over HTTP on the local stack, explained as shap explains them."""

from __future__ import annotations

import numpy as np
import pytest

from explainers import reference
from functions.adapters.in_process import load_runtime
from functions.domain.seal import verify
from functions.schemas.settings import BUNDLED_MODELS
from functions.stores.model_registry import FolderSource, ModelRegistry
from infra.training.synthetic import refund_requests
from tests.e2e.bodies import body
from tests.support import record_store

pytestmark = pytest.mark.e2e
shap = pytest.importorskip("shap")

TOL = 1e-6


def reference_values(model_id: str, inputs: dict) -> tuple[np.ndarray, float]:
    """shap's own SHAP values and base value of `inputs`, computed here, outside the stack."""
    runtime = ModelRegistry(FolderSource(BUNDLED_MODELS), load_runtime).runtime(model_id)
    if model_id.endswith("xgboost"):
        values, base = reference.xgboost_tree_shap(runtime.booster, runtime.encode(inputs)[None, :])
        return values[0, :, 0], float(base[0])
    found = shap.TreeExplainer(runtime.model)(runtime.pool([runtime.encode(inputs)]))
    return np.asarray(found.values)[0], float(np.asarray(found.base_values).reshape(-1)[0])


@pytest.mark.parametrize("model_id", ["refund-decision-xgboost", "refund-decision-catboost"])
def test_each_format_answers_over_http_with_shaps_attributions(api, model_id):
    names = list(refund_requests(1, seed=0)[0]["inputs"])
    for inputs in (body("demo-refund-1")[1]["inputs"], refund_requests(1, seed=321)[0]["inputs"]):
        _, request = body("demo-refund-1", inputs=inputs)
        response = api.decide(model_id, request)
        assert response.status_code == 200, response.text
        answer = response.json()
        explanation = answer["explanation"]
        assert answer["model"]["id"] == model_id
        assert explanation["exact"] is True
        assert explanation["additivity_error"] < TOL

        values, base = reference_values(model_id, inputs)
        by_feature = {c["feature"]: c["attribution"] for c in explanation["contributions"]}
        assert set(by_feature) == set(names)  # the customer's own features, never encoded columns
        np.testing.assert_allclose([by_feature[name] for name in names], values, rtol=0, atol=TOL)

        stored = record_store(api.stack.env, api.aws("dynamodb"), api.aws("s3")).get(answer["decision_id"])
        assert stored is not None
        assert verify(stored.record)
        envelope = stored.record.envelope
        assert envelope.explanation.base_value == pytest.approx(base, abs=TOL)
        assert envelope.explainer.implementation.split()[0] == model_id.rsplit("-", 1)[1]  # xgboost, catboost
