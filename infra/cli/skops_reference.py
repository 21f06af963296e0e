"""shap's own explanation of a scikit-learn pipeline, per original feature, to check `sklearn_skops` models against.

Used by `candor models check` and the tests, never to serve. The final estimator is
explained by shap (`TreeExplainer`, or `LinearExplainer` over the background after
preprocessing) on the columns the preprocessing outputs, and each column's values are
summed into the feature its *output name* comes from (`categories__payment_method_card`
-> `payment_method`): a route independent of the runtime's, which reads the
`ColumnTransformer`'s structure instead.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from functions.adapters.skops_model import model_row
from functions.schemas.api import FeatureValue
from functions.schemas.manifest import ModelManifest


def pipeline_shap(
    model: Any,
    manifest: ModelManifest,
    inputs: Sequence[Mapping[str, FeatureValue]],
    background: Sequence[Mapping[str, FeatureValue]] = (),
) -> tuple[np.ndarray, np.ndarray]:
    """SHAP values (rows, features, labels) and base values (labels,), labels in the manifest's order.

    Binary margin models have one output, the log-odds of `classes_[1]`; the other label's
    log-odds is its negative, so both are returned.
    """
    import pandas as pd
    import shap
    from sklearn.pipeline import Pipeline

    names = [f.name for f in manifest.features]
    preprocess, estimator = (model[:-1], model[-1]) if isinstance(model, Pipeline) else (None, model)

    def encoded(rows: Sequence[Mapping[str, FeatureValue]]) -> np.ndarray:
        frame: Any = pd.DataFrame([model_row(manifest, row) for row in rows], columns=names)
        if not hasattr(model, "feature_names_in_"):
            frame = frame.to_numpy(dtype=object)
        return np.asarray(frame if preprocess is None else preprocess.transform(frame), dtype=np.float64)

    if manifest.explainer.method == "tree_shap":
        explainer = shap.TreeExplainer(estimator)
    else:
        explainer = shap.LinearExplainer(estimator, encoded(background))
    values = np.asarray(explainer.shap_values(encoded(inputs)), dtype=np.float64)
    base = np.atleast_1d(np.asarray(explainer.expected_value, dtype=np.float64))
    if values.ndim == 2:  # one margin: classes_[1]'s log-odds
        values = np.stack([-values, values], axis=2)
        base = np.array([-base[0], base[0]])
    classes = [str(c) for c in estimator.classes_]
    order = [classes.index(label.name) for label in manifest.labels]
    values, base = values[:, :, order], base[order]
    columns = [names.index(n) for n in names] if preprocess is None else _owners(preprocess, names)
    grouped = np.zeros((values.shape[0], len(names), values.shape[2]))
    for column, feature in enumerate(columns):
        grouped[:, feature, :] += values[:, column, :]
    return grouped, base


def _owners(preprocess: Any, names: list[str]) -> list[int]:
    """The feature each output column comes from, by its name: the longest feature name it starts with."""
    owners = []
    for column in preprocess.get_feature_names_out():
        bare = str(column).split("__", 1)[-1]
        owner = max((n for n in names if bare == n or bare.startswith(f"{n}_")), key=len)
        owners.append(names.index(owner))
    return owners
