"""Kernel SHAP for black-box models: shap's KernelExplainer, seeded, on a weighted background.

The model is only a callable (an endpoint, a function). The background may carry
weights (a k-means summary: each representative row weighted by its cluster's size),
which shap's KernelExplainer honours. shap is imported lazily, as in `permutation`.

Error estimate: shap reports no usable variance for Kernel SHAP (its `phi_var` is all
ones), so the standard errors here come from a seeded bootstrap of the randomly drawn
coalitions. Coalition sizes that shap enumerates completely are exact and kept fixed;
the drawn ones are resampled with replacement (by their draw counts), the weighted least
squares fit of shap is solved again for each resample, and the standard deviation of the
replicates is each value's standard error. No model call is needed: the outputs of every
coalition are already known. shap draws each coalition with its complement (antithetic);
resampling coalitions one by one ignores that pairing, which overstates the error.
"""

from __future__ import annotations

from collections.abc import Callable
from math import comb
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from explainers.base import Attribution, Explainer
from explainers.registry import register
from explainers.sampled import SampledAttribution, seeded_global_rng

Model = Callable[[np.ndarray], ArrayLike]
BOOTSTRAP_REPLICATES = 200


@register
class KernelShap(Explainer):
    """Model-agnostic SHAP by weighted linear regression over sampled coalitions (`shap.KernelExplainer`).

    `f` maps an (n, F) array to (n,) or (n, K) outputs in `output_units`. Features absent
    from a coalition take the values of each `background` row, averaged with `weights`
    (uniform by default). `nsamples` coalitions are evaluated per explanation (default
    2F + 2048, shap's own), each against every background row. No L1 feature selection:
    every feature gets a value. Same row and seed, same explanation.
    """

    method = "kernel_shap"
    exact = False

    def __init__(
        self,
        f: Model,
        background: ArrayLike,
        *,
        weights: ArrayLike | None = None,
        nsamples: int | None = None,
        seed: int = 0,
        output_units: str = "raw",
        n_outputs: int | None = None,
    ) -> None:
        bg = np.asarray(background, dtype=np.float64)
        if bg.ndim != 2 or bg.shape[0] == 0:
            raise ValueError(f"kernel_shap: background must be a non-empty 2-D array, got shape {bg.shape}")
        w = np.ones(bg.shape[0]) if weights is None else np.asarray(weights, dtype=np.float64).reshape(-1)
        if w.shape != (bg.shape[0],) or not np.all(w > 0):
            raise ValueError(f"kernel_shap: weights must be {bg.shape[0]} positive numbers, one per background row")
        self.n_features = int(bg.shape[1])
        self.background = bg
        self.weights = w / w.sum()
        self.nsamples = int(nsamples) if nsamples is not None else 2 * self.n_features + 2048
        if self.nsamples < 2:
            raise ValueError(f"kernel_shap: nsamples={self.nsamples} is below 2")
        self._f = f
        self._seed = int(seed)
        self.output_units = output_units
        self.n_outputs = int(n_outputs) if n_outputs is not None else _as_matrix(f(bg[:1]), 1).shape[1]

    @property
    def seed(self) -> int:
        """The seed every explanation re-seeds shap's draws with."""
        return self._seed

    def explain(self, row: np.ndarray, output: int = 0, *, model_output: float | None = None) -> Attribution:
        """Sampled SHAP values of `row` for output `output`; `model_output` spares the call on `row` itself."""
        return self.explain_sampled(row, output, model_output=model_output).attribution

    def explain_sampled(
        self,
        row: np.ndarray,
        output: int = 0,
        *,
        model: Model | None = None,
        model_output: float | None = None,
        nsamples: int | None = None,
    ) -> SampledAttribution:
        """Like `explain`, with a bootstrap standard error per value; optionally against `model` or fewer samples.

        The explainer is built per call (cheap: it wraps the background) because shap's
        KernelExplainer evaluates the background in its constructor, and those rows belong
        to this explanation's model calls (and to a replay's recording).
        """
        import shap  # deliberately lazy: see the module docstring
        from shap.utils._legacy import DenseData

        x = self._check(row, output).reshape(1, -1)
        f = self._f if model is None else model
        n = self.nsamples if nsamples is None else int(nsamples)
        data = DenseData(self.background, [str(i) for i in range(self.n_features)], None, self.weights.copy())
        with seeded_global_rng(self._seed):
            # KernelExplainer has no seed of its own: it draws coalitions from np.random.
            kernel = shap.KernelExplainer(lambda rows: _as_matrix(f(rows), self.n_outputs), data)
            values = np.asarray(kernel.shap_values(x, nsamples=n, l1_reg=False, silent=True), dtype=np.float64)
        values = values.reshape(self.n_features, self.n_outputs)[:, output]
        fx = float(kernel.fx[output]) if model_output is None else float(model_output)
        errors = _bootstrap_errors(kernel, output, self._seed)
        attribution = Attribution(
            method=self.method,
            output_units=self.output_units,
            base_value=float(np.asarray(kernel.fnull).reshape(-1)[output]),
            values=np.ascontiguousarray(values),
            model_output=fx,
            exact=False,
        )
        return SampledAttribution(attribution, errors, samples=int(getattr(kernel, "nsamplesAdded", 0)))


