"""scikit-learn models in skops format, loaded without pickle and explained exactly on the customer's own features.

The artifact is a `skops.io.dump` file: a zip of JSON and `.npy` arrays that names every
object's type. Before anything is built, every type the file names is checked against
`ALLOWED_TYPES`, an explicit list (skops's own default trust is broader than Candor needs);
a file naming any other type is refused with the types named. Then `skops.io.loads`
builds the object, and the result must be a supported estimator, or a `Pipeline` of
supported preprocessing ending in one.

A pipeline's final estimator is explained on the columns its preprocessing produces:
tree ensembles with shap's TreeExplainer (path-dependent TreeSHAP: sklearn trees carry
their node sample counts, so no background is needed), linear classifiers in closed form
(`explainers.linear`, against the manifest's background rows, transformed). A one-hot
encoded feature becomes several columns; their attributions are summed back to the
feature, so the customer reads "payment method", never "payment_method_cod". Summing
keeps additivity exact, and it is what shap's own pipeline examples do.

Model input: one row of the manifest's features, in order; categories as their name,
booleans as 0/1, numbers as floats. A model fitted on a DataFrame (it has
`feature_names_in_`) gets a one-row DataFrame with those names, which must be the
manifest's feature names.
"""

from __future__ import annotations

import io
import json
import zipfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from importlib.metadata import version
from importlib.util import find_spec
from typing import Any

import numpy as np

from explainers.base import Attribution
from explainers.linear import LinearShap
from functions.domain.errors import ManifestError
from functions.domain.ports import ExplainedItem, ModelRun, Prediction
from functions.schemas.api import FeatureValue
from functions.schemas.manifest import ModelManifest
from functions.schemas.record import ExplainerRef

_SK = "sklearn."
# Every type a supported skops file may name. Estimators and transformers Candor can explain,
# the fitted internals they hold (trees, losses, links), and plain containers and numpy types.
ALLOWED_TYPES = frozenset(
    {
        "builtins.dict",
        "builtins.list",
        "builtins.slice",
        "builtins.str",
        "builtins.tuple",
        "builtins.int",
        "builtins.float",
        "builtins.bool",
        "numpy.ndarray",
        "numpy.dtype",
        "numpy.float64",
        "numpy.float32",
        "numpy.int64",
        "numpy.int32",
        "numpy.uint8",
        "numpy.uint32",
        "numpy.uint64",
        "numpy.random.mtrand.RandomState",
        "numpy.random._generator.Generator",
        _SK + "pipeline.Pipeline",
        _SK + "compose._column_transformer.ColumnTransformer",
        _SK + "preprocessing._encoders.OneHotEncoder",
        _SK + "preprocessing._encoders.OrdinalEncoder",
        _SK + "preprocessing._data.StandardScaler",
        _SK + "preprocessing._data.MinMaxScaler",
        _SK + "preprocessing._data.RobustScaler",
        # ColumnTransformer's passthrough. A function it would call is named as a type of its own (numpy.log1p):
        # not in this list, so refused.
        _SK + "preprocessing._function_transformer.FunctionTransformer",
        _SK + "impute._base.SimpleImputer",
        _SK + "tree._classes.DecisionTreeClassifier",
        _SK + "tree._classes.DecisionTreeRegressor",
        _SK + "tree._classes.ExtraTreeClassifier",
        _SK + "tree._tree.Tree",
        _SK + "ensemble._forest.RandomForestClassifier",
        _SK + "ensemble._forest.ExtraTreesClassifier",
        _SK + "ensemble._gb.GradientBoostingClassifier",
        _SK + "ensemble._hist_gradient_boosting.gradient_boosting.HistGradientBoostingClassifier",
        _SK + "ensemble._hist_gradient_boosting.predictor.TreePredictor",
        _SK + "ensemble._hist_gradient_boosting.binning._BinMapper",
        _SK + "preprocessing._label.LabelEncoder",  # HistGradientBoosting's classes
        _SK + "dummy.DummyClassifier",  # GradientBoosting's initial estimate
        _SK + "_loss.loss.HalfBinomialLoss",
        _SK + "_loss.loss.HalfMultinomialLoss",
        _SK + "_loss._loss.CyHalfBinomialLoss",
        _SK + "_loss._loss.CyHalfMultinomialLoss",
        _SK + "_loss.link.Interval",
        _SK + "_loss.link.LogitLink",
        _SK + "_loss.link.MultinomialLogit",
        _SK + "linear_model._logistic.LogisticRegression",
        _SK + "linear_model._stochastic_gradient.SGDClassifier",
    }
)
TREE_ESTIMATORS = (
    "DecisionTreeClassifier",
    "RandomForestClassifier",
    "ExtraTreesClassifier",
    "GradientBoostingClassifier",
    "HistGradientBoostingClassifier",
)
LINEAR_ESTIMATORS = ("LogisticRegression", "SGDClassifier")
# Units of the output TreeSHAP explains: forests average leaf probabilities; boosting adds log-odds.
PROBABILITY_TREES = ("DecisionTreeClassifier", "RandomForestClassifier", "ExtraTreesClassifier")


