"""permutation_shap: additivity, agreement with exact linear SHAP, determinism."""

from __future__ import annotations

import numpy as np
import pytest

from explainers import reference
from explainers.linear import LinearShap
from explainers.permutation import PermutationShap

pytest.importorskip("shap")

TOL = 1e-6
N_FEATURES = 12


def _nonlinear_model(seed: int):
    """A smooth black box with interactions up to third order and two outputs."""
    rng = np.random.default_rng(seed)
    w = rng.normal(size=(N_FEATURES, 2))

    def f(x: np.ndarray) -> np.ndarray:
        z = x @ w
        interaction = x[:, 0] * x[:, 1] * x[:, 2] + np.sin(x[:, 3] * x[:, 4])
        return np.column_stack([np.tanh(z[:, 0]) + interaction, z[:, 1] ** 2 / 10])

    return f


@pytest.mark.parametrize("seed", range(4))
def test_permutation_shap_is_additive(seed: int) -> None:
    rng = np.random.default_rng(seed)
    f = _nonlinear_model(seed)
    background = rng.normal(size=(60, N_FEATURES))
    explainer = PermutationShap(f, background, max_evals=300, seed=seed)
    assert explainer.n_outputs == 2
    for row in rng.normal(size=(3, N_FEATURES)) * 2:
        for k in range(2):
            a = explainer.explain(row, k)
            assert a.method == "permutation_shap"
            assert a.exact is False
            assert a.model_output == pytest.approx(f(row[None])[0, k], abs=1e-12)
            assert a.base_value == pytest.approx(f(background)[:, k].mean(), abs=TOL)
            assert a.additivity_error < TOL


@pytest.mark.parametrize(("seed", "n_outputs"), [(0, None), (1, None), (2, 3), (3, 3)])
def test_permutation_shap_equals_exact_linear_shap_on_linear_models(seed: int, n_outputs: int | None) -> None:
    rng = np.random.default_rng(seed)
    shape = (N_FEATURES,) if n_outputs is None else (n_outputs, N_FEATURES)
    coef = rng.normal(size=shape)
    intercept = rng.normal(size=1 if n_outputs is None else n_outputs)
    background = rng.normal(size=(50, N_FEATURES)) + 1.0

    def f(x: np.ndarray) -> np.ndarray:
        y = x @ np.atleast_2d(coef).T + intercept
        return y[:, 0] if n_outputs is None else y

    sampled = PermutationShap(f, background, max_evals=2 * N_FEATURES + 1, seed=seed)
    exact = LinearShap(coef, intercept, background)
    for row in rng.normal(size=(3, N_FEATURES)) * 3:
        for k in range(exact.n_outputs):
            s, e = sampled.explain(row, k), exact.explain(row, k)
            np.testing.assert_allclose(s.values, e.values, rtol=0, atol=TOL)
            assert s.base_value == pytest.approx(e.base_value, abs=TOL)
            assert s.model_output == pytest.approx(e.model_output, abs=TOL)


def test_permutation_shap_same_seed_same_explanation() -> None:
    rng = np.random.default_rng(7)
    f = _nonlinear_model(7)
    background = rng.normal(size=(40, N_FEATURES))
    row = rng.normal(size=N_FEATURES) * 2
    first = PermutationShap(f, background, max_evals=100, seed=11)
    second = PermutationShap(f, background, max_evals=100, seed=11)
    a = first.explain(row)
    np.random.seed(12345)  # unrelated use of the global RNG must not change the result
    np.random.random(10)
    assert np.array_equal(first.explain(row).values, a.values)
    assert np.array_equal(second.explain(row).values, a.values)
    assert first.explain(row).base_value == a.base_value
    # A different seed draws different permutations; with third-order interactions
    # and few permutations that shows up in the values.
    other = PermutationShap(f, background, max_evals=100, seed=12).explain(row)
    assert not np.array_equal(other.values, a.values)


def test_permutation_shap_leaves_global_rng_alone() -> None:
    f = _nonlinear_model(0)
    background = np.random.default_rng(0).normal(size=(20, N_FEATURES))
    np.random.seed(99)
    expected = np.random.random()
    np.random.seed(99)
    explainer = PermutationShap(f, background, max_evals=60)
    explainer.explain(np.ones(N_FEATURES))
    assert np.random.random() == expected


def test_permutation_shap_subsamples_large_backgrounds_deterministically() -> None:
    f = _nonlinear_model(1)
    background = np.random.default_rng(1).normal(size=(500, N_FEATURES))
    row = np.full(N_FEATURES, 0.5)
    a = PermutationShap(f, background, max_evals=60, max_background=30, seed=3).explain(row)
    b = PermutationShap(f, background, max_evals=60, max_background=30, seed=3).explain(row)
    assert np.array_equal(a.values, b.values)
    assert a.additivity_error < TOL


def test_permutation_shap_refuses_a_budget_below_one_permutation() -> None:
    with pytest.raises(ValueError, match="max_evals"):
        PermutationShap(_nonlinear_model(0), np.zeros((5, N_FEATURES)), max_evals=2 * N_FEATURES)


def test_warm_up_needs_no_model_and_leaves_explanations_unchanged() -> None:
    rng = np.random.default_rng(5)
    f = _nonlinear_model(5)
    background = rng.normal(size=(30, N_FEATURES))
    row = rng.normal(size=N_FEATURES)
    before = PermutationShap(f, background, max_evals=100).explain(row)
    PermutationShap.warm_up()
    after = PermutationShap(f, background, max_evals=100).explain(row)
    assert np.array_equal(before.values, after.values)


def test_permutation_shap_equals_shaps_permutation_explainer_with_the_same_seed() -> None:
    rng = np.random.default_rng(8)
    f = _nonlinear_model(8)
    explainer = PermutationShap(f, rng.normal(size=(150, N_FEATURES)), max_evals=100, seed=4)  # subsampled to 100
    rows = rng.normal(size=(2, N_FEATURES))
    values, base = reference.permutation_shap(
        f, explainer.background, rows, max_evals=explainer.max_evals, seed=explainer.seed
    )
    for row, expected in zip(rows, values, strict=True):
        for k in range(2):
            a = explainer.explain(row, k)
            np.testing.assert_allclose(a.values, expected[:, k], rtol=0, atol=TOL)
            assert a.base_value == pytest.approx(base[k], abs=TOL)
