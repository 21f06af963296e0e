"""CatBoost models in-process: CatBoost's own `.cbm` format, with its native categorical features.

Categories go to CatBoost as the category names themselves (it encodes them with its own
statistics, stored in the model), numbers and booleans as floats. Explanations are CatBoost's
`ShapValues`: exact path-dependent TreeSHAP over its oblivious trees, in C++, on one thread;
shap's TreeExplainer on a CatBoost model returns the same numbers (the tests compare them).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from explainers.base import Attribution
from functions.domain.errors import ManifestError
from functions.domain.ports import ExplainedItem, ModelRun, Prediction
from functions.schemas.api import FeatureValue
from functions.schemas.manifest import ModelManifest
from functions.schemas.record import ExplainerRef

CLASSIFIER_LOSSES = ("Logloss", "CrossEntropy", "MultiClass")


@dataclass
class CatBoostRuntime:
    """A CatBoost classifier over tabular features, explained exactly in its margin (log-odds or logit) units."""

    manifest: ModelManifest
    explainer: ExplainerRef
    model: Any

    def __post_init__(self) -> None:
        self._names = [f.name for f in self.manifest.features]
        self._categorical = [i for i, f in enumerate(self.manifest.features) if f.type == "category"]
        self._binary = len(self.manifest.labels) == 2

    def pool(self, rows: list[list[Any]]) -> Any:
        import catboost

        return catboost.Pool(rows, cat_features=self._categorical, feature_names=self._names)

    def encode(self, inputs: Mapping[str, FeatureValue]) -> list[Any]:
        """One row as CatBoost reads it: category names as strings, everything else as a float."""
        return [str(inputs[f.name]) if f.type == "category" else float(inputs[f.name]) for f in self.manifest.features]

    def margins(self, rows: list[list[Any]]) -> np.ndarray:
        raw = self.model.predict(self.pool(rows), prediction_type="RawFormulaVal", thread_count=1)
        return np.asarray(raw, dtype=np.float64).reshape(len(rows), -1)

    def predict(self, inputs: Mapping[str, FeatureValue]) -> Prediction:
        margins = self.margins([self.encode(inputs)])[0]
        if self._binary:  # the single margin is the log-odds of the second label
            p = float(1.0 / (1.0 + np.exp(-margins[0])))
            return Prediction((1.0 - p, p), self.manifest.labels[1].name, float(margins[0]))
        e = np.exp(margins - margins.max())
        output = int(np.argmax(margins))
        return Prediction(tuple(map(float, e / e.sum())), self.manifest.labels[output].name, float(margins[output]))

    def shap_values(self, rows: list[list[Any]]) -> np.ndarray:
        """CatBoost's exact SHAP values, (rows, outputs, features + 1): the last column is the base value."""
        found = self.model.get_feature_importance(data=self.pool(rows), type="ShapValues", thread_count=1)
        return np.asarray(found, dtype=np.float64).reshape(len(rows), -1, len(self._names) + 1)

    def explain(self, inputs: Mapping[str, FeatureValue], prediction: Prediction, deadline: float) -> ModelRun:
        row = self.encode(inputs)
        labels = [label.name for label in self.manifest.labels]
        output = 0 if self._binary else labels.index(prediction.explained_label)
        block = self.shap_values([row])[0, output]
        margin = self.margins([row])[0, output]
        attribution = Attribution(
            method="tree_shap",
            output_units=self.manifest.output_units,
            base_value=float(block[-1]),
            values=block[:-1].copy(),
            model_output=float(margin),
            exact=True,
        )
        items = tuple(
            ExplainedItem(key=f.name, value=inputs[f.name], attribution=float(a))
            for f, a in zip(self.manifest.features, attribution.values, strict=True)
        )
        return ModelRun(attribution, items)


def load_catboost(manifest: ModelManifest, artifact: bytes) -> CatBoostRuntime:
    """The model in `artifact` (already hash-checked), refused with ManifestError unless it fits `manifest`."""
    try:
        import catboost  # only the manifests that ask for CatBoost pay for this import
    except ImportError:
        raise ManifestError(
            f"model {manifest.id}: format catboost_cbm needs"
            " catboost, which this image does not carry; install Candor with its `catboost` extra (docs/models.md)"
        ) from None

    path = manifest.artifact.path if manifest.artifact else "artifact"
    if not artifact.startswith(b"CBM1"):
        raise ManifestError(f"model {manifest.id}: {path} is not a CatBoost .cbm model")
    model = catboost.CatBoost()
    try:
        model.load_model(blob=artifact)
    except catboost.CatBoostError as error:
        raise ManifestError(f"model {manifest.id}: {path} is not a CatBoost model: {str(error)[:200]}") from None
    _check_fit(manifest, model, path)
    ref = ExplainerRef(
        method="tree_shap",
        exact=True,
        implementation=f"catboost {catboost.__version__} ShapValues",
        background_sha256=None,
    )
    return CatBoostRuntime(manifest, ref, model)


def _check_fit(manifest: ModelManifest, model: Any, path: str) -> None:
    names = [f.name for f in manifest.features]
    if list(model.feature_names_) != names:
        raise ManifestError(
            f"model {manifest.id}: {path} names its features {list(model.feature_names_)}, the manifest {names}"
            " (same names, same order)"
        )
    categorical = [i for i, f in enumerate(manifest.features) if f.type == "category"]
    if sorted(model.get_cat_feature_indices()) != categorical:
        raise ManifestError(
            f"model {manifest.id}: {path} treats features {sorted(model.get_cat_feature_indices())} as categorical,"
            f" the manifest {categorical}"
        )
    loss = str(model.get_all_params().get("loss_function", ""))
    if loss not in CLASSIFIER_LOSSES:
        raise ManifestError(
            f"model {manifest.id}: {path} was trained with {loss or 'an unknown loss'}; Candor serves classifiers"
            f" ({', '.join(CLASSIFIER_LOSSES)})"
        )
    classes = len(model.classes_)  # the labels it was trained on, from the model's own metadata
    if classes != len(manifest.labels):
        raise ManifestError(
            f"model {manifest.id}: {path} has {classes} labels, the manifest lists {len(manifest.labels)}"
        )
    wanted_units = "log_odds" if classes == 2 else "logit"
    if manifest.output_units != wanted_units:
        raise ManifestError(
            f"model {manifest.id}: output_units is {manifest.output_units}; this model's margins are {wanted_units}"
        )