def named_types(artifact: bytes) -> set[str]:
    """Every `module.Class` a skops file names (its schema.json), without building anything."""
    try:
        with zipfile.ZipFile(io.BytesIO(artifact)) as archive:
            schema = json.loads(archive.read("schema.json"))
    except (zipfile.BadZipFile, KeyError, ValueError) as error:
        raise ValueError(f"not a skops file: {error}") from None
    found: set[str] = set()
    pending: list[Any] = [schema]
    while pending:
        node = pending.pop()
        if isinstance(node, dict):
            if isinstance(node.get("__module__"), str) and isinstance(node.get("__class__"), str):
                found.add(f"{node['__module__']}.{node['__class__']}")
            pending.extend(node.values())
        elif isinstance(node, list):
            pending.extend(node)
    return found


def load_skops(artifact: bytes, model_id: str) -> Any:
    """The object in a skops file whose every type is in ALLOWED_TYPES; ManifestError otherwise."""
    import skops.io  # only skops models pay for this import

    try:
        types = named_types(artifact)
    except ValueError as error:
        raise ManifestError(f"model {model_id}: the artifact is {error}", field="artifact") from None
    refused = sorted(types - ALLOWED_TYPES)
    if refused:
        raise ManifestError(
            f"model {model_id}: the skops file names types outside Candor's allow-list: {', '.join(refused)}",
            field="artifact",
        )
    return skops.io.loads(artifact, trusted=sorted(types))


def model_row(manifest: ModelManifest, inputs: Mapping[str, FeatureValue]) -> list[Any]:
    """One request as the pipeline's input row: categories by name, booleans as 0/1, numbers as floats."""
    return [inputs[f.name] if f.type == "category" else float(inputs[f.name]) for f in manifest.features]


