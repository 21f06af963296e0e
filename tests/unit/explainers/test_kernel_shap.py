"""kernel_shap: additivity, exactness on linear models, weighted backgrounds, determinism, error estimate."""

from __future__ import annotations

import numpy as np
import pytest

from explainers import create, reference
from explainers.kernel import KernelShap
from explainers.linear import LinearShap

pytest.importorskip("shap")

N_FEATURES = 8


def _nonlinear(x: np.ndarray) -> np.ndarray:
    return np.tanh(x @ np.linspace(-1, 1, N_FEATURES)) + x[:, 0] * x[:, 1] * x[:, 2] + np.cos(x[:, 3] * x[:, 4])


def test_kernel_shap_is_registered_and_additive() -> None:
    rng = np.random.default_rng(0)
    background = rng.normal(size=(10, N_FEATURES))
    explainer = create("kernel_shap", _nonlinear, background, nsamples=100, seed=1, output_units="raw")
    assert isinstance(explainer, KernelShap)
    for row in rng.normal(size=(3, N_FEATURES)) * 2:
        a = explainer.explain(row)
        assert a.method == "kernel_shap"
        assert a.exact is False
        assert a.model_output == pytest.approx(_nonlinear(row[None])[0], abs=1e-12)
        assert a.base_value == pytest.approx(_nonlinear(background).mean(), abs=1e-12)
        assert a.additivity_error < 1e-9


def test_kernel_shap_is_exact_on_linear_models_with_weighted_backgrounds() -> None:
    rng = np.random.default_rng(1)
    coef, intercept = rng.normal(size=N_FEATURES), 0.3
    background = rng.normal(size=(6, N_FEATURES))
    weights = np.array([1, 2, 3, 1, 5, 8])
    replicated = np.repeat(background, weights, axis=0)  # what the weights stand for
    exact = LinearShap(coef, intercept, replicated)
    kernel = KernelShap(lambda x: x @ coef + intercept, background, weights=weights, nsamples=60, seed=2)
    for row in rng.normal(size=(3, N_FEATURES)):
        s, e = kernel.explain_sampled(row), exact.explain(row)
        np.testing.assert_allclose(s.attribution.values, e.values, rtol=0, atol=1e-9)
        assert s.attribution.base_value == pytest.approx(e.base_value, abs=1e-12)


def test_same_seed_same_explanation_and_global_rng_untouched() -> None:
    rng = np.random.default_rng(3)
    background, row = rng.normal(size=(5, N_FEATURES)), rng.normal(size=N_FEATURES)
    np.random.seed(42)
    expected = np.random.random()
    np.random.seed(42)
    a = KernelShap(_nonlinear, background, nsamples=50, seed=7).explain_sampled(row)
    b = KernelShap(_nonlinear, background, nsamples=50, seed=7).explain_sampled(row)
    assert np.random.random() == expected
    assert np.array_equal(a.attribution.values, b.attribution.values)
    assert np.array_equal(a.standard_errors, b.standard_errors)
    other = KernelShap(_nonlinear, background, nsamples=50, seed=8).explain(row)
    assert not np.array_equal(other.values, a.attribution.values)


def test_standard_errors_vanish_when_every_coalition_is_enumerated_and_track_the_error_otherwise() -> None:
    rng = np.random.default_rng(4)
    background, row = rng.normal(size=(5, N_FEATURES)), rng.normal(size=N_FEATURES) * 2
    full = KernelShap(_nonlinear, background, nsamples=2**N_FEATURES - 2, seed=0).explain_sampled(row)
    assert full.max_standard_error == 0.0  # every coalition: exact Shapley values of the game
    errors, spreads = [], []
    for seed in range(12):
        sampled = KernelShap(_nonlinear, background, nsamples=40, seed=seed).explain_sampled(row)
        errors.append(sampled.attribution.values - full.attribution.values)
        spreads.append(sampled.standard_errors)
    observed = np.sqrt(np.mean(np.square(errors), axis=0))
    estimated = np.mean(spreads, axis=0)
    # The bootstrap ignores shap's paired sampling, so it should not understate the error.
    print("kernel rms error", observed.round(4), "mean estimated standard error", estimated.round(4))
    assert np.all(estimated > 0)
    assert np.median(estimated / observed) > 0.5


def test_kernel_shap_equals_shaps_kernel_explainer_with_the_same_seed() -> None:
    rng = np.random.default_rng(4)
    background = rng.normal(size=(12, N_FEATURES))
    rows = rng.normal(size=(2, N_FEATURES))
    explainer = KernelShap(_nonlinear, background, nsamples=60, seed=9)
    values, base = reference.kernel_shap(_nonlinear, background, rows, nsamples=explainer.nsamples, seed=explainer.seed)
    for row, expected in zip(rows, values, strict=True):
        a = explainer.explain(row)
        np.testing.assert_allclose(a.values, expected[:, 0], rtol=0, atol=1e-9)
        assert a.base_value == pytest.approx(base[0], abs=1e-9)
