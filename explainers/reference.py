"""shap's own implementation of each of Candor's explainers, to check Candor's numbers against.

Used by `candor models check` and by the tests; never to serve (it imports shap, and is
slower). Each function returns SHAP values shaped (rows, features, outputs) and base
values shaped (outputs,), in the model's raw output units.

- `tree_shap`: shap's C++ TreeSHAP on the trees shap itself parses from the model's dump.
  `shap.TreeExplainer(booster)` would otherwise hand the work to LightGBM's
  `pred_contrib`, the very call Candor's `tree_shap` makes, and the check would be circular.
- `xgboost_tree_shap`: the same for XGBoost boosters, whose `pred_contribs` shap would call.
- `linear_shap`: `shap.LinearExplainer` with an independent masker over the background.
- `permutation_shap`, `kernel_shap`: shap's explainers with the same background, budget
  and seed as Candor's, so a same-seed run must give the same estimate.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from explainers.sampled import seeded_global_rng

Model = Callable[[np.ndarray], ArrayLike]


def tree_shap(model: Any, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Path-dependent TreeSHAP of a LightGBM booster (or scikit-learn wrapper) from shap's C extension.

    shap reads the booster's `dump_model()` into its own trees; those trees, handed back
    to shap as a plain list, make an explainer of model type "internal" that has no
    LightGBM object to delegate to. Multiclass boosters interleave one tree per class per
    iteration, so class k is trees k, k + K, k + 2K, ... (shap would sum them all for a
    bare Booster).
    """
    import shap

    booster = getattr(model, "booster_", model)
    parsed = shap.TreeExplainer(booster).model
    if parsed.trees is None:  # shap could not parse them: LightGBM categorical splits
        raise ValueError("shap cannot read this model's trees (LightGBM categorical splits?)")
    per_iteration = int(booster.num_model_per_iteration())
    values, bases = [], []
    for k in range(per_iteration):
        explainer = shap.TreeExplainer(parsed.trees[k::per_iteration])
        if explainer.model.model_type != "internal" or explainer.feature_perturbation != "tree_path_dependent":
            raise AssertionError("shap did not take its own path-dependent TreeSHAP")  # pragma: no cover
        values.append(np.asarray(explainer.shap_values(rows), dtype=np.float64).reshape(rows.shape))
        bases.append(float(np.asarray(explainer.expected_value, dtype=np.float64).reshape(-1)[0]))
    return np.stack(values, axis=-1), np.array(bases)


def xgboost_tree_shap(booster: Any, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Path-dependent TreeSHAP of an XGBoost booster from shap's C extension, not XGBoost's `pred_contribs`.

    As for LightGBM, the trees shap parses go back to it as a plain list ("internal" model).
    Its parsed XGBoost nodes carry no inner values, so the base value is computed here: each
    tree's cover-weighted mean leaf, plus the booster's base margin. Rows go in as float32,
    the precision XGBoost compares thresholds in. Binary and regression boosters (one output).
    """
    import shap

    parsed = shap.TreeExplainer(booster).model
    if int(parsed.num_outputs) != 1:
        raise ValueError("xgboost_tree_shap compares single-output boosters only")
    explainer = shap.TreeExplainer(parsed.trees)
    if explainer.model.model_type != "internal" or explainer.feature_perturbation != "tree_path_dependent":
        raise AssertionError("shap did not take its own path-dependent TreeSHAP")  # pragma: no cover
    # shap's own additivity check would use the missing inner values; the callers check additivity themselves.
    values = explainer.shap_values(rows.astype(np.float32), check_additivity=False)
    base = sum(_mean_leaf(tree) for tree in parsed.trees) + float(np.asarray(parsed.base_offset).reshape(-1)[0])
    return np.asarray(values, dtype=np.float64).reshape((*rows.shape, 1)), np.array([base])


def _mean_leaf(tree: Any) -> float:
    """A tree's expected output over its training data: leaves weighted by their cover."""
    left, right, weight, value = tree.children_left, tree.children_right, tree.node_sample_weight, tree.values

    def total(node: int) -> float:
        if left[node] < 0:
            return float(value[node, 0]) * float(weight[node])
        return total(left[node]) + total(right[node])

    return total(0) / float(weight[0])


def linear_shap(
    coef: ArrayLike, intercept: ArrayLike | float, background: np.ndarray, rows: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Interventional linear SHAP from `shap.LinearExplainer` (every background row kept)."""
    import shap

    masker = shap.maskers.Independent(background, max_samples=background.shape[0])
    explainer = shap.LinearExplainer((coef, intercept), masker)
    n_features = np.atleast_2d(np.asarray(coef)).shape[-1]
    values = np.asarray(explainer.shap_values(rows), dtype=np.float64).reshape(rows.shape[0], n_features, -1)
    return values, np.atleast_1d(np.asarray(explainer.expected_value, dtype=np.float64))


def permutation_shap(
    f: Model, background: np.ndarray, rows: np.ndarray, *, max_evals: int, seed: int
) -> tuple[np.ndarray, np.ndarray]:
    """`shap.PermutationExplainer` over `background` (all of it), `max_evals` per row, seeded as Candor seeds it."""
    import shap

    def outputs(x: np.ndarray) -> np.ndarray:
        return np.asarray(f(x), dtype=np.float64).reshape(x.shape[0], -1)

    masker = shap.maskers.Independent(background, max_samples=background.shape[0])
    values, bases = [], []
    for row in rows:
        with seeded_global_rng(seed):
            explainer = shap.PermutationExplainer(outputs, masker, seed=seed)
            result = explainer(row[None, :], max_evals=max_evals, silent=True)
        values.append(np.asarray(result.values, dtype=np.float64).reshape(rows.shape[1], -1))
        bases.append(np.asarray(result.base_values, dtype=np.float64).reshape(-1))
    return np.stack(values), bases[0]


def kernel_shap(
    f: Model, background: np.ndarray, rows: np.ndarray, *, nsamples: int, seed: int
) -> tuple[np.ndarray, np.ndarray]:
    """`shap.KernelExplainer` over `background` (equal weights), `nsamples` coalitions, no L1, seeded."""
    import shap

    def outputs(x: np.ndarray) -> np.ndarray:
        return np.asarray(f(x), dtype=np.float64).reshape(x.shape[0], -1)

    values = []
    for row in rows:
        with seeded_global_rng(seed):  # KernelExplainer draws its coalitions from np.random
            explainer = shap.KernelExplainer(outputs, background)
            found = explainer.shap_values(row[None, :], nsamples=nsamples, l1_reg=False, silent=True)
        values.append(np.asarray(found, dtype=np.float64).reshape(rows.shape[1], -1))
    return np.stack(values), np.atleast_1d(np.asarray(explainer.expected_value, dtype=np.float64))
