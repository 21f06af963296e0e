"""linear_shap against shap.LinearExplainer with an independent masker."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import explainers
from explainers import reference
from explainers.base import Explainer
from explainers.linear import LinearShap

shap = pytest.importorskip("shap")

TOL = 1e-6
# database=None: no .hypothesis folder in the repo; derandomize: same cases on every run.
SETTINGS = settings(max_examples=25, deadline=None, database=None, derandomize=True)


def _compare(explainer: Explainer, coef: np.ndarray, intercept, background: np.ndarray, rows: np.ndarray) -> float:
    values, base = reference.linear_shap(coef, intercept, background, rows)
    w = np.atleast_2d(coef)
    outputs = rows @ w.T + intercept
    worst = 0.0
    for i, row in enumerate(rows):
        for k in range(explainer.n_outputs):
            a = explainer.explain(row, k)
            np.testing.assert_allclose(a.values, values[i, :, k], rtol=0, atol=TOL)
            assert a.base_value == pytest.approx(base[k], abs=TOL)
            assert a.model_output == pytest.approx(outputs[i, k], abs=TOL)
            assert a.additivity_error < TOL
            assert a.exact is True
            worst = max(worst, float(np.abs(a.values - values[i, :, k]).max()))
    return worst


@SETTINGS
@given(seed=st.integers(0, 2**32 - 1), n_features=st.integers(1, 30), n_outputs=st.sampled_from([None, 2, 4]))
def test_linear_shap_matches_shap_on_tabular_models(seed: int, n_features: int, n_outputs: int | None) -> None:
    rng = np.random.default_rng(seed)
    shape = (n_features,) if n_outputs is None else (n_outputs, n_features)
    coef = rng.normal(size=shape) * rng.uniform(0.01, 5)
    intercept = float(rng.normal()) if n_outputs is None else rng.normal(size=n_outputs)
    background = rng.normal(size=(int(rng.integers(1, 80)), n_features)) * 3 + rng.normal(size=n_features)
    rows = rng.normal(size=(3, n_features)) * 3
    explainer = explainers.create("linear_shap", coef, intercept, background)
    assert explainer.n_outputs == (1 if n_outputs is None else n_outputs)
    _compare(explainer, coef, intercept, background, rows)


@SETTINGS
@given(seed=st.integers(0, 2**32 - 1), n_outputs=st.sampled_from([1, 3]))
def test_linear_shap_matches_shap_for_text_models_with_empty_background(seed: int, n_outputs: int) -> None:
    rng = np.random.default_rng(seed)
    n_features = 3000
    coef = rng.normal(size=(n_outputs, n_features))
    intercept = rng.normal(size=n_outputs)
    background = np.zeros((1, n_features))  # the empty message
    rows = np.zeros((2, n_features))
    for row in rows:  # a handful of tokens, as in one chat message, some repeated
        present = rng.choice(n_features, size=int(rng.integers(1, 25)), replace=False)
        row[present] = rng.integers(1, 4, size=present.size)
    explainer = LinearShap(coef, intercept, background)
    _compare(explainer, coef, intercept, background, rows)
    a = explainer.explain(rows[0])
    # Only the tokens in the message get attribution.
    assert set(np.flatnonzero(a.values)) <= set(np.flatnonzero(rows[0]))
    assert a.base_value == pytest.approx(intercept[0])


def test_linear_shap_rejects_background_of_the_wrong_width() -> None:
    with pytest.raises(ValueError, match="background"):
        LinearShap(np.ones(4), 0.0, np.zeros((2, 3)))


def test_linear_shap_accepts_scalar_intercept_for_multi_output() -> None:
    explainer = LinearShap(np.ones((2, 3)), 0.5, np.zeros((1, 3)))
    assert explainer.explain(np.array([1.0, 2.0, 3.0]), 1).model_output == pytest.approx(6.5)
