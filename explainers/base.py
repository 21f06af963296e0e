"""What every explainer promises: one row in, SHAP attributions out.

Explainers know nothing of AWS, HTTP or records. They take a model (a native booster, a
linear model's weights, or any callable) and one input row, and return plain numbers.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np


# eq=False: the generated __eq__ would compare `values` arrays with `==` and raise on
# truth-testing; compare attributions field by field (np.allclose) instead.
@dataclass(frozen=True, eq=False)
class Attribution:
    """SHAP values for one row and one model output.

    `base_value + values.sum()` equals `model_output` up to `additivity_error`.
    `exact` is True when the values are the exact Shapley values of the model's game
    (TreeSHAP, closed-form linear SHAP) and False when they are a sampled estimate.
    """

    method: str
    output_units: str
    base_value: float
    values: np.ndarray
    model_output: float
    exact: bool

    @property
    def additivity_error(self) -> float:
        """How far `base_value + sum(values)` is from `model_output` (absolute)."""
        return abs(self.base_value + float(self.values.sum()) - self.model_output)

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-serializable form, tagged with the method that produced it."""
        return {
            "method": self.method,
            "output_units": self.output_units,
            "base_value": float(self.base_value),
            "values": [float(v) for v in self.values],
            "model_output": float(self.model_output),
            "exact": bool(self.exact),
            "additivity_error": self.additivity_error,
        }


class Explainer(ABC):
    """Base class: subclasses register under a method name (see `explainers.registry`).

    Subclasses are built once per cold start (the expensive part: reading the model,
    averaging the background) so that `explain` is cheap on every request. They set
    `n_features` and `n_outputs` so callers can check a manifest against the model.
    """

    method: ClassVar[str]
    exact: ClassVar[bool]
    output_units: str
    n_features: int
    n_outputs: int

    @abstractmethod
    def explain(self, row: np.ndarray, output: int = 0) -> Attribution:
        """Attributions of `row` (1-D, one value per feature) for model output `output`."""

    def _check(self, row: Any, output: int) -> np.ndarray:
        """Return `row` as a 1-D float64 array after checking its length and `output`.

        Raises ValueError with a message naming the mismatch, so a bad manifest or a
        malformed request fails loudly instead of explaining the wrong numbers.
        """
        arr = np.asarray(row, dtype=np.float64)
        if arr.ndim != 1:
            raise ValueError(f"{self.method}: expected one row (1-D array), got shape {arr.shape}")
        if arr.shape[0] != self.n_features:
            raise ValueError(f"{self.method}: row has {arr.shape[0]} features, model expects {self.n_features}")
        if not 0 <= output < self.n_outputs:
            raise ValueError(f"{self.method}: output {output} out of range, model has {self.n_outputs} output(s)")
        return arr