@dataclass
class SkopsRuntime:
    """A scikit-learn classifier (or pipeline) from a skops file, explained exactly per original feature."""

    manifest: ModelManifest
    explainer: ExplainerRef
    model: Any
    background: list[Mapping[str, FeatureValue]] | None
    _groups: np.ndarray = field(init=False)  # transformed column -> index of its manifest feature
    _last: tuple[tuple[Any, ...], np.ndarray] | None = field(init=False, default=None)

    def __post_init__(self) -> None:
        self.preprocess, self.estimator = _split(self.model, self.manifest)
        self._kind = type(self.estimator).__name__
        self._columns = list(getattr(self.model, "feature_names_in_", [])) or None
        if self._columns is not None and self._columns != [f.name for f in self.manifest.features]:
            raise ManifestError(
                f"model {self.manifest.id}: the model was fitted on columns {self._columns}, not the manifest's"
                " features in order",
                field="features",
            )
        self._classes = [str(c) for c in self.estimator.classes_]
        labels = [label.name for label in self.manifest.labels]
        if sorted(self._classes) != sorted(labels):
            raise ManifestError(
                f"model {self.manifest.id}: the model's classes {self._classes} are not the manifest's labels {labels}",
                field="labels",
            )
        self._binary = len(labels) == 2
        self._check_units()
        self._groups = _feature_of_columns(self.preprocess, self.manifest)
        if self._kind in TREE_ESTIMATORS:
            import shap  # TreeExplainer: the sklearn extra brings shap (pyproject.toml)

            try:
                self._tree = shap.TreeExplainer(self.estimator, feature_perturbation="tree_path_dependent")
            except Exception as error:  # shap's InvalidModelError: e.g. multiclass GradientBoosting
                raise ManifestError(f"model {self.manifest.id}: shap cannot explain it: {error}") from None
        else:
            if not self.background:
                raise ManifestError(f"model {self.manifest.id}: linear_shap needs background rows", field="background")
            reference = self._transform(self.background)
            self._linear = LinearShap(
                self.estimator.coef_, self.estimator.intercept_, reference, output_units=self.manifest.output_units
            )

    def _check_units(self) -> None:
        method = "tree_shap" if self._kind in TREE_ESTIMATORS else "linear_shap"
        if self.manifest.explainer.method != method:
            raise ManifestError(
                f"model {self.manifest.id}: a {self._kind} is explained with {method}", field="explainer.method"
            )
        units = "probability" if self._kind in PROBABILITY_TREES else "log_odds" if self._binary else "logit"
        if self.manifest.output_units != units:
            raise ManifestError(
                f"model {self.manifest.id}: a {self._kind}'s explained output is in {units}, the manifest says"
                f" {self.manifest.output_units}",
                field="output_units",
            )

    def _frame(self, rows: list[Mapping[str, FeatureValue]]) -> Any:
        matrix = [model_row(self.manifest, row) for row in rows]
        if self._columns is None:
            return np.array(matrix, dtype=object)
        import pandas as pd  # a model fitted on a DataFrame wants one (pandas comes with shap)

        return pd.DataFrame(matrix, columns=self._columns)

    def _transform(self, rows: list[Mapping[str, FeatureValue]]) -> np.ndarray:
        frame = self._frame(rows)
        out = frame if self.preprocess is None else self.preprocess.transform(frame)
        out = out.toarray() if hasattr(out, "toarray") else out
        return np.asarray(out, dtype=np.float64)

    def _explained(self, label: str) -> tuple[int, float]:
        """(the output column that explains `label`, its sign): binary margins are the second class's."""
        if self._binary and self._kind not in PROBABILITY_TREES:
            return 0, (1.0 if self._classes[1] == label else -1.0)
        return self._classes.index(label), 1.0

    def _encoded(self, inputs: Mapping[str, FeatureValue]) -> np.ndarray:
        """The preprocessed row; the decision's, kept for its explanation (the transform dominates both)."""
        key = tuple(model_row(self.manifest, inputs))
        last = self._last  # one read: a concurrent call may replace it, never tear it
        if last is not None and last[0] == key:
            return last[1]
        row = self._transform([inputs])
        self._last = (key, row)
        return row

    def predict(self, inputs: Mapping[str, FeatureValue]) -> Prediction:
        row = self._encoded(inputs)
        proba = np.asarray(self.estimator.predict_proba(row), dtype=np.float64)[0]
        by_class = dict(zip(self._classes, map(float, proba), strict=True))
        probabilities = tuple(by_class[label.name] for label in self.manifest.labels)
        label = self.manifest.labels[1].name if self._binary else max(by_class, key=by_class.__getitem__)
        column, sign = self._explained(label)
        if self._kind in PROBABILITY_TREES:
            return Prediction(probabilities, label, float(proba[column]))
        margins = np.atleast_1d(np.asarray(self.estimator.decision_function(row), dtype=np.float64)[0])
        return Prediction(probabilities, label, sign * float(margins[column]))

    def explain(self, inputs: Mapping[str, FeatureValue], prediction: Prediction, deadline: float) -> ModelRun:
        column, sign = self._explained(prediction.explained_label)
        row = self._encoded(inputs)
        if self._kind in TREE_ESTIMATORS:
            values = np.asarray(self._tree.shap_values(row), dtype=np.float64)[0]
            values = values[:, column] if values.ndim == 2 else values
            base = float(np.atleast_1d(self._tree.expected_value)[column])
        else:
            linear = self._linear.explain(row[0], column)
            values, base = linear.values, linear.base_value
        per_feature = np.bincount(self._groups, weights=sign * values, minlength=len(self.manifest.features))
        attribution = Attribution(
            method=self.manifest.explainer.method,
            output_units=self.manifest.output_units,
            base_value=sign * base,
            values=per_feature,
            model_output=prediction.model_output,
            exact=True,
        )
        items = tuple(
            ExplainedItem(key=f.name, value=inputs[f.name], attribution=float(a))
            for f, a in zip(self.manifest.features, per_feature, strict=True)
        )
        return ModelRun(attribution, items)


