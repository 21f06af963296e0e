"""tree_shap against shap's own C++ TreeSHAP on random LightGBM models.

`shap.TreeExplainer(booster)` without background data would simply call LightGBM's
`pred_contrib`, the very thing `tree_shap` calls, so comparing against it would prove
nothing. `explainers.reference.tree_shap` runs shap's internal tree walker instead, and
these tests make `pred_contrib` raise while it runs, so the two sides are independent code.
"""

from __future__ import annotations

from typing import Any

import lightgbm as lgb
import numpy as np
import pytest

import explainers
from explainers import reference
from explainers.tree import TreeShap

shap = pytest.importorskip("shap")

TOL = 1e-6
N_FEATURES = 12


def _random_model(seed: int, objective: str) -> tuple[Any, np.ndarray]:
    """A LightGBM model with random hyperparameters fitted to random data, and rows to explain."""
    rng = np.random.default_rng(seed)
    n = int(rng.integers(150, 400))
    x = rng.normal(size=(n, N_FEATURES)) * rng.uniform(0.1, 10, size=N_FEATURES)
    # Some missing values, so default-direction handling is compared too.
    x[rng.random(x.shape) < 0.05] = np.nan
    signal = np.nan_to_num(x[:, 0] + x[:, 1] * x[:, 2] - np.abs(x[:, 3]))
    params: dict[str, Any] = {
        "n_estimators": int(rng.integers(5, 40)),
        "num_leaves": int(rng.integers(3, 32)),
        "max_depth": int(rng.choice([-1, 3, 6])),
        "learning_rate": float(rng.uniform(0.05, 0.5)),
        "min_child_samples": int(rng.integers(2, 20)),
        "colsample_bytree": float(rng.uniform(0.5, 1.0)),
        "random_state": seed,
        "n_jobs": 1,  # tiny data: threads only add start-up and contention
        "verbose": -1,
    }
    if objective == "binary":
        y = (signal + rng.normal(size=n) > 0).astype(int)
        model: Any = lgb.LGBMClassifier(**params).fit(x, y)
        model = model.booster_  # explain the native booster, as a manifest would load it
    elif objective == "multiclass":
        y = np.digitize(signal + rng.normal(size=n), np.quantile(signal, [0.33, 0.66]))
        model = lgb.LGBMClassifier(**params).fit(x, y).booster_
    else:
        y = signal + rng.normal(size=n)
        model = lgb.LGBMRegressor(**params).fit(x, y).booster_
    rows = np.vstack([x[:4], rng.normal(size=(2, N_FEATURES)) * 5])
    return model, rows


def shap_cpp_tree_shap(model: Any, rows: np.ndarray, monkeypatch: pytest.MonkeyPatch) -> tuple[np.ndarray, np.ndarray]:
    """`reference.tree_shap`, with LightGBM's `pred_contrib` made to fail while it runs."""
    booster = getattr(model, "booster_", model)
    original_predict = booster.predict

    def predict_without_contrib(*args: Any, **kwargs: Any) -> Any:
        if kwargs.get("pred_contrib"):
            raise AssertionError("shap took the pred_contrib shortcut; the comparison would be circular")
        return original_predict(*args, **kwargs)

    monkeypatch.setattr(booster, "predict", predict_without_contrib)
    try:
        return reference.tree_shap(model, rows)
    finally:
        monkeypatch.undo()


@pytest.mark.parametrize("objective", ["binary", "multiclass", "regression"])
@pytest.mark.parametrize("seed", range(6))
def test_tree_shap_matches_shap_cpp_tree_shap(seed: int, objective: str, monkeypatch: pytest.MonkeyPatch) -> None:
    model, rows = _random_model(seed, objective)
    units = "raw" if objective == "regression" else "log_odds"
    explainer = explainers.create("tree_shap", model, output_units=units)
    expected_outputs = 3 if objective == "multiclass" else 1
    assert explainer.n_outputs == expected_outputs
    ours = [[explainer.explain(row, k) for k in range(explainer.n_outputs)] for row in rows]

    values, base = shap_cpp_tree_shap(model, rows, monkeypatch)

    assert values.shape[2] == expected_outputs
    margins = np.asarray(getattr(model, "booster_", model).predict(rows, raw_score=True)).reshape(len(rows), -1)
    for i, per_output in enumerate(ours):
        for k, attribution in enumerate(per_output):
            assert attribution.method == "tree_shap"
            assert attribution.exact is True
            assert attribution.output_units == units
            np.testing.assert_allclose(attribution.values, values[i, :, k], rtol=0, atol=TOL)
            assert attribution.base_value == pytest.approx(base[k], abs=TOL)
            assert attribution.model_output == pytest.approx(margins[i, k], abs=1e-12)
            assert attribution.additivity_error < TOL


def test_tree_shap_rejects_models_it_cannot_read() -> None:
    with pytest.raises(TypeError, match=r"lightgbm\.Booster"):
        TreeShap(object())


def test_tree_shap_checks_row_and_output() -> None:
    model, rows = _random_model(0, "binary")
    explainer = TreeShap(model)
    with pytest.raises(ValueError, match="features"):
        explainer.explain(rows[0][:5])
    with pytest.raises(ValueError, match="out of range"):
        explainer.explain(rows[0], output=1)


def test_tree_shap_accepts_xgboost_boosters() -> None:
    xgb = pytest.importorskip("xgboost")
    rng = np.random.default_rng(0)
    x = rng.normal(size=(200, N_FEATURES))
    y = rng.integers(0, 3, size=200)
    booster = xgb.train({"objective": "multi:softprob", "num_class": 3, "max_depth": 4}, xgb.DMatrix(x, y), 10)
    explainer = TreeShap(booster)
    assert explainer.n_outputs == 3
    for k in range(3):
        attribution = explainer.explain(x[0], k)
        assert attribution.additivity_error < TOL
