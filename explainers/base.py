"""What every explainer promises: one row in, SHAP attributions out.

Explainers know nothing of AWS, HTTP or records. They take a model (a native booster, a
linear model's weights, or any callable) and one input row, and return plain numbers.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import ClassVar

import numpy as np


@dataclass(frozen=True)
class Attribution:
    """SHAP values for one row and one model output.

    `base_value + values.sum()` equals `model_output` up to `additivity_error`.
    """

    method: str
    output_units: str
    base_value: float
    values: np.ndarray
    model_output: float
    exact: bool

    @property
    def additivity_error(self) -> float:
        return abs(self.base_value + float(self.values.sum()) - self.model_output)


class Explainer(ABC):
    """Base class: subclasses register under a method name (see `explainers.registry`)."""

    method: ClassVar[str]
    exact: ClassVar[bool]

    @abstractmethod
    def explain(self, row: np.ndarray, output: int = 0) -> Attribution:
        """Attributions of `row` (1-D, one value per feature) for model output `output`."""
