"""The bundled models, loaded through the real adapter, explained exactly as shap explains them."""

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from explainers import reference
from explainers.text import tokenize
from functions.adapters.in_process import load_runtime
from functions.domain.errors import ManifestError
from functions.schemas.settings import BUNDLED_MODELS
from functions.stores.model_registry import FolderSource, ModelRegistry
from infra.training.synthetic import refund_requests, ticket_messages
from tests.support import predict_and_explain
from tests.unit.explainers.test_tree_shap import shap_cpp_tree_shap

TOL = 1e-6


@pytest.fixture(scope="module")
def registry() -> ModelRegistry:
    return ModelRegistry(FolderSource(BUNDLED_MODELS), load_runtime)


def test_refund_decision_attributions_equal_shaps_own_tree_shap(registry, monkeypatch):
    runtime = registry.runtime("refund-decision")
    requests = [r["inputs"] for r in refund_requests(40, seed=99)]
    runs = [predict_and_explain(runtime, inputs) for inputs in requests]
    rows = np.array([runtime.encode(inputs) for inputs in requests])

    values, base = shap_cpp_tree_shap(runtime.booster, rows, monkeypatch)

    for (prediction, run), expected in zip(runs, values[:, :, 0], strict=True):
        assert prediction.explained_label == "approve"
        assert prediction.model_output == pytest.approx(run.attribution.model_output, abs=TOL)
        np.testing.assert_allclose(run.attribution.values, expected, rtol=0, atol=TOL)
        assert run.attribution.base_value == pytest.approx(base[0], abs=TOL)
        assert run.attribution.additivity_error < TOL
        assert [item.key for item in run.items] == [f.name for f in runtime.manifest.features]


def test_ticket_router_attributions_equal_shaps_linear_explainer(registry):
    runtime = registry.runtime("ticket-router")
    coef, intercept = runtime.coef, runtime.intercept
    messages = ticket_messages(40, seed=99)
    matrix = runtime.vectorizer.transform(text for text, _, _ in messages)
    values, _ = reference.linear_shap(coef, intercept, np.zeros((1, coef.shape[1])), matrix)  # the empty message
    for (text, _, _), row_values in zip(messages, values, strict=True):
        prediction, run = predict_and_explain(runtime, {"text": text})
        assert prediction.model_output == pytest.approx(run.attribution.model_output, abs=TOL)
        _, occurrences = runtime.vectorizer.vectorize(text)
        output = [label.name for label in runtime.manifest.labels].index(prediction.explained_label)
        np.testing.assert_allclose(run.attribution.values, row_values[:, output], rtol=0, atol=TOL)
        assert run.attribution.additivity_error < TOL
        # Every attributed token points back at the customer's own words.
        for item in run.items:
            for start, end in item.spans or ():
                assert [t.text for t in tokenize(text[start:end])] == [item.key]
        assert {item.key for item in run.items} == {runtime.vocabulary[i] for i in occurrences}


def test_a_tampered_artifact_is_refused(tmp_path: Path):
    shutil.copytree(BUNDLED_MODELS, tmp_path / "models")
    artifact = tmp_path / "models" / "refund-decision" / "model.txt"
    artifact.write_bytes(artifact.read_bytes().replace(b"leaf_value=", b"leaf_value=1", 1))
    registry = ModelRegistry(FolderSource(tmp_path / "models"), load_runtime)
    with pytest.raises(ManifestError, match="SHA-256"):
        registry.runtime("refund-decision")
    assert registry.runtime("ticket-router").manifest.id == "ticket-router"  # the others still load


def test_a_manifest_can_choose_the_sampled_explainer(tmp_path: Path):
    shutil.copytree(BUNDLED_MODELS, tmp_path / "models")
    manifest_path = tmp_path / "models" / "refund-decision" / "manifest.json"
    manifest = json.loads(manifest_path.read_text())
    manifest["explainer"] = {"method": "permutation_shap", "settings": {"max_evals": 400, "seed": 7}}
    manifest_path.write_text(json.dumps(manifest))
    runtime = ModelRegistry(FolderSource(tmp_path / "models"), load_runtime).runtime("refund-decision")
    inputs = refund_requests(1, seed=5)[0]["inputs"]

    (_, first), (_, again) = predict_and_explain(runtime, inputs), predict_and_explain(runtime, inputs)
    assert runtime.explainer.exact is False
    assert first.attribution.exact is False
    assert first.attribution.additivity_error < TOL
    np.testing.assert_array_equal(first.attribution.values, again.attribution.values)  # seeded: reproducible
