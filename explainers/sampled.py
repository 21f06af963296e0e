"""What sampling explainers return beyond the attribution: how far off it may be, and how it was drawn."""

from __future__ import annotations

from collections.abc import Callable, Iterator
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


SPREAD_GROUPS = 10  # groups of permutations whose spread gives the standard error: 9 degrees of freedom


def permutation_standard_errors(
    values_after: Callable[[int], np.ndarray], values: np.ndarray, permutations: int
) -> np.ndarray:
    """Standard error of permutation SHAP values, from the spread of groups of permutations.

    A permutation's forward and backward passes are antithetic (that is why shap pairs
    them), so the independent draws are the permutations; shap reports only the spread of
    single passes, which overstates the error several times. The P permutations are cut
    into up to SPREAD_GROUPS consecutive groups, whose means come from the running means
    `values_after(k)` over the first k permutations (seeded draws make each run a prefix
    of the next). With n_j permutations in group j, sigma^2 = sum n_j (g_j - mean)^2 / (G - 1)
    estimates the per-permutation variance and the standard error is sigma / sqrt(P).
    Callers replay from rows already evaluated: G - 1 local runs, no model calls.
    """
    groups = min(permutations, SPREAD_GROUPS)
    ends = [round(permutations * (j + 1) / groups) for j in range(groups)]
    running = np.array([*(values_after(k) * k for k in ends[:-1]), values * permutations])
    sizes = np.diff(ends, prepend=0)[:, None]
    group_means = np.diff(running, axis=0, prepend=0.0) / sizes
    variance = (sizes * (group_means - values) ** 2).sum(axis=0) / (groups - 1)
    return np.asarray(np.sqrt(variance / permutations))
