"""The in-process adapter: load a model artifact pinned by its manifest, predict and explain.

Artifacts are read as bytes, checked against the SHA-256 in the manifest, and only then
parsed from their native, non-executable formats (LightGBM text, Candor's linear JSON).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from importlib.metadata import version
from typing import TYPE_CHECKING, Any

import numpy as np

import explainers
from explainers.permutation import PermutationShap
from explainers.text import BagOfWords
from functions.domain.errors import ManifestError
from functions.domain.ports import ExplainedItem, ModelRun, ModelRuntime, Prediction
from functions.domain.seal import sha256_hex
from functions.schemas.api import FeatureValue
from functions.schemas.manifest import FileRef, InProcessAdapter, ModelManifest
from functions.schemas.record import ExplainerRef

if TYPE_CHECKING:
    pass

ReadFile = Callable[[str], bytes]


def read_pinned(read: ReadFile, ref: FileRef, model_id: str) -> bytes:
    """The file's bytes, or ManifestError when its SHA-256 differs from the manifest's."""
    data = read(ref.path)
    actual = sha256_hex(data)
    if actual != ref.sha256:
        raise ManifestError(
            f"model {model_id}: {ref.path} has SHA-256 {actual}, the manifest pins {ref.sha256}; refusing to load it"
        )
    return data


def _softmax(z: np.ndarray) -> np.ndarray:
    e = np.exp(z - z.max())
    return e / e.sum()


@dataclass
class TabularTreeRuntime:
    """A LightGBM model over tabular features; categories encoded as their index."""

    manifest: ModelManifest
    explainer: ExplainerRef
    booster: Any
    background_rows: np.ndarray

    def __post_init__(self) -> None:
        self._explainer = _tabular_explainer(self.manifest, self.booster, self.background_rows)
        self._binary = self.booster.num_model_per_iteration() == 1

    @property
    def engine(self) -> explainers.Explainer:
        """The explainer built from the manifest (its background, budget and seed), for reference checks."""
        return self._explainer

    def encode(self, inputs: Mapping[str, FeatureValue]) -> np.ndarray:
        return encode_row(self.manifest, inputs)

    def predict(self, inputs: Mapping[str, FeatureValue]) -> Prediction:
        row = self.encode(inputs)[None, :]
        predicted = np.atleast_1d(self.booster.predict(row, num_threads=1)[0])
        margins = np.atleast_1d(self.booster.predict(row, raw_score=True, num_threads=1)[0])
        if self._binary:  # the single margin is the log-odds of the second label
            return Prediction(
                (1.0 - float(predicted[0]), float(predicted[0])), self.manifest.labels[1].name, margins[0]
            )
        output = int(np.argmax(predicted))
        return Prediction(tuple(map(float, predicted)), self.manifest.labels[output].name, float(margins[output]))

    def explain(self, inputs: Mapping[str, FeatureValue], prediction: Prediction, deadline: float) -> ModelRun:
        output = 0 if self._binary else _label_index(self.manifest, prediction.explained_label)
        attribution = self._explainer.explain(self.encode(inputs), output)
        items = tuple(
            ExplainedItem(key=f.name, value=inputs[f.name], attribution=float(a))
            for f, a in zip(self.manifest.features, attribution.values, strict=True)
        )
        return ModelRun(attribution, items)


@dataclass
class LinearTextRuntime:
    """A linear model over bag-of-words counts; tokens map back to the words of the message."""

    manifest: ModelManifest
    explainer: ExplainerRef
    vectorizer: BagOfWords
    vocabulary: list[str]
    coef: np.ndarray
    intercept: np.ndarray

    def __post_init__(self) -> None:
        baseline = np.zeros((1, len(self.vocabulary)))  # the empty message: only words present get credit
        self._explainer = explainers.create(
            self.manifest.explainer.method, self.coef, self.intercept, baseline, output_units=self.manifest.output_units
        )

    def predict(self, inputs: Mapping[str, FeatureValue]) -> Prediction:
        counts, _ = self.vectorizer.vectorize(self._text(inputs))
        logits = self.coef @ counts + self.intercept
        output = int(np.argmax(logits))
        return Prediction(tuple(map(float, _softmax(logits))), self.manifest.labels[output].name, float(logits[output]))

    def explain(self, inputs: Mapping[str, FeatureValue], prediction: Prediction, deadline: float) -> ModelRun:
        counts, occurrences = self.vectorizer.vectorize(self._text(inputs))
        attribution = self._explainer.explain(counts, _label_index(self.manifest, prediction.explained_label))
        items = tuple(
            ExplainedItem(
                key=self.vocabulary[index],
                value=int(counts[index]),
                attribution=float(attribution.values[index]),
                spans=tuple((token.start, token.end) for token in tokens),
            )
            for index, tokens in sorted(occurrences.items())
        )
        return ModelRun(attribution, items)

    def _text(self, inputs: Mapping[str, FeatureValue]) -> str:
        return str(inputs[self.manifest.features[0].name])


def _label_index(manifest: ModelManifest, label: str) -> int:
    return [candidate.name for candidate in manifest.labels].index(label)


def encode_row(manifest: ModelManifest, inputs: Mapping[str, FeatureValue]) -> np.ndarray:
    """Validated tabular inputs as the model's float row (manifest order)."""
    row = np.empty(len(manifest.features))
    for i, feature in enumerate(manifest.features):
        value = inputs[feature.name]
        row[i] = (feature.categories or []).index(str(value)) if feature.type == "category" else float(value)
    return row


