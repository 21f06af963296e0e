"""LightGBM's thread count, the one knob that dominates single-row latency on a shared machine.

A `lightgbm.Booster` predicts with OpenMP's default thread count (every core). On one row
that buys nothing and, when the other cores are busy, costs milliseconds of thread
wake-up per call. The bench measures Candor as it loads models and, beside it, with the
same booster predicting on one thread, to show what that setting would be worth.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import lightgbm as lgb


class SingleThreadBooster(lgb.Booster):
    """A `lightgbm.Booster` whose every prediction runs on one thread."""

    def predict(self, *args: Any, **kwargs: Any) -> Any:
        kwargs.setdefault("num_threads", 1)
        return super().predict(*args, **kwargs)


def single_threaded(booster: lgb.Booster) -> SingleThreadBooster:
    return SingleThreadBooster(model_str=booster.model_to_string())


def single_threaded_runtime(runtime: Any) -> Any:
    """The same in-process runtime with its booster on one thread (other runtimes unchanged)."""
    booster = getattr(runtime, "booster", None)
    if not isinstance(booster, lgb.Booster):
        return runtime
    return dataclasses.replace(runtime, booster=single_threaded(booster))
