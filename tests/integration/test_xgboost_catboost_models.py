"""The bundled XGBoost and CatBoost models, loaded through the real adapter, explained exactly as shap explains them."""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from explainers import reference
from functions.adapters.in_process import load_runtime
from functions.domain.errors import ManifestError
from functions.schemas.settings import BUNDLED_MODELS
from functions.stores.model_registry import FolderSource, ModelRegistry
from infra.training.synthetic import refund_requests
from tests.support import predict_and_explain

xgboost = pytest.importorskip("xgboost")
catboost = pytest.importorskip("catboost")
shap = pytest.importorskip("shap")

TOL = 1e-6
XGB, CAT = "refund-decision-xgboost", "refund-decision-catboost"


@pytest.fixture(scope="module")
def registry() -> ModelRegistry:
    return ModelRegistry(FolderSource(BUNDLED_MODELS), load_runtime)


def requests(n: int = 40) -> list[dict[str, Any]]:
    return [r["inputs"] for r in refund_requests(n, seed=99)]


def xgboost_reference(booster: Any, rows: np.ndarray, monkeypatch: pytest.MonkeyPatch) -> tuple[np.ndarray, np.ndarray]:
    """shap's C++ TreeSHAP on the booster's trees, with XGBoost's `pred_contribs` made to fail while it runs."""
    original = xgboost.Booster.predict

    def predict_without_contribs(self: Any, *args: Any, **kwargs: Any) -> Any:
        if kwargs.get("pred_contribs"):
            raise AssertionError("shap took the pred_contribs shortcut; the comparison would be circular")
        return original(self, *args, **kwargs)

    monkeypatch.setattr(xgboost.Booster, "predict", predict_without_contribs)
    try:
        return reference.xgboost_tree_shap(booster, rows)
    finally:
        monkeypatch.undo()


def assert_matches(runs: list[Any], values: np.ndarray, base: float, runtime: Any) -> None:
    for (prediction, run), expected in zip(runs, values, strict=True):
        assert prediction.explained_label == "approve"
        assert run.attribution.exact is True
        assert prediction.model_output == pytest.approx(run.attribution.model_output, abs=TOL)
        assert sum(prediction.probabilities) == pytest.approx(1.0)
        np.testing.assert_allclose(run.attribution.values, expected, rtol=0, atol=TOL)
        assert run.attribution.base_value == pytest.approx(base, abs=TOL)
        assert run.attribution.additivity_error < TOL
        assert [item.key for item in run.items] == [f.name for f in runtime.manifest.features]


def test_xgboost_attributions_equal_shaps_own_tree_shap(registry, monkeypatch):
    runtime = registry.runtime(XGB)
    assert runtime.explainer.implementation.startswith("xgboost ")
    inputs = requests()
    runs = [predict_and_explain(runtime, row) for row in inputs]
    rows = np.array([runtime.encode(row) for row in inputs])

    values, base = xgboost_reference(runtime.booster, rows, monkeypatch)

    assert_matches(runs, values[:, :, 0], float(base[0]), runtime)
    # The score is XGBoost's own: its float32 probability, to float32 precision.
    scores = runtime.booster.predict(xgboost.DMatrix(rows, feature_names=runtime.booster.feature_names))
    np.testing.assert_allclose([p.probabilities[1] for p, _ in runs], scores, rtol=0, atol=1e-6)


def _as_ubj(tmp_path: Path) -> Path:
    """The bundled XGBoost model re-saved as UBJSON, its manifest re-pinned."""
    shutil.copytree(BUNDLED_MODELS / XGB, tmp_path / XGB)
    folder = tmp_path / XGB
    booster = xgboost.Booster(model_file=str(folder / "model.json"))
    booster.save_model(str(folder / "model.ubj"))
    (folder / "model.json").unlink()
    manifest = json.loads((folder / "manifest.json").read_text())
    manifest["adapter"]["format"] = "xgboost_ubj"
    manifest["artifact"] = {
        "path": "model.ubj",
        "sha256": hashlib.sha256((folder / "model.ubj").read_bytes()).hexdigest(),
    }
    (folder / "manifest.json").write_text(json.dumps(manifest))
    return folder


