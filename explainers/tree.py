"""Exact TreeSHAP for gradient-boosted trees, via the model library's own implementation.

LightGBM and XGBoost ship path-dependent TreeSHAP in C++ (`pred_contrib` /
`pred_contribs`). Calling it directly gives the same numbers as `shap.TreeExplainer`
without importing shap, which keeps the cold start small.
"""

from __future__ import annotations

import sys
from typing import Any

import numpy as np

from explainers.base import Attribution, Explainer
from explainers.registry import register

XGBOOST_ROUNDS_PER_PART = 4


def _is_instance_of(obj: Any, module: str, cls_name: str) -> bool:
    # Look the class up only if its library is already loaded: a booster of that type
    # cannot exist otherwise, and importing xgboost just to say "no" would cost time.
    mod = sys.modules.get(module)
    cls = getattr(mod, cls_name, None) if mod is not None else None
    return isinstance(cls, type) and isinstance(obj, cls)


@register
class TreeShap(Explainer):
    """Path-dependent TreeSHAP of a LightGBM or XGBoost booster, in raw-margin units.

    `booster` is a `lightgbm.Booster` (or a fitted LightGBM scikit-learn estimator) or an
    `xgboost.Booster`. For binary models the single output is the log-odds margin; for
    multiclass models `output=k` explains class k's margin; for regression pass
    `output_units="raw"`.
    """

    method = "tree_shap"
    exact = True

    def __init__(self, booster: Any, *, output_units: str = "log_odds") -> None:
        # scikit-learn wrappers (LGBMClassifier, ...) carry the native booster.
        booster = getattr(booster, "booster_", booster)
        self.output_units = output_units
        self._booster = booster
        if _is_instance_of(booster, "lightgbm", "Booster"):
            self._kind = "lightgbm"
            self.n_features = int(booster.num_feature())
            self.n_outputs = int(booster.num_model_per_iteration())
        elif _is_instance_of(booster, "xgboost", "Booster"):
            self._kind = "xgboost"
            self.n_features = int(booster.num_features())
            # Margin width tells the output count without parsing the model's JSON.
            probe = self._xgb_predict(np.zeros((1, self.n_features)), output_margin=True)
            self.n_outputs = int(probe.reshape(1, -1).shape[1])
            # XGBoost sums contributions and margins in float32: over a whole ensemble that drifts by
            # ~2e-6 from the exact (float64) values. A few boosting rounds at a time, summed here in
            # float64, each part's rounding stays at its own small scale (bundled model: 1.5e-7 in
            # ~3 ms a row with 4 rounds a part; 1 round: 1.2e-7 in 9 ms; all at once: 2e-6 in 1 ms).
            rounds, step = booster.num_boosted_rounds(), XGBOOST_ROUNDS_PER_PART
            self._parts = [booster[i : min(i + step, rounds)] for i in range(0, rounds, step)]
            for part in self._parts:
                part.set_param({"nthread": 1})
        else:
            raise TypeError(f"tree_shap needs a lightgbm.Booster or xgboost.Booster, got {type(booster).__name__}")

    def _xgb_predict(self, x: np.ndarray, **kwargs: Any) -> np.ndarray:
        import xgboost  # the booster exists, so xgboost is installed and already imported

        return np.asarray(self._booster.predict(xgboost.DMatrix(x, nthread=1), validate_features=False, **kwargs))

    def _xgb_by_parts(self, x: np.ndarray, *requests: dict[str, Any]) -> list[np.ndarray]:
        """XGBoost's `predict(**request)` of one row for each request, summed over the parts in float64."""
        import xgboost

        first = xgboost.DMatrix(x, nthread=1)  # the first part carries the model's intercept (base score)
        rest = xgboost.DMatrix(x, base_margin=np.zeros((1, self.n_outputs)), nthread=1)  # the others: none
        totals = [np.zeros(1) for _ in requests]
        for i, part in enumerate(self._parts):
            for k, request in enumerate(requests):
                found = part.predict(first if i == 0 else rest, validate_features=False, **request)
                totals[k] = totals[k] + np.asarray(found, dtype=np.float64)
        return totals

    def margin(self, row: np.ndarray) -> np.ndarray:
        """The raw margins (one per output) of `row`, as `explain` reports them as the model's output."""
        x = np.asarray(row, dtype=np.float64).reshape(1, -1)
        if self._kind == "lightgbm":
            return np.asarray(self._booster.predict(x, raw_score=True, num_threads=1), dtype=np.float64).reshape(-1)
        return self._xgb_by_parts(x, {"output_margin": True})[0].reshape(-1)

    def explain(self, row: np.ndarray, output: int = 0) -> Attribution:
        """Exact SHAP values of `row` for output `output` (class index for multiclass)."""
        x = self._check(row, output).reshape(1, -1)
        f = self.n_features
        if self._kind == "lightgbm":
            # Contributions come as K blocks of F feature values plus the expected value.
            # One row: a single thread beats thread start-up, and a Lambda has about one vCPU anyway.
            contrib = np.asarray(self._booster.predict(x, pred_contrib=True, num_threads=1)).reshape(
                self.n_outputs, f + 1
            )
            margin = np.asarray(self._booster.predict(x, raw_score=True, num_threads=1)).reshape(-1)
        else:
            contrib, margin = self._xgb_by_parts(x, {"pred_contribs": True}, {"output_margin": True})
            contrib, margin = contrib.reshape(self.n_outputs, f + 1), margin.reshape(-1)
        block = contrib[output]
        return Attribution(
            method=self.method,
            output_units=self.output_units,
            base_value=float(block[f]),
            values=block[:f].copy(),
            model_output=float(margin[output]),
            exact=True,
        )
