"""The bundled ONNX models, converted from scikit-learn with skl2onnx (a training-time tool only).

- `refund-onnx`: a GradientBoostingClassifier as one `TreeEnsembleClassifier`; explained
  exactly with interventional TreeSHAP against its 100 background rows.
- `refund-onnx-mlp`: a small neural network (scaling + MLPClassifier), a graph with no
  trees; explained in-process as a black box with permutation SHAP.

Inputs are the refund features encoded as for LightGBM (categories as their index,
booleans 0/1), float32. ONNX protobufs serialise deterministically: same seeds, same bytes.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.ensemble import GradientBoostingClassifier
from sklearn.metrics import roc_auc_score
from sklearn.neural_network import MLPClassifier
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler
from threadpoolctl import threadpool_limits

from functions.schemas.manifest import ModelManifest
from infra.training import synthetic

ONNX_SEED = 17
ONNX_ROWS = 6000
HELD_OUT_ROWS = 1500
BACKGROUND_ROWS = 100
OPSETS = {"": 17, "ai.onnx.ml": 3}

MODELS: dict[str, dict[str, Any]] = {
    "refund-onnx": {
        "estimator": lambda: GradientBoostingClassifier(n_estimators=100, max_depth=3, random_state=ONNX_SEED),
        "explainer": {"method": "tree_shap"},
        "algorithm": "scikit-learn GradientBoostingClassifier (100 trees of depth 3) converted by skl2onnx to one"
        " TreeEnsembleClassifier",
        "description": "Decides whether a refund request is approved: gradient-boosted trees in ONNX, run by"
        " onnxruntime. Explained exactly with interventional TreeSHAP against the background rows.",
    },
    "refund-onnx-mlp": {
        "estimator": lambda: Pipeline(
            [
                ("scale", StandardScaler()),
                ("model", MLPClassifier(hidden_layer_sizes=(16,), max_iter=400, random_state=ONNX_SEED)),
            ]
        ),
        "explainer": {"method": "permutation_shap", "max_evaluations": 2000, "background_size": 10},
        "algorithm": "scikit-learn StandardScaler + MLPClassifier (16 hidden units) converted by skl2onnx",
        "description": "Decides whether a refund request is approved: a small neural network in ONNX, run by"
        " onnxruntime in-process. No trees: explained as a black box with permutation SHAP (sampled).",
    },
}


def training_data(
    encode: Callable[[list[dict[str, Any]]], np.ndarray],
) -> tuple[list[dict[str, Any]], list[dict[str, Any]], np.ndarray, np.ndarray]:
    """(train requests, held-out requests, encoded training rows, their labels): seeded, the same every time."""
    data = synthetic.refund_requests(ONNX_ROWS, ONNX_SEED)
    train, test = data[:-HELD_OUT_ROWS], data[-HELD_OUT_ROWS:]
    return train, test, encode([r["inputs"] for r in train]), np.array([r["label"] for r in train])


def train_onnx_models(
    out: Path,
    refund_manifest: dict[str, Any],
    encode: Callable[[list[dict[str, Any]]], np.ndarray],
    write_json: Callable[[Path, Any], str],
) -> dict[str, dict[str, Any]]:
    """Train, convert and write every model of MODELS, with the refund model's features and labels."""
    from onnx import helper
    from skl2onnx import to_onnx

    ModelManifest.model_validate(refund_manifest)
    train, test, x_train, y_train = training_data(encode)
    x_test, y_test = encode([r["inputs"] for r in test]), np.array([r["label"] for r in test])
    rng = np.random.default_rng(np.random.SeedSequence([0xBAC6, ONNX_SEED]))
    picks = sorted(int(i) for i in rng.choice(len(train), size=BACKGROUND_ROWS, replace=False))
    summaries = {}
    for model_id, spec in MODELS.items():
        directory = out / model_id
        directory.mkdir(parents=True, exist_ok=True)
        with threadpool_limits(limits=1):  # one BLAS thread: the same sums, the same bytes, run after run
            model = spec["estimator"]().fit(x_train, y_train)
        graph = to_onnx(model, x_train[:1].astype(np.float32), options={"zipmap": False}, target_opset=OPSETS)
        # skl2onnx lists the opsets in a set's order (string hashes are seeded per process): sort them, same bytes.
        opsets = [helper.make_opsetid(o.domain, o.version) for o in sorted(graph.opset_import, key=lambda o: o.domain)]
        del graph.opset_import[:]
        graph.opset_import.extend(opsets)
        artifact = graph.SerializeToString()
        (directory / "model.onnx").write_bytes(artifact)
        scores = model.predict_proba(x_test)[:, list(model.classes_).index("approve")]
        background_sha = write_json(
            directory / "background.json",
            {
                "description": f"{BACKGROUND_ROWS} refund requests sampled (seeded) from the training data, raw"
                " un-encoded feature values: the reference of interventional TreeSHAP, or summarised, of the"
                " black-box explainer.",
                "rows": [train[i]["inputs"] for i in picks],
            },
        )
        training = {
            "generator": "infra.training.synthetic.refund_requests",
            "data_seed": ONNX_SEED,
            "rows_total": len(train) + len(test),
            "rows_train": len(train),
            "rows_held_out": len(test),
            "held_out_accuracy": round(float(((scores >= 0.5) == (y_test == "approve")).mean()), 4),
            "held_out_auc": round(float(roc_auc_score(y_test == "approve", scores)), 4),
            "algorithm": spec["algorithm"],
            "opsets": "ai.onnx 17, ai.onnx.ml 3",
        }
        manifest = {
            "id": model_id,
            "version": "1.0.0",
            "kind": refund_manifest["kind"],
            "description": spec["description"],
            "adapter": {"type": "in_process", "format": "onnx"},
            "artifact": {"path": "model.onnx", "sha256": hashlib.sha256(artifact).hexdigest()},
            "features": refund_manifest["features"],
            "labels": refund_manifest["labels"],
            "favourable_outcome": refund_manifest["favourable_outcome"],
            "decision_threshold": refund_manifest["decision_threshold"],
            "explainer": spec["explainer"],
            "background": {"path": "background.json", "sha256": background_sha},
            "output_units": "log_odds",
            "retention_class": refund_manifest["retention_class"],
            "training": training,
        }
        ModelManifest.model_validate(manifest)
        write_json(directory / "manifest.json", manifest)
        summaries[model_id] = training
    return summaries
