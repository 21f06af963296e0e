"""scikit-learn models in skops files: loaded against the allow-list, explained exactly as shap explains them."""

from __future__ import annotations

import hashlib
import json
import pickle
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import skops.io
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import (
    ExtraTreesClassifier,
    GradientBoostingClassifier,
    HistGradientBoostingClassifier,
    RandomForestClassifier,
)
from sklearn.linear_model import LogisticRegression
from sklearn.neighbors import KNeighborsClassifier
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import FunctionTransformer, OneHotEncoder, OrdinalEncoder, StandardScaler

from functions.adapters.in_process import load_runtime
from functions.adapters.skops_model import SkopsRuntime, model_row
from functions.domain.errors import ManifestError
from functions.schemas.manifest import ModelManifest
from functions.schemas.settings import BUNDLED_MODELS
from functions.stores.model_registry import FolderSource, ModelRegistry
from infra.cli.skops_reference import pipeline_shap
from infra.training import sklearn_models
from infra.training.sklearn_models import canonical_skops
from infra.training.synthetic import refund_requests
from tests.support import predict_and_explain

TOL = 1e-6
SKLEARN_MODELS = sorted(sklearn_models.MODELS)


def shap_per_feature(runtime: SkopsRuntime, inputs: list[dict[str, Any]]) -> tuple[np.ndarray, np.ndarray]:
    """shap's own attributions of P(approve)'s output per original feature, and its base value."""
    values, base = pipeline_shap(runtime.model, runtime.manifest, inputs, runtime.background or [])
    return values[:, :, 1], base[1]  # labels: deny, approve


@pytest.fixture(scope="module")
def registry() -> ModelRegistry:
    return ModelRegistry(FolderSource(BUNDLED_MODELS), load_runtime)


@pytest.mark.parametrize("model_id", SKLEARN_MODELS)
def test_bundled_pipeline_attributions_equal_shaps_summed_back_to_the_customers_features(registry, model_id):
    runtime = registry.runtime(model_id)
    assert isinstance(runtime, SkopsRuntime)
    requests = [r["inputs"] for r in refund_requests(30, seed=99)]
    expected, base = shap_per_feature(runtime, requests)
    for inputs, row in zip(requests, expected, strict=True):
        prediction, run = predict_and_explain(runtime, inputs)
        assert prediction.explained_label == "approve"
        assert run.attribution.exact is True
        np.testing.assert_allclose(run.attribution.values, row, rtol=0, atol=TOL)
        assert run.attribution.base_value == pytest.approx(base, abs=TOL)
        assert run.attribution.additivity_error < 1e-9
        pipeline = runtime.model.predict_proba(runtime._frame([inputs]))[0]  # the whole pipeline, as fitted
        assert prediction.probabilities[1] == pytest.approx(pipeline[list(runtime.model.classes_).index("approve")])
        # P(approve) from the pipeline is the logistic of the explained output.
        assert prediction.probabilities[1] == pytest.approx(1 / (1 + np.exp(-prediction.model_output)), abs=1e-12)
        assert [item.key for item in run.items] == [f.name for f in runtime.manifest.features]


def write_model(
    root: Path, model: Any, *, method: str, units: str, drop: tuple[str, ...] = (), **changes: Any
) -> ModelRegistry:
    """A registry with one model `custom` in skops format, its manifest the bundled refund-sklearn's."""
    shutil.copytree(BUNDLED_MODELS / "refund-sklearn", root / "custom")
    data = model if isinstance(model, bytes) else canonical_skops(skops.io.dumps(model))
    (root / "custom" / "model.skops").write_bytes(data)
    manifest = json.loads((root / "custom" / "manifest.json").read_text())
    manifest.update(id="custom", explainer={"method": method}, output_units=units, **changes)
    for key in drop:
        manifest.pop(key)
    manifest["artifact"]["sha256"] = hashlib.sha256(data).hexdigest()
    (root / "custom" / "manifest.json").write_text(json.dumps(manifest))
    return ModelRegistry(FolderSource(root), load_runtime)


