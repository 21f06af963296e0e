"""Strict checks on what a remote model answered, before anyone treats it as probabilities.

An answer that is almost right is the dangerous kind: a missing row shifts every decision
after it, a logit passed off as a probability flips outcomes. So the answer must have one
entry per row sent, each a score (binary models: P(second label)) or a vector with one
probability per label, all finite, within [0, 1], vectors summing to 1.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from functions.adapters.remote.codec import json_type
from functions.domain.errors import ModelOutputInvalid

# Models answer in float32 or round their outputs; a vector off by more than this is not a distribution.
SUM_TOLERANCE = 1e-3
RANGE_TOLERANCE = 1e-9


def to_probabilities(values: Any, rows: int, labels: int) -> np.ndarray:
    """(rows, labels) probabilities from the values `response_path` yielded, or ModelOutputInvalid.

    Accepted: one number per row (binary models only: P(second label) -> [1 - p, p]), a
    one-number list per row (the same), or a list of `labels` numbers per row.
    """
    if not isinstance(values, list):
        raise ModelOutputInvalid(f"expected a list of {rows} predictions from the model, got {json_type(values)}")
    if len(values) != rows:
        raise ModelOutputInvalid(f"sent {rows} rows to the model, its answer has {len(values)} predictions")
    if rows == 0:
        return np.empty((0, labels))
    width = _row_width(values[0], 0, labels)
    matrix = np.empty((rows, width if width else 1))
    for index, value in enumerate(values):
        if _row_width(value, index, labels) != width:
            raise ModelOutputInvalid(f"prediction {index} has a different shape from prediction 0")
        try:
            matrix[index] = value
        except OverflowError:  # an integer too large for a float
            raise ModelOutputInvalid(f"prediction {index} is not a probability (a number out of range)") from None
    _check_values(matrix)
    if matrix.shape[1] == 1:
        score = matrix[:, 0]
        return np.column_stack([1.0 - score, score])
    sums = matrix.sum(axis=1)
    off = np.flatnonzero(np.abs(sums - 1.0) > SUM_TOLERANCE)
    if off.size:
        raise ModelOutputInvalid(f"prediction {off[0]}: its {labels} probabilities sum to {sums[off[0]]:.6g}, not 1")
    return matrix


def _row_width(value: Any, index: int, labels: int) -> int:
    """0 for a bare score, else the length of the row's list, checked against the labels."""
    if _is_number(value):
        if labels != 2:
            raise ModelOutputInvalid(
                f"prediction {index} is a single score, but the model has {labels} labels: expected a list of"
                f" {labels} probabilities per row"
            )
        return 0
    if not isinstance(value, list):
        raise ModelOutputInvalid(f"prediction {index} is {json_type(value)}, expected a number or a list of numbers")
    for position, item in enumerate(value):
        if not _is_number(item):
            raise ModelOutputInvalid(f"prediction {index}, item {position} is {json_type(item)}, expected a number")
    if len(value) == labels or (len(value) == 1 and labels == 2):
        return len(value)
    raise ModelOutputInvalid(f"prediction {index} has {len(value)} values, the model has {labels} labels")


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _check_values(matrix: np.ndarray) -> None:
    bad = np.argwhere(~np.isfinite(matrix))
    if bad.size:
        raise ModelOutputInvalid(f"prediction {bad[0][0]} is not a finite number ({matrix[tuple(bad[0])]})")
    bad = np.argwhere((matrix < -RANGE_TOLERANCE) | (matrix > 1 + RANGE_TOLERANCE))
    if bad.size:
        value = matrix[tuple(bad[0])]
        raise ModelOutputInvalid(f"prediction {bad[0][0]}: {value:.6g} is not a probability (outside [0, 1])")
    np.clip(matrix, 0.0, 1.0, out=matrix)
