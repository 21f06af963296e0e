"""The exact Shapley values of an ONNX tree ensemble's interventional game, by brute force, to check TreeSHAP against.

Used by `candor models check` and the tests, never to serve. shap's `ExactExplainer`
evaluates every coalition of features against every background row (an `Independent`
masker over all of them): the very game interventional TreeSHAP solves in polynomial time,
computed here without any tree algorithm, on the trees Candor read from the graph (which
the load checked against onnxruntime's answers).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from functions.adapters.onnx_model import OnnxTreeRuntime
from functions.schemas.api import FeatureValue


def exact_interventional(
    runtime: OnnxTreeRuntime, inputs: Sequence[Mapping[str, FeatureValue]]
) -> tuple[np.ndarray, np.ndarray]:
    """SHAP values (rows, features, labels) and base values (labels,) of each label's explained output."""
    import shap

    background = runtime.background
    rows = np.vstack([runtime._row(row) for row in inputs])
    masker = shap.maskers.Independent(background, max_samples=len(background))
    labels = [label.name for label in runtime.manifest.labels]
    values = np.zeros((len(rows), rows.shape[1], len(labels)))
    base = np.zeros(len(labels))
    for k, label in enumerate(labels):
        column, sign, offset = runtime._explained(label)

        def output(x: np.ndarray, column: int = column, sign: float = sign, offset: float = offset) -> np.ndarray:
            return offset + sign * runtime._scores(np.asarray(x, dtype=np.float64))[:, column]

        explanation = shap.explainers.ExactExplainer(output, masker)(rows, silent=True)
        values[:, :, k] = explanation.values
        base[k] = float(np.atleast_1d(explanation.base_values)[0])
    return values, base
