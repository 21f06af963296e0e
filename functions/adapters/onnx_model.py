"""ONNX models through onnxruntime: tree ensembles explained exactly, any other graph as an in-process black box.

The artifact is an ONNX protobuf (data and operators, no code). Its one input takes the
manifest's features encoded as for LightGBM (`encode_row`: categories as their index,
booleans 0/1) as a float tensor `[N, features]`; its probability output (a float tensor
`[N, labels]`, e.g. skl2onnx's with `zipmap=False`) gives the decision, in the order of the
classifier's `classlabels_*`, or the manifest's when the graph names none.

Tree ensembles (`tree_shap`): the graph's `TreeEnsembleClassifier` is read into shap's
tree format (`read_trees` reads a `TreeEnsembleRegressor` too, but a regressor answers no
label probabilities, so it is refused). ONNX trees carry no node covers,
so path-dependent TreeSHAP has nothing to weigh paths by: the explanation is shap's
interventional TreeSHAP against the manifest's background rows, exact for that reference.
onnxruntime compares float32 inputs with float32 thresholds, so rows are rounded to
float32 before TreeSHAP sees them and strict modes (`<`, `>=`) become `<=` on the next
float32 down. At load, the trees read must reproduce onnxruntime's probabilities on the
background rows; otherwise the model is refused. The explained output is the ensemble's
raw score (log-odds for a logistic post-transform), computed from the same trees.

Other graphs (`permutation_shap`, `kernel_shap`): onnxruntime is the black box of
`BlackBoxRuntime`, with the same budget, batching and standard error as a remote model,
and no network.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from importlib.metadata import version
from importlib.util import find_spec
from typing import Any

import numpy as np

from explainers.base import Attribution
from functions.adapters.in_process import encode_row
from functions.domain.errors import ManifestError, ModelOutputInvalid
from functions.domain.ports import ExplainedItem, ModelRun, ModelRuntime, Prediction
from functions.schemas.api import FeatureValue
from functions.schemas.manifest import ModelManifest
from functions.schemas.record import ExplainerRef

TREE_OPS = ("TreeEnsembleClassifier", "TreeEnsembleRegressor")
REPRODUCTION_TOLERANCE = 1e-5  # onnxruntime answers in float32: about 1e-7 off the float64 sum of the same leaves
_UNITS = {"LOGISTIC": "log_odds", "SOFTMAX": "logit", "NONE": "probability"}


@dataclass(frozen=True)
class Trees:
    """A tree ensemble read from ONNX: shap's dict format, one score column per output."""

    trees: list[dict[str, np.ndarray]]
    base: np.ndarray  # (columns,): added to every row's score
    classes: list[str]  # the classifier's labels (the score columns, or for one column: its second label's)
    post_transform: str


def _attribute(node: Any, name: str, default: Any = None) -> Any:
    import onnx

    for attribute in node.attribute:
        if attribute.name in (name, f"{name}_as_tensor"):
            value = onnx.helper.get_attribute_value(attribute)
            return onnx.numpy_helper.to_array(value) if isinstance(value, onnx.TensorProto) else value
    return default


