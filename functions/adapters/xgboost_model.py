"""XGBoost boosters in-process: `Booster.save_model` files (JSON or UBJSON), explained with XGBoost's TreeSHAP.

XGBoost's own `pred_contribs` is exact path-dependent TreeSHAP in C++ (the same algorithm shap
runs), so serving needs xgboost and numpy, not shap. XGBoost sums in float32; Candor's tree_shap
adds a few rounds at a time up in float64 (explainers/tree.py): attributions match shap's to ~2e-7.
Inputs are encoded as for LightGBM: categories as their index in the manifest.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

import explainers
from explainers.tree import TreeShap
from functions.domain.errors import ManifestError
from functions.domain.ports import ExplainedItem, ModelRun, Prediction
from functions.schemas.api import FeatureValue
from functions.schemas.manifest import ModelManifest
from functions.schemas.record import ExplainerRef

# Objectives whose margins are label scores: the logistic's log-odds, or one logit per label.
CLASSIFIER_OBJECTIVES = ("binary:logistic", "binary:logitraw", "multi:softprob", "multi:softmax")


@dataclass
class XGBoostRuntime:
    """An XGBoost classifier over tabular features, explained exactly in its margin (log-odds or logit) units."""

    manifest: ModelManifest
    explainer: ExplainerRef
    booster: Any

    def __post_init__(self) -> None:
        self._explainer = TreeShap(self.booster, output_units=self.manifest.output_units)
        self._binary = self._explainer.n_outputs == 1

    @property
    def engine(self) -> explainers.Explainer:
        return self._explainer

    def encode(self, inputs: Mapping[str, FeatureValue]) -> np.ndarray:
        from functions.adapters.in_process import encode_row

        return encode_row(self.manifest, inputs)

    def predict(self, inputs: Mapping[str, FeatureValue]) -> Prediction:
        margins = self._explainer.margin(self.encode(inputs))  # the very margins the explanation adds up to
        if self._binary:
            p = float(1.0 / (1.0 + np.exp(-margins[0])))
            return Prediction((1.0 - p, p), self.manifest.labels[1].name, float(margins[0]))
        e = np.exp(margins - margins.max())
        output = int(np.argmax(margins))
        return Prediction(tuple(map(float, e / e.sum())), self.manifest.labels[output].name, float(margins[output]))

    def explain(self, inputs: Mapping[str, FeatureValue], prediction: Prediction, deadline: float) -> ModelRun:
        labels = [label.name for label in self.manifest.labels]
        output = 0 if self._binary else labels.index(prediction.explained_label)
        attribution = self._explainer.explain(self.encode(inputs), output)
        items = tuple(
            ExplainedItem(key=f.name, value=inputs[f.name], attribution=float(a))
            for f, a in zip(self.manifest.features, attribution.values, strict=True)
        )
        return ModelRun(attribution, items)


def _is_json(artifact: bytes) -> bool:
    # Both formats open an object with '{'; JSON's first key is quoted, UBJSON's starts with a type marker.
    return artifact.lstrip()[:2] == b'{"'


def load_xgboost(manifest: ModelManifest, artifact: bytes, fmt: str) -> XGBoostRuntime:
    """The booster in `artifact` (already hash-checked), refused with ManifestError unless it fits `manifest`."""
    try:
        import xgboost  # only the manifests that ask for XGBoost pay for this import
    except ImportError:
        raise ManifestError(
            f"model {manifest.id}: format {fmt} needs"
            " xgboost, which this image does not carry; install Candor with its `xgboost` extra (docs/models.md)"
        ) from None

    path = manifest.artifact.path if manifest.artifact else "artifact"
    if _is_json(artifact) != (fmt == "xgboost_json"):
        other = "UBJSON" if fmt == "xgboost_json" else "JSON"
        raise ManifestError(f"model {manifest.id}: {path} is XGBoost {other}, the manifest says {fmt}")
    booster = xgboost.Booster()
    try:
        booster.load_model(bytearray(artifact))
    except xgboost.core.XGBoostError as error:
        raise ManifestError(f"model {manifest.id}: {path} is not an XGBoost model: {str(error)[:200]}") from None
    # One row per request: thread start-up costs more than it saves, and a Lambda has about one vCPU.
    booster.set_param({"nthread": 1})
    _check_fit(manifest, booster, path)
    implementation = f"xgboost {xgboost.__version__} pred_contribs"  # xgboost-cpu is its wheel without CUDA
    ref = ExplainerRef(method="tree_shap", exact=True, implementation=implementation, background_sha256=None)
    return XGBoostRuntime(manifest, ref, booster)


def _check_fit(manifest: ModelManifest, booster: Any, path: str) -> None:
    names = [f.name for f in manifest.features]
    if booster.num_features() != len(names):
        raise ManifestError(
            f"model {manifest.id}: {path} takes {booster.num_features()} features, the manifest lists {len(names)}"
        )
    if booster.feature_names is not None and list(booster.feature_names) != names:
        raise ManifestError(
            f"model {manifest.id}: {path} names its features {list(booster.feature_names)}, the manifest {names}"
            " (same names, same order)"
        )
    learner = json.loads(booster.save_config())["learner"]
    objective = learner["objective"]["name"]
    if objective not in CLASSIFIER_OBJECTIVES:
        raise ManifestError(
            f"model {manifest.id}: {path} has objective {objective}; Candor serves classifiers"
            f" ({', '.join(CLASSIFIER_OBJECTIVES)})"
        )
    classes = int(learner["learner_model_param"].get("num_class") or 0)
    expected = max(classes, 2)
    if expected != len(manifest.labels):
        raise ManifestError(
            f"model {manifest.id}: {path} has {expected} labels, the manifest lists {len(manifest.labels)}"
        )
    wanted_units = "log_odds" if expected == 2 else "logit"
    if manifest.output_units != wanted_units:
        raise ManifestError(
            f"model {manifest.id}: output_units is {manifest.output_units}; this booster's margins are {wanted_units}"
        )
