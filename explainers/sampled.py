"""What sampling explainers return beyond the attribution: how far off it may be, and how it was drawn."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np

from explainers.base import Attribution


@dataclass(frozen=True, eq=False)
class SampledAttribution:
    """A sampled SHAP estimate with one standard error per attribution (same units, same order).

    `samples` counts what the estimate averages: permutations (permutation SHAP) or
    coalitions (Kernel SHAP). `partial` is True when fewer were used than planned.
    """

    attribution: Attribution
    standard_errors: np.ndarray
    samples: int
    partial: bool = False

    @property
    def max_standard_error(self) -> float:
        """The largest standard error of one attribution (0 when there are none)."""
        return float(self.standard_errors.max()) if self.standard_errors.size else 0.0


@contextmanager
def seeded_global_rng(seed: int) -> Iterator[None]:
    """Seed numpy's global RNG for a block, then restore the caller's state.

    shap's permutation and kernel explainers draw from `np.random`; re-seeding per call is
    what makes the explanation of a row reproducible (and replayable), and restoring the
    state keeps that from leaking into anything else in the process.
    """
    saved = np.random.get_state()
    np.random.seed(seed)
    try:
        yield
    finally:
        np.random.set_state(saved)