def read_trees(node: Any, n_features: int) -> Trees:
    """The ensemble of a TreeEnsembleClassifier/Regressor node, as shap-readable trees."""
    kind = "class" if node.op_type == "TreeEnsembleClassifier" else "target"
    tree_ids = np.asarray(_attribute(node, "nodes_treeids"), dtype=np.int64)
    node_ids = np.asarray(_attribute(node, "nodes_nodeids"), dtype=np.int64)
    features = np.asarray(_attribute(node, "nodes_featureids"), dtype=np.int64)
    thresholds = np.asarray(_attribute(node, "nodes_values"), dtype=np.float32)
    modes = [m.decode() if isinstance(m, bytes) else m for m in _attribute(node, "nodes_modes")]
    true_ids = np.asarray(_attribute(node, "nodes_truenodeids"), dtype=np.int64)
    false_ids = np.asarray(_attribute(node, "nodes_falsenodeids"), dtype=np.int64)
    columns = np.asarray(_attribute(node, f"{kind}_ids"), dtype=np.int64)
    weights = np.asarray(_attribute(node, f"{kind}_weights"), dtype=np.float64)
    leaf_trees = np.asarray(_attribute(node, f"{kind}_treeids"), dtype=np.int64)
    leaf_nodes = np.asarray(_attribute(node, f"{kind}_nodeids"), dtype=np.int64)
    width = int(columns.max()) + 1
    aggregate = (_attribute(node, "aggregate_function", b"SUM") or b"SUM").decode()
    if aggregate not in ("SUM", "AVERAGE"):
        raise ValueError(f"aggregate_function {aggregate} (only SUM and AVERAGE are explained)")
    if features.size and int(features.max()) >= n_features:
        raise ValueError(f"a split reads feature {int(features.max())}; the manifest has {n_features} features")
    leaves: dict[tuple[int, int], np.ndarray] = defaultdict(lambda: np.zeros(width))
    for t, n, c, w in zip(leaf_trees, leaf_nodes, columns, weights, strict=True):
        leaves[(int(t), int(n))][c] += w
    ids = sorted(set(tree_ids.tolist()))
    scale = 1.0 / len(ids) if aggregate == "AVERAGE" else 1.0
    trees = []
    for tree in ids:
        rows = np.flatnonzero(tree_ids == tree)
        index = {int(node_ids[r]): i for i, r in enumerate(rows)}
        size = len(rows)
        left, right = np.full(size, -1, np.int64), np.full(size, -1, np.int64)
        split, cut = np.full(size, -2, np.int64), np.zeros(size)
        values = np.zeros((size, width))
        for i, r in enumerate(rows):
            mode = modes[r]
            if mode == "LEAF":
                values[i] = leaves[(tree, int(node_ids[r]))] * scale
                continue
            if mode not in ("BRANCH_LEQ", "BRANCH_LT", "BRANCH_GT", "BRANCH_GTE"):
                raise ValueError(f"split mode {mode} (only <, <=, >, >= are explained)")
            # shap goes left when x <= threshold: strict modes move the threshold one float32 down.
            strict = mode in ("BRANCH_LT", "BRANCH_GTE")
            cut[i] = float(np.nextafter(thresholds[r], np.float32(-np.inf))) if strict else float(thresholds[r])
            yes, no = index[int(true_ids[r])], index[int(false_ids[r])]
            left[i], right[i] = (yes, no) if mode in ("BRANCH_LEQ", "BRANCH_LT") else (no, yes)
            split[i] = features[r]
        trees.append(
            {
                "children_left": left,
                "children_right": right,
                "children_default": left.copy(),  # requests are validated: no missing values
                "features": split,
                "thresholds": cut,
                "values": values,
                "node_sample_weight": np.ones(size),  # ONNX stores no covers; interventional SHAP needs none
            }
        )
    labels = _attribute(node, "classlabels_strings") or _attribute(node, "classlabels_int64s") or []
    base = np.asarray(_attribute(node, "base_values", []) or [0.0] * width, dtype=np.float64)
    post = (_attribute(node, "post_transform", b"NONE") or b"NONE").decode()
    return Trees(trees, base, [c.decode() if isinstance(c, bytes) else str(c) for c in labels], post)


class OnnxSession:
    """onnxruntime on one thread (a Lambda has about one vCPU), called with float32 rows."""

    def __init__(self, artifact: bytes, manifest: ModelManifest) -> None:
        import onnxruntime

        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = options.inter_op_num_threads = 1
        try:
            self.session = onnxruntime.InferenceSession(artifact, options, providers=["CPUExecutionProvider"])
        except Exception as error:  # onnxruntime raises its own exception types for a bad graph
            raise ManifestError(f"model {manifest.id}: onnxruntime cannot load the artifact: {error}") from None
        inputs = self.session.get_inputs()
        width = inputs[0].shape[-1] if inputs and inputs[0].shape else None
        self._width = len(manifest.features)
        if len(inputs) != 1 or width != self._width:
            raise ManifestError(
                f"model {manifest.id}: the ONNX graph must take one [N, {len(manifest.features)}] float input",
                field="artifact",
            )
        self._input = inputs[0].name
        outputs = [o for o in self.session.get_outputs() if o.type == "tensor(float)" and len(o.shape or ()) == 2]
        if not outputs:
            raise ManifestError(f"model {manifest.id}: the ONNX graph has no [N, labels] probability output")
        self._output = next((o.name for o in outputs if "prob" in o.name), outputs[-1].name)
        self.requests_sent = 0

    def probabilities(self, rows: np.ndarray) -> np.ndarray:
        x = np.asarray(rows, dtype=np.float32).reshape(-1, self._width)
        return np.asarray(self.session.run([self._output], {self._input: x})[0], dtype=np.float64)