def _background_matrix(manifest: ModelManifest, rows: list[Mapping[str, FeatureValue]]) -> np.ndarray:
    """The background rows encoded; one that is not a valid request is the manifest's error, named."""
    try:
        return np.array([encode_row(manifest, row) for row in rows])
    except (KeyError, ValueError, TypeError) as error:
        raise ManifestError(
            f"model {manifest.id}: a background row does not fit the features: {error!r}", field="background"
        ) from None


def _tabular_explainer(manifest: ModelManifest, booster: Any, background: np.ndarray) -> explainers.Explainer:
    settings = manifest.explainer.settings
    if manifest.explainer.method == "tree_shap":
        return explainers.create("tree_shap", booster, output_units=manifest.output_units)

    def raw_margin(rows: np.ndarray) -> np.ndarray:
        return np.asarray(booster.predict(rows, raw_score=True, num_threads=1))

    explainer = explainers.create(
        manifest.explainer.method, raw_margin, background, output_units=manifest.output_units, **settings
    )
    if isinstance(explainer, PermutationShap):
        explainer.warm_up()  # shap compiles its masker on first use: pay that at load, not on a request
    return explainer


def _explainer_ref(manifest: ModelManifest, implementation: str) -> ExplainerRef:
    return ExplainerRef(
        method=manifest.explainer.method,
        exact=manifest.explainer.exact,
        implementation=implementation,
        background_sha256=manifest.background_sha256,
    )


def load_runtime(manifest: ModelManifest, read: ReadFile) -> ModelRuntime:
    """Load the artifact named by `manifest` through `read`, after checking its hash."""
    if manifest.artifact is None or not isinstance(manifest.adapter, InProcessAdapter):
        raise ManifestError(f"model {manifest.id}: adapter {manifest.adapter.type} is not an in-process model")
    artifact = read_pinned(read, manifest.artifact, manifest.id)
    if manifest.adapter.format in ("xgboost_json", "xgboost_ubj"):  # each library imported only when asked for
        from functions.adapters.xgboost_model import load_xgboost

        return load_xgboost(manifest, artifact, manifest.adapter.format)
    if manifest.adapter.format == "catboost_cbm":
        from functions.adapters.catboost_model import load_catboost

        return load_catboost(manifest, artifact)
    background = json.loads(read_pinned(read, manifest.background, manifest.id)) if manifest.background else None
    if manifest.adapter.format == "sklearn_skops":
        from functions.adapters.skops_model import load_skops_runtime  # only skops models import skops

        return load_skops_runtime(manifest, artifact, (background or {}).get("rows"))
    if manifest.adapter.format == "onnx":
        from functions.adapters.onnx_model import load_onnx_runtime  # only onnx models import onnxruntime

        return load_onnx_runtime(manifest, artifact, (background or {}).get("rows"))
    if manifest.adapter.format == "lightgbm_text":
        import lightgbm  # only the tree models pay for this import

        rows = _background_matrix(manifest, (background or {}).get("rows", []))
        implementation = (
            f"lightgbm {version('lightgbm')} pred_contrib"
            if manifest.explainer.method == "tree_shap"
            else f"shap {version('shap')} {manifest.explainer.method}"
        )
        return TabularTreeRuntime(
            manifest,
            _explainer_ref(manifest, implementation),
            lightgbm.Booster(model_str=artifact.decode()),
            rows,
        )
    model = json.loads(artifact)
    if model.get("format") != "candor.linear_text/1":
        raise ManifestError(f"model {manifest.id}: {manifest.artifact.path} is not a candor.linear_text/1 artifact")
    if model["labels"] != [label.name for label in manifest.labels]:
        raise ManifestError(f"model {manifest.id}: the artifact's labels differ from the manifest's, or their order")
    return LinearTextRuntime(
        manifest,
        _explainer_ref(manifest, "candor closed-form linear SHAP"),
        BagOfWords(model["vocabulary"]),
        model["vocabulary"],
        np.asarray(model["coef"], dtype=float),
        np.asarray(model["intercept"], dtype=float),
    )
