"""ONNX models through onnxruntime: tree ensembles explained exactly as shap explains the original trees,
other graphs as in-process black boxes."""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import shap
from skl2onnx import to_onnx
from sklearn.ensemble import ExtraTreesClassifier, GradientBoostingClassifier, RandomForestClassifier

from functions.adapters.in_process import load_runtime
from functions.adapters.onnx_model import OnnxTreeRuntime
from functions.domain.errors import ManifestError
from functions.schemas.settings import BUNDLED_MODELS
from functions.stores.model_registry import FolderSource, ModelRegistry
from infra.training import onnx_models
from infra.training.synthetic import refund_requests
from infra.training.train_models import encode_refund_inputs
from tests.support import predict_and_explain

TOL = 1e-6
ADDITIVITY = 1e-6  # shap's interventional TreeSHAP itself adds up to ~1e-8 (see docs/models.md)


@pytest.fixture(scope="module")
def registry() -> ModelRegistry:
    return ModelRegistry(FolderSource(BUNDLED_MODELS), load_runtime)


@pytest.fixture(scope="module")
def original() -> Any:
    """The scikit-learn model `refund-onnx` was converted from: same seed, same data, same trees."""
    _, _, x_train, y_train = onnx_models.training_data(encode_refund_inputs)
    return onnx_models.MODELS["refund-onnx"]["estimator"]().fit(x_train, y_train)


def interventional(model: Any, runtime: OnnxTreeRuntime, requests: list[dict[str, Any]]) -> tuple[Any, Any]:
    """shap's interventional TreeSHAP of the original scikit-learn trees, same background, float32 rows."""
    explainer = shap.TreeExplainer(model, runtime.background, feature_perturbation="interventional")
    rows = encode_refund_inputs(requests).astype(np.float32).astype(np.float64)
    return np.asarray(explainer.shap_values(rows)), np.atleast_1d(explainer.expected_value)


def test_the_bundled_onnx_trees_are_explained_as_shap_explains_the_original_model(registry, original):
    runtime = registry.runtime("refund-onnx")
    assert isinstance(runtime, OnnxTreeRuntime)
    requests = [r["inputs"] for r in refund_requests(30, seed=99)]
    values, base = interventional(original, runtime, requests)
    # sklearn's margin is the log-odds of classes_[1] ('deny'); Candor explains approve's: the negative.
    assert list(original.classes_) == ["approve", "deny"]
    for inputs, expected in zip(requests, -values, strict=True):
        prediction, run = predict_and_explain(runtime, inputs)
        assert prediction.explained_label == "approve" and run.attribution.exact is True
        np.testing.assert_allclose(run.attribution.values, expected, rtol=0, atol=TOL)
        assert run.attribution.base_value == pytest.approx(-base[0], abs=TOL)
        assert run.attribution.additivity_error < ADDITIVITY
        assert prediction.probabilities[1] == pytest.approx(1 / (1 + np.exp(-prediction.model_output)), abs=1e-6)
        margin = original.decision_function(encode_refund_inputs([inputs]).astype(np.float32))[0]
        assert prediction.model_output == pytest.approx(-margin, abs=TOL)


def write_model(root: Path, data: bytes, **changes: Any) -> ModelRegistry:
    shutil.copytree(BUNDLED_MODELS / "refund-onnx", root / "custom")
    (root / "custom" / "model.onnx").write_bytes(data)
    manifest = json.loads((root / "custom" / "manifest.json").read_text())
    manifest.update(id="custom", **changes)
    if manifest["kind"] == "routing":
        manifest.pop("favourable_outcome"), manifest.pop("decision_threshold")
    manifest["artifact"]["sha256"] = hashlib.sha256(data).hexdigest()
    (root / "custom" / "manifest.json").write_text(json.dumps(manifest))
    return ModelRegistry(FolderSource(root), load_runtime)


def converted(model: Any) -> bytes:
    x = encode_refund_inputs([r["inputs"] for r in refund_requests(600, seed=4)])
    model.fit(x, [r["label"] for r in refund_requests(600, seed=4)])
    options = {"zipmap": False}
    return to_onnx(
        model, x[:1].astype(np.float32), options=options, target_opset=onnx_models.OPSETS
    ).SerializeToString()


@pytest.mark.parametrize("forest", [RandomForestClassifier, ExtraTreesClassifier])
def test_averaged_forests_are_explained_in_probability_units(tmp_path, forest):
    model = forest(n_estimators=8, max_depth=5, random_state=0)
    runtime = write_model(tmp_path, converted(model), output_units="probability").runtime("custom")
    assert isinstance(runtime, OnnxTreeRuntime)
    requests = [r["inputs"] for r in refund_requests(10, seed=98)]
    values, base = interventional(model, runtime, requests)
    approve = list(model.classes_).index("approve")
    for inputs, expected in zip(requests, values[:, :, approve], strict=True):
        prediction, run = predict_and_explain(runtime, inputs)
        np.testing.assert_allclose(run.attribution.values, expected, rtol=0, atol=TOL)
        assert run.attribution.base_value == pytest.approx(base[approve], abs=TOL)
        assert prediction.model_output == pytest.approx(prediction.probabilities[1], abs=1e-6)