class OnnxBatchModel:
    """onnxruntime as a `BatchModel`: the black-box explainers' rows, one session run per batch."""

    def __init__(self, session: OnnxSession, order: list[int], n_labels: int) -> None:
        self._session, self._order, self._labels = session, order, n_labels
        self.requests_sent = 0

    def __call__(self, rows: np.ndarray | Sequence[str], deadline: float) -> np.ndarray:
        self.requests_sent += 1
        answer = self._session.probabilities(np.asarray(rows, dtype=np.float64))
        if answer.shape != (len(rows), self._labels) or not np.all(np.isfinite(answer)):
            raise ModelOutputInvalid(f"the ONNX graph answered shape {answer.shape}, not ({len(rows)}, {self._labels})")
        return answer[:, self._order]


@dataclass
class OnnxTreeRuntime:
    """An ONNX tree ensemble: decided by onnxruntime, explained by interventional TreeSHAP on the same trees."""

    manifest: ModelManifest
    explainer: ExplainerRef
    session: OnnxSession
    ensemble: Trees
    background: np.ndarray  # encoded rows, float32-rounded

    def __post_init__(self) -> None:
        import shap  # the onnx extra brings shap for its interventional TreeSHAP

        labels = [label.name for label in self.manifest.labels]
        classes = self.ensemble.classes or labels
        if sorted(classes) != sorted(labels):
            raise ManifestError(f"model {self.manifest.id}: the graph's classes {classes} are not the labels {labels}")
        self._classes, self._order = classes, [classes.index(name) for name in labels]
        units = _UNITS.get(self.ensemble.post_transform)
        if units != self.manifest.output_units and not (units == "log_odds" and self.manifest.output_units == "logit"):
            raise ManifestError(
                f"model {self.manifest.id}: post_transform {self.ensemble.post_transform} explains {units}, the"
                f" manifest says {self.manifest.output_units}",
                field="output_units",
            )
        self._one_column = self.ensemble.base.size == 1 and len(labels) == 2
        model = {"trees": self.ensemble.trees}
        self._tree = shap.TreeExplainer(model, self.background, feature_perturbation="interventional")
        self._check_reproduces()

    def _scores(self, rows: np.ndarray) -> np.ndarray:
        """The ensemble's raw scores (rows, columns), from the trees read."""
        raw = np.asarray(self._tree.model.predict(rows), dtype=np.float64).reshape(len(rows), -1)
        return raw + self.ensemble.base

    def _check_reproduces(self) -> None:
        scores = self._scores(self.background)
        if self.ensemble.post_transform == "LOGISTIC":
            probability = 1.0 / (1.0 + np.exp(-scores))
            mine = np.hstack([1.0 - probability, probability]) if self._one_column else probability
        elif self.ensemble.post_transform == "SOFTMAX":
            e = np.exp(scores - scores.max(axis=1, keepdims=True))
            mine = e / e.sum(axis=1, keepdims=True)
        else:
            mine = np.hstack([1.0 - scores, scores]) if self._one_column else scores
        theirs = self.session.probabilities(self.background)
        gap = float(np.abs(mine - theirs).max(initial=0.0))
        if gap > REPRODUCTION_TOLERANCE:
            raise ManifestError(
                f"model {self.manifest.id}: the trees read from the graph miss onnxruntime's probabilities by {gap:.1e}"
                " on the background rows; refusing to explain them",
                field="artifact",
            )

    def _row(self, inputs: Mapping[str, FeatureValue]) -> np.ndarray:
        return encode_row(self.manifest, inputs).astype(np.float32).astype(np.float64)[None, :]

    def _explained(self, label: str) -> tuple[int, float, float]:
        """(score column, sign, offset): `label`'s output is offset + sign * score."""
        if not self._one_column or self._classes[1] == label:
            return (0 if self._one_column else self._classes.index(label)), 1.0, 0.0
        # The one score is the second class's: the first's log-odds is its negative, its probability 1 - it.
        return 0, -1.0, (1.0 if self.ensemble.post_transform == "NONE" else 0.0)

    def predict(self, inputs: Mapping[str, FeatureValue]) -> Prediction:
        row = self._row(inputs)
        probabilities = self.session.probabilities(row)[0][self._order]
        labels = self.manifest.labels
        label = labels[1].name if len(labels) == 2 else labels[int(np.argmax(probabilities))].name
        column, sign, offset = self._explained(label)
        output = offset + sign * float(self._scores(row)[0, column])
        return Prediction(tuple(map(float, probabilities)), label, output)

    def explain(self, inputs: Mapping[str, FeatureValue], prediction: Prediction, deadline: float) -> ModelRun:
        column, sign, offset = self._explained(prediction.explained_label)
        values = np.asarray(self._tree.shap_values(self._row(inputs)), dtype=np.float64)[0]
        values = sign * (values[:, column] if values.ndim == 2 else values)
        expected = float(np.atleast_1d(self._tree.expected_value)[column]) + float(self.ensemble.base[column])
        base = offset + sign * expected
        attribution = Attribution(
            method="tree_shap",
            output_units=self.manifest.output_units,
            base_value=base,
            values=values,
            model_output=prediction.model_output,
            exact=True,
        )
        items = tuple(
            ExplainedItem(key=f.name, value=inputs[f.name], attribution=float(a))
            for f, a in zip(self.manifest.features, values, strict=True)
        )
        return ModelRun(attribution, items)


