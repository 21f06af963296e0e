"""`candor models check` for XGBoost and CatBoost models: shap's own values for the rows the check explains."""

from __future__ import annotations

from typing import Any

import numpy as np


def is_boosted(runtime: Any) -> bool:
    """An XGBoost or CatBoost runtime (their modules load only when a manifest names their format)."""
    return type(runtime).__name__ in ("XGBoostRuntime", "CatBoostRuntime")


def reference(runtime: Any, inputs: list[Any]) -> tuple[np.ndarray, np.ndarray]:
    """shap's values (rows, features, outputs) and base values of `inputs`, binary models (one output)."""
    import shap

    from explainers import reference as shap_reference

    if type(runtime).__name__ == "XGBoostRuntime":  # shap's C++ TreeSHAP, not XGBoost's pred_contribs
        return shap_reference.xgboost_tree_shap(runtime.booster, np.array([runtime.encode(row) for row in inputs]))
    found = shap.TreeExplainer(runtime.model)(runtime.pool([runtime.encode(row) for row in inputs]))
    values = np.asarray(found.values, dtype=np.float64)
    bases = np.asarray(found.base_values, dtype=np.float64).reshape(len(inputs), -1)[0]
    return values.reshape(len(inputs), values.shape[1], -1), bases