def _as_matrix(y: ArrayLike, width: int) -> np.ndarray:
    arr = np.asarray(y, dtype=np.float64)
    return arr.reshape(arr.shape[0], width) if arr.ndim else arr.reshape(1, width)


def _enumerated_samples(m: int, nsamples: int) -> int:
    """How many of shap's coalitions are whole enumerated subset sizes (mirrors KernelExplainer.explain)."""
    num_subset_sizes = int(np.ceil((m - 1) / 2.0))
    num_paired = int(np.floor((m - 1) / 2.0))
    weight_vector = np.array([(m - 1.0) / (i * (m - i)) for i in range(1, num_subset_sizes + 1)])
    weight_vector[:num_paired] *= 2
    weight_vector /= weight_vector.sum()
    remaining = weight_vector.copy()
    left, fixed = nsamples, 0
    for size in range(1, num_subset_sizes + 1):
        nsubsets = comb(m, size) * (2 if size <= num_paired else 1)
        if left * remaining[size - 1] / nsubsets < 1.0 - 1e-8:
            break
        left -= nsubsets
        fixed += nsubsets
        if remaining[size - 1] < 1.0:
            remaining /= 1 - remaining[size - 1]
    return fixed


def _solve(mask: np.ndarray, weights: np.ndarray, ey: np.ndarray, total: float) -> np.ndarray:
    """shap's constrained weighted least squares (no L1): values summing to `total`."""
    last = mask.shape[1] - 1
    y = ey - mask[:, last] * total
    design = mask[:, :last] - mask[:, [last]]
    weighted = weights[:, None] * design
    w, *_ = np.linalg.lstsq(design.T @ weighted, weighted.T @ y, rcond=None)
    return np.append(w, total - w.sum())


def _bootstrap_errors(kernel: Any, output: int, seed: int) -> np.ndarray:
    """Standard error per feature (zeros where shap enumerated every coalition, i.e. the values are exact)."""
    n_features = kernel.data.groups_size
    errors = np.zeros(n_features)
    m = int(getattr(kernel, "M", 0))
    if m < 2:
        return errors  # 0 or 1 varying feature: the value is the whole difference, exactly
    n = int(kernel.nsamplesAdded)
    fixed = min(_enumerated_samples(m, int(kernel.nsamples)), n)
    if fixed == n:
        return errors
    mask = kernel.maskMatrix[:n]
    weights = kernel.kernelWeights[:n].copy()
    ey = kernel.ey[:n, output] - kernel.fnull[output]
    total = float(kernel.fx[output] - kernel.fnull[output])
    drawn = weights[fixed:]
    # Drawn coalitions carry weight proportional to how often they were drawn.
    counts = np.maximum(np.rint(drawn / drawn.min()), 1.0)
    rng = np.random.default_rng(seed)
    replicates = np.empty((BOOTSTRAP_REPLICATES, m))
    for b in range(BOOTSTRAP_REPLICATES):
        resampled = rng.multinomial(int(counts.sum()), counts / counts.sum()).astype(np.float64)
        weights[fixed:] = resampled * (drawn.sum() / resampled.sum())
        replicates[b] = _solve(mask, weights, ey, total)
    errors[kernel.varyingInds] = replicates.std(axis=0, ddof=1)
    return errors
