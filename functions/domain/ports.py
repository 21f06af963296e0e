"""The interfaces the domain needs from the layer below (stores and model adapters).

Real implementations live in `functions/stores` and `functions/adapters`; tests use
in-memory ones. The domain never imports boto3.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from functions.schemas.api import FeatureValue
from functions.schemas.manifest import ModelManifest
from functions.schemas.record import ExplainerRef, ExplanationRecord

if TYPE_CHECKING:  # the catalog function imports these ports but must not load numpy
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
class ModelRun:
    probabilities: tuple[float, ...]  # in the manifest's label order
    explained_label: str  # the label whose output the attribution explains
    attribution: Attribution
    items: tuple[ExplainedItem, ...]


class ModelRuntime(Protocol):
    manifest: ModelManifest
    explainer: ExplainerRef

    def run(self, inputs: Mapping[str, FeatureValue]) -> ModelRun:
        """Predict and explain one validated request; raises DependencyUnavailable or ModelOutputInvalid."""
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
