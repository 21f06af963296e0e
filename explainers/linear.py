"""Exact SHAP for linear models in closed form (interventional, independent features).

For f(x) = w.x + b and a background distribution with mean m, the Shapley value of
feature i is w_i (x_i - m_i) and the base value is w.m + b. No sampling, no shap import:
this runs on every chat turn, including linear-over-text models with thousands of
token features.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike

from explainers.base import Attribution, Explainer
from explainers.registry import register


@register
class LinearShap(Explainer):
    """Closed-form SHAP of a (multi-output) linear model against a background mean.

    `coef` is (K, F) or (F,), `intercept` is (K,) or a scalar, `background` is a 2-D
    array of rows whose column mean is the reference point. For a text model the
    background is one all-zeros row (the empty message), so only tokens present in the
    message receive attribution.
    """

    method = "linear_shap"
    exact = True

    def __init__(
        self, coef: ArrayLike, intercept: ArrayLike | float, background: ArrayLike, *, output_units: str = "logit"
    ) -> None:
        w = np.atleast_2d(np.asarray(coef, dtype=np.float64))
        if w.ndim != 2:
            raise ValueError(f"linear_shap: coef must be (K, F) or (F,), got shape {np.shape(coef)}")
        k, f = w.shape
        b = np.broadcast_to(np.asarray(intercept, dtype=np.float64).reshape(-1), (k,))
        bg = np.asarray(background, dtype=np.float64)
        if bg.ndim != 2 or bg.shape[1] != f or bg.shape[0] == 0:
            raise ValueError(f"linear_shap: background must be (n >= 1, {f}) rows, got shape {bg.shape}")
        # Row-contiguous so that w[k] is a contiguous view: no K x F work per call.
        self._coef = np.ascontiguousarray(w)
        self._intercept = np.array(b)
        self._mean = bg.mean(axis=0)
        # A zero mean (the text case) lets explain skip the subtraction entirely.
        self._mean_is_zero = not self._mean.any()
        self._base = self._coef @ self._mean + self._intercept
        self.output_units = output_units
        self.n_features = f
        self.n_outputs = k

    def explain(self, row: np.ndarray, output: int = 0) -> Attribution:
        """Exact interventional SHAP values of `row` for output `output`."""
        x = self._check(row, output)
        w = self._coef[output]
        values = w * x if self._mean_is_zero else w * (x - self._mean)
        # Computed from the model, not from base + sum(values), so additivity_error
        # reports real floating-point disagreement instead of being zero by design.
        model_output = float(w @ x + self._intercept[output])
        return Attribution(
            method=self.method,
            output_units=self.output_units,
            base_value=float(self._base[output]),
            values=values,
            model_output=model_output,
            exact=True,
        )
