"""In-memory implementations of the domain's ports, for unit tests."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np

from explainers import Attribution
from functions.domain.errors import DependencyUnavailable, ExplanationUnavailable, UnknownModel
from functions.domain.ports import ExplainedItem, ModelRun, Prediction
from functions.schemas.api import FeatureValue
from functions.schemas.manifest import ModelManifest
from functions.schemas.record import ExplainerRef, ExplanationRecord


@dataclass
class FixedRuntime:
    """Always answers `probabilities`, with attributions `weights` per feature (value times weight)."""

    manifest: ModelManifest
    probabilities: tuple[float, ...]
    weights: dict[str, float]
    base_value: float = -0.5
    explanation_fails: bool = False
    explainer: ExplainerRef = field(
        default_factory=lambda: ExplainerRef(
            method="tree_shap", exact=True, implementation="fake", background_sha256=None
        )
    )

    def predict(self, inputs: Mapping[str, FeatureValue]) -> Prediction:
        output = self.base_value + sum(self.weights.get(f.name, 0.0) for f in self.manifest.features)
        return Prediction(self.probabilities, self.manifest.labels[-1].name, output)

    def explain(self, inputs: Mapping[str, FeatureValue], prediction: Prediction, deadline: float) -> ModelRun:
        if self.explanation_fails:
            raise ExplanationUnavailable("the model did not answer in time (test)")
        values = np.array([self.weights.get(f.name, 0.0) for f in self.manifest.features])
        attribution = Attribution(
            method="tree_shap",
            output_units=self.manifest.output_units,
            base_value=self.base_value,
            values=values,
            model_output=prediction.model_output,
            exact=True,
        )
        items = tuple(
            ExplainedItem(f.name, inputs[f.name], float(v)) for f, v in zip(self.manifest.features, values, strict=True)
        )
        return ModelRun(attribution, items)


@dataclass
class MemoryQueue:
    jobs: list[tuple[str, str]] = field(default_factory=list)

    def enqueue(self, decision_id: str, model_id: str) -> None:
        self.jobs.append((decision_id, model_id))


@dataclass
class FakeCatalog:
    runtimes: dict[str, FixedRuntime]

    def manifests(self) -> list[ModelManifest]:
        return [r.manifest for r in self.runtimes.values()]

    def runtime(self, model_id: str) -> FixedRuntime:
        if model_id not in self.runtimes:
            raise UnknownModel(f"no model {model_id!r}", field="model_id")
        return self.runtimes[model_id]


@dataclass
class MemoryRecordStore:
    records: list[ExplanationRecord] = field(default_factory=list)
    fail: bool = False

    def put(self, record: ExplanationRecord) -> None:
        if self.fail:
            raise DependencyUnavailable("storage is down (test)")
        self.records.append(record)
