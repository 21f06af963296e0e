"""Sampled SHAP for black-box models: shap's PermutationExplainer within an evaluation budget.

Used where the model is only a callable (a SageMaker endpoint, a Lambda function, an
HTTPS service). shap is imported here, inside the constructor, and nowhere else in
`explainers`, so functions that never explain black boxes never pay its import cost.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager

import numpy as np
from numpy.typing import ArrayLike

from explainers.base import Attribution, Explainer
from explainers.registry import register

Model = Callable[[np.ndarray], ArrayLike]


@register
class PermutationShap(Explainer):
    """Model-agnostic SHAP by antithetic feature permutations (`shap.PermutationExplainer`).

    `f` maps an (n, F) array to (n,) or (n, K) outputs in `output_units`. Features
    absent from a coalition take values from `background` rows (independent masker;
    at most `max_background` rows, subsampled with `seed`). `max_evals` bounds the
    model evaluations per row (each evaluation covers every background row) and must
    be at least 2F + 1, one full forward-and-back permutation. The same row always
    gets the same explanation: the RNG is re-seeded with `seed` on every call.

    Additivity holds exactly by construction, but the values are estimates (exact for
    models with at most pairwise interactions), so `exact` is False.
    """

    method = "permutation_shap"
    exact = False

    def __init__(
        self,
        f: Model,
        background: ArrayLike,
        *,
        max_evals: int = 500,
        seed: int = 0,
        output_units: str = "raw",
        feature_names: Sequence[str] | None = None,
        max_background: int = 100,
        n_outputs: int | None = None,
    ) -> None:
        import shap  # deliberately lazy: see the module docstring

        bg = np.asarray(background, dtype=np.float64)
        if bg.ndim != 2 or bg.shape[0] == 0:
            raise ValueError(f"permutation_shap: background must be a non-empty 2-D array, got shape {bg.shape}")
        self.n_features = int(bg.shape[1])
        if max_evals < 2 * self.n_features + 1:
            # Caught here, at cold start, rather than by shap on the first request.
            raise ValueError(
                f"permutation_shap: max_evals={max_evals} is below 2 * {self.n_features} + 1, one full permutation"
            )
        if bg.shape[0] > max_background:
            # Subsample ourselves (seeded) instead of letting shap do it: shap's sampler
            # pulls in scikit-learn.
            keep = np.random.default_rng(seed).choice(bg.shape[0], size=max_background, replace=False)
            bg = bg[np.sort(keep)]
        self._f = f
        self._max_evals = int(max_evals)
        self._seed = int(seed)
        self.output_units = output_units
        # One probe call tells the output width; callers that know it can skip the call.
        self.n_outputs = int(n_outputs) if n_outputs is not None else self._outputs(bg[:1]).shape[1]
        masker = shap.maskers.Independent(bg, max_samples=bg.shape[0])
        names = list(feature_names) if feature_names is not None else None
        with _seeded_global_rng(self._seed):
            # shap seeds numpy's global RNG in its constructor; keep that local to us.
            self._shap = shap.PermutationExplainer(self._outputs, masker, feature_names=names, seed=self._seed)

    @staticmethod
    def warm_up() -> None:
        """Compile shap's numba kernels now, once per process, without calling any real model.

        shap's masking code is JIT-compiled by numba on first use and shap does not cache
        the result on disk, so the first permutation explanation in a process takes about
        ten seconds. Call this during cold start (or at build time of a warm pool) so that
        cost does not land inside a request's deadline. Later explainers reuse the
        compiled kernels whatever their model, width or background.
        """
        rng = np.random.default_rng(0)
        stand_in = PermutationShap(lambda x: x.sum(axis=1), rng.normal(size=(2, 3)), max_evals=7, n_outputs=1)
        stand_in.explain(np.ones(3))

    def _outputs(self, x: np.ndarray) -> np.ndarray:
        """Model outputs as an (n, K) float64 array whatever shape `f` returns."""
        y = np.asarray(self._f(x), dtype=np.float64)
        return y.reshape(x.shape[0], -1)

    def explain(self, row: np.ndarray, output: int = 0) -> Attribution:
        """Sampled SHAP values of `row` for output `output`, deterministic for a given seed."""
        x = self._check(row, output).reshape(1, -1)
        with _seeded_global_rng(self._seed):
            result = self._shap(x, max_evals=self._max_evals, silent=True)
        values = np.asarray(result.values, dtype=np.float64).reshape(self.n_features, self.n_outputs)
        base = np.asarray(result.base_values, dtype=np.float64).reshape(self.n_outputs)
        model_output = self._outputs(x)[0, output]
        return Attribution(
            method=self.method,
            output_units=self.output_units,
            base_value=float(base[output]),
            values=np.ascontiguousarray(values[:, output]),
            model_output=float(model_output),
            exact=False,
        )


@contextmanager
def _seeded_global_rng(seed: int) -> Iterator[None]:
    """Seed numpy's global RNG for a block, then restore the caller's state.

    shap's PermutationExplainer draws its permutations from `np.random`; re-seeding per
    call is what makes the explanation of a row reproducible, and restoring the state
    keeps that from leaking into anything else in the process.
    """
    saved = np.random.get_state()
    np.random.seed(seed)
    try:
        yield
    finally:
        np.random.set_state(saved)