def load_onnx_runtime(
    manifest: ModelManifest, artifact: bytes, background: list[Mapping[str, FeatureValue]] | None
) -> ModelRuntime:
    """The runtime of an `onnx` manifest, its artifact's bytes already checked against their hash."""
    missing = [name for name in ("onnx", "onnxruntime", "shap") if find_spec(name) is None]
    if missing:
        raise ManifestError(
            f"model {manifest.id}: onnx models need {', '.join(missing)}, which this image does not carry;"
            " install the `onnx` extra (docs/models.md)"
        )
    import onnx

    from functions.adapters.in_process import _background_matrix

    try:
        graph = onnx.load_model_from_string(artifact).graph
    except Exception as error:  # protobuf's DecodeError and friends
        raise ManifestError(
            f"model {manifest.id}: the artifact is not an ONNX model: {error}", field="artifact"
        ) from None
    session = OnnxSession(artifact, manifest)
    rows = _background_matrix(manifest, list(background or []))
    if rows.size == 0:
        raise ManifestError(f"model {manifest.id}: onnx models need background rows", field="background")
    rows = rows.astype(np.float32).astype(np.float64)
    runtime = f"onnxruntime {version('onnxruntime')}"
    if manifest.explainer.method != "tree_shap":
        from functions.adapters.black_box import BlackBoxRuntime

        classifier = next((n for n in graph.node if n.op_type.endswith("Classifier")), None)
        classes = [str(c.decode() if isinstance(c, bytes) else c) for c in _labels_of(classifier)]
        labels = [label.name for label in manifest.labels]
        order = (
            [classes.index(name) for name in labels] if sorted(classes) == sorted(labels) else list(range(len(labels)))
        )
        return BlackBoxRuntime(manifest, OnnxBatchModel(session, order, len(labels)), background)
    tree_nodes = [n for n in graph.node if n.op_type in TREE_OPS]
    if len(tree_nodes) != 1 or tree_nodes[0].input[0] != graph.input[0].name:
        raise ManifestError(
            f"model {manifest.id}: tree_shap needs one {' or '.join(TREE_OPS)} on the graph's input; explain other"
            " graphs with permutation_shap or kernel_shap",
            field="explainer.method",
        )
    if tree_nodes[0].op_type != "TreeEnsembleClassifier":  # a decision needs label probabilities
        raise ManifestError(
            f"model {manifest.id}: a TreeEnsembleRegressor answers a score, not label probabilities; convert the"
            " classifier, or explain the graph as a black box",
            field="artifact",
        )
    try:
        ensemble = read_trees(tree_nodes[0], len(manifest.features))
    except (ValueError, KeyError) as error:
        raise ManifestError(f"model {manifest.id}: the tree ensemble cannot be explained: {error}") from None
    ref = ExplainerRef(
        method="tree_shap",
        exact=True,
        implementation=f"shap {version('shap')} TreeExplainer (interventional) on the trees of {runtime}",
        background_sha256=manifest.background.sha256 if manifest.background else None,
    )
    return OnnxTreeRuntime(manifest, ref, session, ensemble, rows)


def _labels_of(node: Any) -> list[Any]:
    if node is None:
        return []
    return list(_attribute(node, "classlabels_strings") or _attribute(node, "classlabels_int64s") or [])