def _split(model: Any, manifest: ModelManifest) -> tuple[Any, Any]:
    """(the preprocessing, or None; the final estimator), after checking the estimator is supported."""
    from sklearn.pipeline import Pipeline

    preprocess, estimator = (model[:-1], model[-1]) if isinstance(model, Pipeline) else (None, model)
    if type(estimator).__name__ not in TREE_ESTIMATORS + LINEAR_ESTIMATORS:
        raise ManifestError(
            f"model {manifest.id}: a {type(estimator).__name__} is not a supported scikit-learn classifier"
            f" ({', '.join(TREE_ESTIMATORS + LINEAR_ESTIMATORS)})",
            field="artifact",
        )
    return preprocess, estimator


def _feature_of_columns(preprocess: Any, manifest: ModelManifest) -> np.ndarray:
    """For each column the preprocessing outputs, the index of the manifest feature it encodes.

    A ColumnTransformer's one-hot encoder turns a feature into one column per category (less
    a dropped one); every other supported transformer keeps one column per input column.
    Steps after the ColumnTransformer must keep the columns as they are (scalers, imputers).
    """
    from sklearn.compose import ColumnTransformer
    from sklearn.preprocessing import OneHotEncoder

    names = [f.name for f in manifest.features]
    groups = np.arange(len(names))
    for step in [] if preprocess is None else [s for _, s in preprocess.steps]:
        if isinstance(step, ColumnTransformer):
            groups = _column_transformer_groups(step, groups, names, OneHotEncoder)
        elif isinstance(step, OneHotEncoder):
            groups = _one_hot_groups(step, groups)
        elif getattr(step, "n_features_in_", len(groups)) != len(groups):
            raise ManifestError(f"model {manifest.id}: preprocessing step {type(step).__name__} changes the columns")
    return groups


def _column_transformer_groups(step: Any, groups: np.ndarray, names: list[str], one_hot: type) -> np.ndarray:
    out: list[int] = []
    for name, transformer, columns in step.transformers_:
        if transformer == "drop":  # its columns reach no model input: they get no attribution
            continue
        indices = [names.index(c) if isinstance(c, str) else int(c) for c in np.atleast_1d(columns)]
        inner = groups[indices]
        if transformer == "passthrough":
            out.extend(inner)
            continue
        last = transformer.steps[-1][1] if hasattr(transformer, "steps") else transformer
        width = step.output_indices_[name].stop - step.output_indices_[name].start
        if isinstance(last, one_hot):
            out.extend(_one_hot_groups(last, inner))
        elif width == len(inner):
            out.extend(inner)
        else:
            raise ManifestError(f"{name}: {type(last).__name__} maps {len(inner)} columns to {width}", field="artifact")
    return np.array(out, dtype=np.int64)


def _one_hot_groups(encoder: Any, groups: np.ndarray) -> np.ndarray:
    if encoder.max_categories is not None or encoder.min_frequency is not None:
        raise ManifestError("OneHotEncoder with infrequent categories: their columns mix features", field="artifact")
    drops = encoder.drop_idx_ if encoder.drop_idx_ is not None else [None] * len(groups)
    widths = [len(c) - (d is not None) for c, d in zip(encoder.categories_, drops, strict=True)]
    return np.repeat(groups, widths)


def load_skops_runtime(
    manifest: ModelManifest, artifact: bytes, background: list[Mapping[str, FeatureValue]] | None
) -> SkopsRuntime:
    """The runtime of a `sklearn_skops` manifest, its artifact's bytes already checked against their hash."""
    missing = [name for name in ("skops", "sklearn", "shap") if find_spec(name) is None]
    if missing:  # the exact image carries none of them: say which image does, not a bare ImportError
        raise ManifestError(
            f"model {manifest.id}: sklearn_skops models need {', '.join(missing)}, which this image does not carry;"
            " serve it from the black-box image (infra/decisions.Dockerfile, extras black-box and sklearn)"
        )
    model = load_skops(artifact, manifest.id)
    tree = manifest.explainer.method == "tree_shap"
    if tree:
        implementation = f"shap {version('shap')} TreeExplainer (tree_path_dependent)"
    else:
        implementation = "candor closed-form linear SHAP"
    ref = ExplainerRef(
        method=manifest.explainer.method,
        exact=True,
        implementation=f"{implementation} on scikit-learn {version('scikit-learn')}, one-hot columns summed",
        # Linear SHAP's reference is the background's mean, so the record names the file; TreeSHAP reads none.
        background_sha256=manifest.background.sha256 if manifest.background and not tree else None,
    )
    return SkopsRuntime(manifest, ref, model, background)