def test_a_graph_without_trees_is_a_black_box_with_budget_batching_and_standard_error(registry):
    runtime = registry.runtime("refund-onnx-mlp")
    inputs = refund_requests(1, seed=97)[0]["inputs"]
    prediction, run = predict_and_explain(runtime, inputs)
    assert run.attribution.exact is False and run.sampling is not None
    assert run.sampling.model_calls == 1  # every perturbed row in one onnxruntime run
    assert run.sampling.evaluations <= run.sampling.max_evaluations == 2000
    assert run.sampling.standard_error > 0
    assert run.attribution.additivity_error < 1e-9
    assert [item.key for item in run.items] == [f.name for f in runtime.manifest.features]
    again = runtime.explain(inputs, prediction, float("inf"))
    np.testing.assert_allclose(again.attribution.values, run.attribution.values, rtol=0, atol=1e-12)


def test_tree_shap_on_a_graph_without_trees_is_refused_naming_the_alternatives(tmp_path):
    data = (BUNDLED_MODELS / "refund-onnx-mlp" / "model.onnx").read_bytes()
    with pytest.raises(ManifestError, match="permutation_shap or kernel_shap"):
        write_model(tmp_path, data).runtime("custom")


def test_bytes_that_are_not_onnx_are_refused(tmp_path):
    with pytest.raises(ManifestError, match="not an ONNX model"):
        write_model(tmp_path, b"\x80\x04not a protobuf at all").runtime("custom")


def test_units_that_do_not_match_the_post_transform_are_refused(tmp_path):
    data = (BUNDLED_MODELS / "refund-onnx" / "model.onnx").read_bytes()
    with pytest.raises(ManifestError, match="LOGISTIC"):
        write_model(tmp_path, data, output_units="probability").runtime("custom")


@pytest.mark.slow
def test_retraining_writes_the_same_onnx_files(tmp_path):
    from infra.training.train_models import _write_json

    refund = json.loads((BUNDLED_MODELS / "refund-decision" / "manifest.json").read_text())
    onnx_models.train_onnx_models(tmp_path, refund, encode_refund_inputs, _write_json)
    for model_id in onnx_models.MODELS:
        fresh = json.loads((tmp_path / model_id / "manifest.json").read_text())
        bundled = json.loads((BUNDLED_MODELS / model_id / "manifest.json").read_text())
        assert fresh["background"] == bundled["background"]
        if model_id == "refund-onnx":  # no BLAS in tree training: the same bytes (the MLP's may move by CPU)
            assert fresh["artifact"] == bundled["artifact"]


def test_onnx_tree_shap_equals_the_exact_shapley_values_of_the_same_trees_by_brute_force(registry):
    """shap's ExactExplainer over every coalition and background row: no tree algorithm, the same game."""
    from infra.cli.onnx_reference import exact_interventional

    runtime = registry.runtime("refund-onnx")
    requests = [r["inputs"] for r in refund_requests(2, seed=96)]
    values, base = exact_interventional(runtime, requests)
    for inputs, expected in zip(requests, values[:, :, 1], strict=True):
        _, run = predict_and_explain(runtime, inputs)
        np.testing.assert_allclose(run.attribution.values, expected, rtol=0, atol=TOL)
        assert run.attribution.base_value == pytest.approx(base[1], abs=TOL)


def test_candor_models_check_compares_onnx_trees_and_loads_the_black_box(capsys):
    from infra.cli import main

    assert main(["models", "check", "--rows", "2", *(str(BUNDLED_MODELS / m) for m in onnx_models.MODELS)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("ok   refund-onnx 1.0.0  tree_shap  2 rows  additivity ")
    assert lines[1].startswith("ok   refund-onnx-mlp 1.0.0  permutation_shap  in-process black box")


REASONS = ["damaged", "wrong_item", "not_as_described", "changed_mind", "late_delivery"]


@pytest.mark.parametrize(
    ("model", "units"),
    [
        (RandomForestClassifier(n_estimators=5, max_depth=4, random_state=0), "probability"),
        (GradientBoostingClassifier(n_estimators=10, random_state=0), "logit"),  # SOFTMAX over five margins
    ],
    ids=["forest", "boosting"],
)
def test_a_multiclass_ensemble_explains_the_chosen_label_exactly(tmp_path, model, units):
    data = refund_requests(800, seed=5)
    x = encode_refund_inputs([r["inputs"] for r in data])
    model.fit(x, [r["inputs"]["return_reason"] for r in data])
    graph = to_onnx(model, x[:1].astype(np.float32), options={"zipmap": False}, target_opset=onnx_models.OPSETS)
    labels = [{"name": reason, "display_names": {"en": reason}} for reason in REASONS]
    registry = write_model(tmp_path, graph.SerializeToString(), output_units=units, kind="routing", labels=labels)
    runtime = registry.runtime("custom")
    from infra.cli.onnx_reference import exact_interventional

    inputs = refund_requests(1, seed=3)[0]["inputs"]
    values, base = exact_interventional(runtime, [inputs])
    prediction, run = predict_and_explain(runtime, inputs)
    k = REASONS.index(prediction.explained_label)
    assert prediction.probabilities[k] == max(prediction.probabilities)
    np.testing.assert_allclose(run.attribution.values, values[0, :, k], rtol=0, atol=TOL)
    assert run.attribution.base_value == pytest.approx(base[k], abs=TOL)
    assert run.attribution.additivity_error < ADDITIVITY