def test_the_ubjson_format_explains_the_same(registry, tmp_path: Path):
    _as_ubj(tmp_path)
    ubj = ModelRegistry(FolderSource(tmp_path), load_runtime).runtime(XGB)
    for row in requests(10):
        (p1, r1), (p2, r2) = predict_and_explain(registry.runtime(XGB), row), predict_and_explain(ubj, row)
        assert p1.probabilities == pytest.approx(p2.probabilities, abs=1e-12)
        np.testing.assert_allclose(r1.attribution.values, r2.attribution.values, rtol=0, atol=1e-12)


def test_an_xgboost_file_in_the_other_format_than_declared_is_refused(tmp_path: Path):
    folder = _as_ubj(tmp_path)
    manifest = json.loads((folder / "manifest.json").read_text())
    manifest["adapter"]["format"] = "xgboost_json"
    (folder / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(ManifestError, match="is XGBoost UBJSON, the manifest says xgboost_json"):
        ModelRegistry(FolderSource(tmp_path), load_runtime).runtime(XGB)


@pytest.mark.parametrize("model_id", [XGB, CAT])
def test_a_model_whose_features_differ_from_its_manifest_is_refused(tmp_path: Path, model_id: str):
    shutil.copytree(BUNDLED_MODELS / model_id, tmp_path / model_id)
    path = tmp_path / model_id / "manifest.json"
    manifest = json.loads(path.read_text())
    manifest["features"][0]["name"] = "basket_value"
    path.write_text(json.dumps(manifest))
    with pytest.raises(ManifestError, match="names its features"):
        ModelRegistry(FolderSource(tmp_path), load_runtime).runtime(model_id)


@pytest.mark.parametrize(("model_id", "artifact"), [(XGB, "model.json"), (CAT, "model.cbm")])
def test_a_tampered_artifact_is_refused(tmp_path: Path, model_id: str, artifact: str):
    shutil.copytree(BUNDLED_MODELS / model_id, tmp_path / model_id)
    path = tmp_path / model_id / artifact
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 1
    path.write_bytes(bytes(data))
    with pytest.raises(ManifestError, match="SHA-256"):
        ModelRegistry(FolderSource(tmp_path), load_runtime).runtime(model_id)


def test_catboost_attributions_equal_shaps_tree_explainer(registry):
    runtime = registry.runtime(CAT)
    assert runtime.explainer.implementation.startswith("catboost ")
    inputs = requests()
    runs = [predict_and_explain(runtime, row) for row in inputs]
    # shap's TreeExplainer on the CatBoost model, given the same rows with their native categories.
    explainer = shap.TreeExplainer(runtime.model)
    assert explainer.model.model_type == "catboost"
    found = explainer(runtime.pool([runtime.encode(row) for row in inputs]))

    assert_matches(runs, np.asarray(found.values), float(np.asarray(found.base_values).reshape(-1)[0]), runtime)
    # Exactly additive: CatBoost's TreeSHAP is computed in double precision.
    assert max(run.attribution.additivity_error for _, run in runs) < 1e-9


def test_catboost_reads_categories_natively(registry):
    runtime = registry.runtime(CAT)
    manifest = runtime.manifest
    categorical = [f.name for f in manifest.features if f.type == "category"]
    assert [runtime.model.feature_names_[i] for i in runtime.model.get_cat_feature_indices()] == categorical
    row = requests(1)[0]
    encoded = runtime.encode(row)
    assert all(
        encoded[i] == row[name] for i, name in enumerate(f.name for f in manifest.features) if name in categorical
    )
    # A category's attribution follows its value: cash on delivery, which the history penalises, weighs differently.
    card, cash = ({**row, "payment_method": method} for method in ("card", "cash_on_delivery"))
    (_, by_card), (_, by_cash) = predict_and_explain(runtime, card), predict_and_explain(runtime, cash)
    assert by_card.items[-2].key == "payment_method"
    assert by_cash.items[-2].attribution < by_card.items[-2].attribution


def test_candor_models_check_compares_both_with_shap(capsys):
    from infra.cli import main

    assert main(["models", "check", str(BUNDLED_MODELS / XGB), str(BUNDLED_MODELS / CAT)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith(f"ok   {XGB} 1.0.0  tree_shap  5 rows  additivity ")
    assert lines[1].startswith(f"ok   {CAT} 1.0.0  tree_shap  5 rows  additivity ")
    assert lines[2] == "2 model folders checked, 0 with problems"
