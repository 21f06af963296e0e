"""Sampled SHAP for black-box models: shap's PermutationExplainer within an evaluation budget.

Used where the model is only a callable (a SageMaker endpoint, a Lambda function, an
HTTPS service). shap is imported here, inside the constructor, and nowhere else in
`explainers`, so functions that never explain black boxes never pay its import cost.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import partial
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from explainers.base import Attribution, Explainer
from explainers.registry import register
from explainers.sampled import SampledAttribution, permutation_standard_errors, seeded_global_rng

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
    models with at most pairwise interactions), so `exact` is False. `explain_sampled`
    also gives each value's standard error, and can run against another model function
    (the record/replay stand-ins of `explainers.replay`) or fewer permutations.
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
        self._active: Model = f  # what shap's calls reach: `f`, or a replay stand-in during explain_sampled
        self.background = bg
        self._max_evals = int(max_evals)
        self._seed = int(seed)
        self.output_units = output_units
        # One probe call tells the output width; callers that know it can skip the call.
        self.n_outputs = int(n_outputs) if n_outputs is not None else self._outputs(bg[:1]).shape[1]
        masker = shap.maskers.Independent(bg, max_samples=bg.shape[0])
        names = list(feature_names) if feature_names is not None else None
        with seeded_global_rng(self._seed):
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

    @property
    def max_evals(self) -> int:
        """The configured budget, in shap evaluations (masks) per explanation."""
        return self._max_evals

    @property
    def seed(self) -> int:
        """The seed every explanation re-seeds shap's draws with."""
        return self._seed

    def evaluations_per_permutation(self, row: np.ndarray) -> int:
        """Masks shap evaluates per permutation of `row`: 2F' + 1, F' = features differing from some background row.

        The same test as shap's masker (`np.isclose(x, background)`), so `permutations *
        evaluations_per_permutation(row)` as `max_evals` runs exactly that many permutations.
        """
        x = self._check(row, 0)
        varying = int(np.any(~np.isclose(x, self.background), axis=0).sum())
        return 2 * varying + 1

    def _outputs(self, x: np.ndarray) -> np.ndarray:
        """Model outputs as an (n, K) float64 array whatever shape the active model returns."""
        y = np.asarray(self._active(x), dtype=np.float64)
        return y.reshape(x.shape[0], -1)

    def explain(self, row: np.ndarray, output: int = 0, *, model_output: float | None = None) -> Attribution:
        """Sampled SHAP values of `row` for output `output`, deterministic for a given seed.

        `model_output`, when the caller already has the model's output for `row` (the
        decision call), is used instead of calling the model once more.
        """
        return self.explain_sampled(row, output, model_output=model_output).attribution

    def explain_sampled(
        self,
        row: np.ndarray,
        output: int = 0,
        *,
        model: Model | None = None,
        model_output: float | None = None,
        max_evals: int | None = None,
        standard_errors: bool = True,
    ) -> SampledAttribution:
        """Like `explain`, with a standard error per value; optionally against `model` or a smaller `max_evals`.

        Standard errors come from the permutations' own spread
        (`permutation_standard_errors`: P - 1 more local runs of shap); `standard_errors=False`
        skips that work (a recording pass) and reports the single-pass spread, an upper bound.
        """
        x = self._check(row, output).reshape(1, -1)
        evals = self._max_evals if max_evals is None else int(max_evals)
        permutations = evals // self.evaluations_per_permutation(x[0])
        self._active = self._f if model is None else model
        try:
            with seeded_global_rng(self._seed):
                result = self._shap(x, max_evals=evals, error_bounds=True, silent=True)
            if model_output is None:
                model_output = float(self._outputs(x)[0, output])
            values = self._values(result, output)
            if permutations >= 2 and standard_errors:
                errors = permutation_standard_errors(partial(self._prefix_values, x, output), values, permutations)
            else:  # the spread of single passes: an upper bound (and all one permutation offers)
                errors = self._values(result, output, field="error_std")
        finally:
            self._active = self._f
        base = np.asarray(result.base_values, dtype=np.float64).reshape(self.n_outputs)
        attribution = Attribution(
            method=self.method,
            output_units=self.output_units,
            base_value=float(base[output]),
            values=np.ascontiguousarray(values),
            model_output=float(model_output),
            exact=False,
        )
        return SampledAttribution(attribution, errors, samples=permutations, partial=evals < self._max_evals)

    def _values(self, result: Any, output: int, field: str = "values") -> np.ndarray:
        """One output's column of shap's per-feature result for one row."""
        return np.asarray(getattr(result, field), dtype=np.float64).reshape(self.n_features, self.n_outputs)[:, output]

    def _prefix_values(self, x: np.ndarray, output: int, permutations: int) -> np.ndarray:
        with seeded_global_rng(self._seed):
            result = self._shap(x, max_evals=permutations * self.evaluations_per_permutation(x[0]), silent=True)
        return self._values(result, output)
