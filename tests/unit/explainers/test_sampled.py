"""The standard errors of permutation SHAP: honest on draws whose spread is known."""

import numpy as np
import pytest

from explainers.sampled import permutation_standard_errors


@pytest.mark.parametrize("permutations", [2, 3, 8, 80])
def test_the_variance_estimate_is_unbiased_for_independent_permutations(permutations):
    rng = np.random.default_rng(permutations)
    sigma, features, trials = 2.0, 4, 3000
    variances = []
    for _ in range(trials):
        draws = rng.normal(0.5, sigma, size=(permutations, features))
        running = np.cumsum(draws, axis=0) / np.arange(1, permutations + 1)[:, None]
        errors = permutation_standard_errors(lambda k, r=running: r[k - 1], running[-1], permutations)
        variances.append(errors**2)
    assert np.mean(variances) == pytest.approx(sigma**2 / permutations, rel=0.05)


def test_identical_permutations_have_no_error():
    same = np.array([1.0, -2.0, 0.25])
    assert np.array_equal(permutation_standard_errors(lambda k: same, same, 12), np.zeros(3))