def fitted(estimator: Any, encoder: Any, scale: bool = False) -> Pipeline:
    manifest = ModelManifest.model_validate_json((BUNDLED_MODELS / "refund-sklearn" / "manifest.json").read_text())
    numbers = [f.name for f in manifest.features if f.type != "category"]
    categories = [f.name for f in manifest.features if f.type == "category"]
    data = refund_requests(800, seed=5)
    frame = pd.DataFrame([model_row(manifest, r["inputs"]) for r in data], columns=[f.name for f in manifest.features])
    pre = ColumnTransformer(
        [("numbers", StandardScaler() if scale else "passthrough", numbers), ("categories", encoder, categories)]
    )
    return Pipeline([("preprocess", pre), ("model", estimator)]).fit(frame, [r["label"] for r in data])


@pytest.mark.parametrize(
    ("estimator", "encoder", "units"),
    [
        (RandomForestClassifier(n_estimators=5, max_depth=4, random_state=0), OneHotEncoder(), "probability"),
        (ExtraTreesClassifier(n_estimators=5, max_depth=4, random_state=0), OrdinalEncoder(), "probability"),
        (HistGradientBoostingClassifier(max_iter=10, random_state=0), OrdinalEncoder(), "log_odds"),
        (GradientBoostingClassifier(n_estimators=10, random_state=0), OneHotEncoder(drop="first"), "log_odds"),
    ],
    ids=["forest-onehot", "extratrees-ordinal", "histgb-ordinal", "gb-onehot-drop"],
)
def test_each_tree_ensemble_is_explained_exactly_per_feature(tmp_path, estimator, encoder, units):
    runtime = write_model(tmp_path, fitted(estimator, encoder), method="tree_shap", units=units).runtime("custom")
    assert isinstance(runtime, SkopsRuntime)
    requests = [r["inputs"] for r in refund_requests(10, seed=98)]
    expected, base = shap_per_feature(runtime, requests)
    for inputs, row in zip(requests, expected, strict=True):
        _, run = predict_and_explain(runtime, inputs)
        np.testing.assert_allclose(run.attribution.values, row, rtol=0, atol=TOL)
        assert run.attribution.base_value == pytest.approx(base, abs=TOL)
        assert run.attribution.additivity_error < 1e-9
    if isinstance(encoder, OneHotEncoder):
        columns = runtime.model[:-1].get_feature_names_out()
        names = [f.name for f in runtime.manifest.features]
        assert [names[g] for g in runtime._groups] == [
            next(n for n in names if c.split("__", 1)[1].startswith(n)) for c in columns
        ]


def test_a_scaled_logistic_regression_with_ordinal_encoding_matches_shaps_linear_explainer(tmp_path):
    model = fitted(LogisticRegression(max_iter=2000), OrdinalEncoder(), scale=True)
    runtime = write_model(tmp_path, model, method="linear_shap", units="log_odds").runtime("custom")
    requests = [r["inputs"] for r in refund_requests(10, seed=97)]
    expected, base = shap_per_feature(runtime, requests)
    for inputs, row in zip(requests, expected, strict=True):
        _, run = predict_and_explain(runtime, inputs)
        np.testing.assert_allclose(run.attribution.values, row, rtol=0, atol=TOL)
        assert run.attribution.base_value == pytest.approx(base, abs=TOL)


def test_a_type_outside_the_allow_list_is_refused_before_anything_is_built(tmp_path):
    model = fitted(KNeighborsClassifier(), OneHotEncoder())
    registry = write_model(tmp_path, model, method="tree_shap", units="log_odds")
    with pytest.raises(ManifestError, match="KNeighborsClassifier"):
        registry.runtime("custom")


def test_a_function_inside_a_pipeline_is_refused_by_name(tmp_path):
    inner = fitted(LogisticRegression(), OrdinalEncoder())
    model = Pipeline([("log", FunctionTransformer(np.log1p)), ("model", inner)])
    registry = write_model(tmp_path, model, method="linear_shap", units="log_odds")
    with pytest.raises(ManifestError, match=r"numpy\.log1p"):
        registry.runtime("custom")


def test_a_pickle_is_not_a_skops_file(tmp_path):
    registry = write_model(tmp_path, pickle.dumps({"a": 1}), method="tree_shap", units="log_odds")
    with pytest.raises(ManifestError, match="not a skops file"):
        registry.runtime("custom")


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"output_units": "probability"}, "log_odds"),
        ({"explainer": {"method": "linear_shap"}}, "tree_shap"),
    ],
)
def test_a_manifest_that_does_not_describe_the_model_is_refused(tmp_path, changes, message):
    data = (BUNDLED_MODELS / "refund-sklearn" / "model.skops").read_bytes()
    units = changes.pop("output_units", "log_odds")
    method = changes.pop("explainer", {"method": "tree_shap"})["method"]
    with pytest.raises(ManifestError, match=message):
        write_model(tmp_path, data, method=method, units=units).runtime("custom")


