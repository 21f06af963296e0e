"""The interfaces the domain needs from the layer below (stores and model adapters).

Real implementations live in `functions/stores` and `functions/adapters`; tests use
in-memory ones. The domain never imports boto3.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from functions.schemas.api import FeatureValue
from functions.schemas.manifest import ModelManifest
from functions.schemas.record import ExplainerRef, ExplanationRecord

if TYPE_CHECKING:  # the catalog function imports these ports but must not load numpy
    import numpy as np

    from explainers import Attribution


@dataclass(frozen=True)
class ExplainedItem:
    """One attributed input: a feature, or for text models a token of the message."""

    key: str
    value: FeatureValue
    attribution: float
    spans: tuple[tuple[int, int], ...] | None = None

    @property
    def is_token(self) -> bool:
        return self.spans is not None


@dataclass(frozen=True)
class Prediction:
    """The model's answer to one request, before any explanation."""

    probabilities: tuple[float, ...]  # in the manifest's label order
    explained_label: str  # the label whose output an explanation will explain
    model_output: float  # that output in the explainer's output units (what the attributions add up to)


@dataclass(frozen=True)
class Sampling:
    """How a sampled (black-box) explanation was computed, and how far off it may be."""

    seed: int
    max_evaluations: int  # the budget, in rows sent to the model
    evaluations: int  # rows actually sent for this explanation
    model_calls: int  # requests made to the model for it, retries included
    standard_error: float  # the largest standard error of one attribution, in output units


@dataclass(frozen=True)
class ModelRun:
    """An explained prediction: the attributions of `explained_label`'s output."""

    attribution: Attribution
    items: tuple[ExplainedItem, ...]
    sampling: Sampling | None = None  # None for exact explainers
    partial: bool = False  # the deadline cut the sampling short: fewer evaluations than planned
    # A remote model explained from its pinned artifact or, when the artifact no longer matches the
    # endpoint, as a black box: the explainer this run used and why, when it is not the runtime's own.
    explainer: ExplainerRef | None = None
    note: str | None = None


class ModelRuntime(Protocol):
    manifest: ModelManifest
    explainer: ExplainerRef

    def predict(self, inputs: Mapping[str, FeatureValue]) -> Prediction:
        """The model's answer; raises DependencyUnavailable (or a subclass) or ModelOutputInvalid."""
        ...

    def explain(self, inputs: Mapping[str, FeatureValue], prediction: Prediction, deadline: float) -> ModelRun:
        """Attributions of `prediction` within `deadline` (a time.monotonic() value).

        Raises ExplanationUnavailable when no explanation fits the deadline or the model
        fails while explaining; the decision itself stands.
        """
        ...


class BatchModel(Protocol):
    """A model behind a remote endpoint (or a Python function in library mode), called with many rows at once."""

    requests_sent: int  # every request made so far, retries included

    def __call__(self, rows: np.ndarray | Sequence[str], deadline: float) -> np.ndarray:
        """(n, K) label probabilities, in the manifest's label order, of n encoded rows (or texts).

        Rows go out in as few calls as `max_batch_rows` allows. Raises ModelTimeout,
        ModelThrottled or ModelUnavailable after the retries, ModelOutputInvalid when the
        answer cannot be read.
        """
        ...


class ExplanationQueue(Protocol):
    def enqueue(self, decision_id: str, model_id: str) -> None:
        """Ask the worker to complete a pending explanation; raises DependencyUnavailable."""
        ...


class ModelCatalog(Protocol):
    def manifests(self) -> list[ModelManifest]: ...

    def runtime(self, model_id: str) -> ModelRuntime:
        """The loaded model; raises UnknownModel."""
        ...


class RecordStore(Protocol):
    def put(self, record: ExplanationRecord) -> None:
        """Write the record once, durably; raises DependencyUnavailable if it cannot."""
        ...