@pytest.mark.slow
def test_retraining_writes_the_bundled_files(tmp_path):
    refund = json.loads((BUNDLED_MODELS / "refund-decision" / "manifest.json").read_text())
    from infra.training.train_models import _write_json

    sklearn_models.train_sklearn_models(tmp_path, refund, _write_json)
    for model_id in SKLEARN_MODELS:
        fresh = ModelManifest.model_validate_json((tmp_path / model_id / "manifest.json").read_text())
        bundled = ModelManifest.model_validate_json((BUNDLED_MODELS / model_id / "manifest.json").read_text())
        assert fresh.background == bundled.background
        # GradientBoosting needs no BLAS: same bytes. lbfgs runs on BLAS, whose last bits vary by CPU.
        if model_id == "refund-sklearn":
            assert fresh.artifact == bundled.artifact
        assert fresh.training == pytest.approx(bundled.training, abs=1e-3)


def test_candor_models_check_passes_the_bundled_pipelines_and_compares_them_with_shap(capsys):
    from infra.cli import main

    assert main(["models", "check", *(str(BUNDLED_MODELS / m) for m in SKLEARN_MODELS)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("ok   refund-sklearn 1.0.0  tree_shap  5 rows  additivity ")
    assert lines[1].startswith("ok   refund-sklearn-linear 1.0.0  linear_shap  5 rows  additivity ")


REASONS = ["damaged", "wrong_item", "not_as_described", "changed_mind", "late_delivery"]


def routing_registry(root: Path, estimator: Any, method: str, units: str) -> ModelRegistry:
    """A five-label routing model (the return reason, from the other inputs' pipeline) registered as `custom`."""
    manifest = ModelManifest.model_validate_json((BUNDLED_MODELS / "refund-sklearn" / "manifest.json").read_text())
    data = refund_requests(800, seed=5)
    names = [f.name for f in manifest.features]
    frame = pd.DataFrame([model_row(manifest, r["inputs"]) for r in data], columns=names)
    categories = [f.name for f in manifest.features if f.type == "category"]
    numbers = [n for n in names if n not in categories]
    pre = ColumnTransformer([("numbers", StandardScaler(), numbers), ("c", OneHotEncoder(), categories)])
    target = [r["inputs"]["return_reason"] for r in data]
    model = Pipeline([("preprocess", pre), ("model", estimator)]).fit(frame, target)
    labels = [{"name": reason, "display_names": {"en": reason}} for reason in REASONS]
    return write_model(
        root,
        model,
        method=method,
        units=units,
        kind="routing",
        labels=labels,
        drop=("favourable_outcome", "decision_threshold"),
    )


@pytest.mark.parametrize(
    ("estimator", "method", "units"),
    [
        (HistGradientBoostingClassifier(max_iter=10, random_state=0), "tree_shap", "logit"),
        (RandomForestClassifier(n_estimators=5, max_depth=4, random_state=0), "tree_shap", "probability"),
        (LogisticRegression(max_iter=3000), "linear_shap", "logit"),
    ],
    ids=["histgb", "forest", "logistic"],
)
def test_a_multiclass_pipeline_explains_the_chosen_label(tmp_path, estimator, method, units):
    runtime = routing_registry(tmp_path, estimator, method, units).runtime("custom")
    requests = [r["inputs"] for r in refund_requests(5, seed=3)]
    values, base = pipeline_shap(runtime.model, runtime.manifest, requests, runtime.background or [])
    for i, inputs in enumerate(requests):
        prediction, run = predict_and_explain(runtime, inputs)
        k = REASONS.index(prediction.explained_label)
        assert prediction.probabilities[k] == max(prediction.probabilities)
        np.testing.assert_allclose(run.attribution.values, values[i, :, k], rtol=0, atol=TOL)
        assert run.attribution.base_value == pytest.approx(base[k], abs=TOL)
        assert run.attribution.additivity_error < 1e-9


def test_a_model_shap_cannot_explain_is_refused_with_shaps_reason(tmp_path):
    registry = routing_registry(tmp_path, GradientBoostingClassifier(n_estimators=3), "tree_shap", "logit")
    with pytest.raises(ManifestError, match="only supported for binary classification"):
        registry.runtime("custom")
