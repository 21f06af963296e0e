"""The bundled scikit-learn models: refund pipelines with one-hot encoding, saved with skops (never pickle).

- `refund-sklearn`: ColumnTransformer (numbers passed through, categories one-hot) then a
  GradientBoostingClassifier; explained with TreeSHAP.
- `refund-sklearn-linear`: ColumnTransformer (numbers standardised, categories one-hot)
  then a LogisticRegression; explained with closed-form linear SHAP against 100 background rows.

Both are fitted on a DataFrame of the refund requests' raw inputs, so their pipelines
carry the column names (as operators' pipelines usually do). Same seeds, same files:
skops names its arrays after object ids and stamps the time, so `canonical_skops`
rewrites the zip with stable names and a fixed date.
"""

from __future__ import annotations

import hashlib
import io
import re
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import sklearn
import skops
import skops.io
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import GradientBoostingClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler
from threadpoolctl import threadpool_limits

from functions.adapters.skops_model import model_row
from functions.schemas.manifest import ModelManifest
from infra.training import synthetic

SKLEARN_SEED = 13
SKLEARN_ROWS = 6000
HELD_OUT_ROWS = 1500
BACKGROUND_ROWS = 100
ZIP_DATE = (2020, 1, 1, 0, 0, 0)


def canonical_skops(data: bytes) -> bytes:
    """`data` (a skops zip) with its arrays and object ids renumbered in schema order, dated ZIP_DATE."""
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        files = {name: archive.read(name) for name in archive.namelist()}
    schema = files.pop("schema.json").decode()
    order = sorted(files, key=lambda name: schema.index(f'"{name}"'))
    renamed = {old: f"{i:04d}.npy" for i, old in enumerate(order)}
    for old, new in renamed.items():
        schema = schema.replace(f'"{old}"', f'"{new}"')
    ids: dict[str, str] = {}  # object ids (memo keys for shared objects): renumbered in order of appearance
    schema = re.sub(r'"__id__": (\d+)', lambda m: f'"__id__": {ids.setdefault(m[1], str(len(ids) + 1))}', schema)
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(zipfile.ZipInfo("schema.json", ZIP_DATE), schema, compress_type=zipfile.ZIP_DEFLATED)
        for old in order:
            info = zipfile.ZipInfo(renamed[old], ZIP_DATE)
            archive.writestr(info, files[old], compress_type=zipfile.ZIP_DEFLATED)
    return out.getvalue()


def _frame(manifest: ModelManifest, rows: list[dict[str, Any]]) -> pd.DataFrame:
    return pd.DataFrame([model_row(manifest, row) for row in rows], columns=[f.name for f in manifest.features])


def _preprocess(manifest: ModelManifest, scale: bool) -> ColumnTransformer:
    numbers = [f.name for f in manifest.features if f.type != "category"]
    categories = [f for f in manifest.features if f.type == "category"]
    encoder = OneHotEncoder(categories=[f.categories for f in categories], handle_unknown="error", sparse_output=False)
    return ColumnTransformer(
        [
            ("numbers", StandardScaler() if scale else "passthrough", numbers),
            ("categories", encoder, [f.name for f in categories]),
        ]
    )


MODELS: dict[str, dict[str, Any]] = {
    "refund-sklearn": {
        "estimator": lambda: GradientBoostingClassifier(n_estimators=100, max_depth=3, random_state=SKLEARN_SEED),
        "scale": False,
        "method": "tree_shap",
        "algorithm": "scikit-learn Pipeline: ColumnTransformer (one-hot categories) + GradientBoostingClassifier,"
        " 100 trees of depth 3",
        "description": "Decides whether a refund request is approved: a scikit-learn pipeline (one-hot encoding,"
        " gradient boosting) saved with skops. Explained exactly with TreeSHAP; the attributions of one-hot"
        " columns are summed back to their feature.",
    },
    "refund-sklearn-linear": {
        "estimator": lambda: LogisticRegression(max_iter=2000),
        "scale": True,
        "method": "linear_shap",
        "algorithm": "scikit-learn Pipeline: ColumnTransformer (standardised numbers, one-hot categories)"
        " + LogisticRegression",
        "description": "Decides whether a refund request is approved: a scikit-learn pipeline (scaling, one-hot"
        " encoding, logistic regression) saved with skops. Explained exactly with linear SHAP against its"
        " background rows; one-hot columns are summed back to their feature.",
    },
}


def train_sklearn_models(
    out: Path, refund_manifest: dict[str, Any], write_json: Callable[[Path, Any], str]
) -> dict[str, dict[str, Any]]:
    """Train and write every model of MODELS, reusing the refund model's features and labels."""
    template = ModelManifest.model_validate(refund_manifest)
    data = synthetic.refund_requests(SKLEARN_ROWS, SKLEARN_SEED)
    train, test = data[:-HELD_OUT_ROWS], data[-HELD_OUT_ROWS:]
    x_train, x_test = (_frame(template, [r["inputs"] for r in part]) for part in (train, test))
    y_train, y_test = (np.array([r["label"] for r in part]) for part in (train, test))
    rng = np.random.default_rng(np.random.SeedSequence([0xBAC6, SKLEARN_SEED]))
    picks = sorted(int(i) for i in rng.choice(len(train), size=BACKGROUND_ROWS, replace=False))
    summaries = {}
    for model_id, spec in MODELS.items():
        directory = out / model_id
        directory.mkdir(parents=True, exist_ok=True)
        pipeline = Pipeline([("preprocess", _preprocess(template, spec["scale"])), ("model", spec["estimator"]())])
        with threadpool_limits(limits=1):  # one BLAS thread: the same sums, the same bytes, run after run
            pipeline.fit(x_train, y_train)
        artifact = canonical_skops(skops.io.dumps(pipeline))
        (directory / "model.skops").write_bytes(artifact)
        approve = list(pipeline.classes_).index("approve")
        scores = pipeline.predict_proba(x_test)[:, approve]
        background_sha = write_json(
            directory / "background.json",
            {
                "description": f"{BACKGROUND_ROWS} refund requests sampled (seeded) from the training data, raw"
                " un-encoded feature values: linear SHAP's reference point (their mean after preprocessing).",
                "rows": [train[i]["inputs"] for i in picks],
            },
        )
        training = {
            "generator": "infra.training.synthetic.refund_requests",
            "data_seed": SKLEARN_SEED,
            "rows_total": len(data),
            "rows_train": len(train),
            "rows_held_out": len(test),
            "held_out_accuracy": round(float(((scores >= 0.5) == (y_test == "approve")).mean()), 4),
            "held_out_auc": round(float(roc_auc_score(y_test == "approve", scores)), 4),
            "algorithm": spec["algorithm"],
            "scikit_learn_version": sklearn.__version__,
            "skops_version": skops.__version__,
        }
        manifest = {
            "id": model_id,
            "version": "1.0.0",
            "kind": refund_manifest["kind"],
            "description": spec["description"],
            "adapter": {"type": "in_process", "format": "sklearn_skops"},
            "artifact": {"path": "model.skops", "sha256": hashlib.sha256(artifact).hexdigest()},
            "features": refund_manifest["features"],
            "labels": refund_manifest["labels"],
            "favourable_outcome": refund_manifest["favourable_outcome"],
            "decision_threshold": refund_manifest["decision_threshold"],
            "explainer": {"method": spec["method"]},
            "background": {"path": "background.json", "sha256": background_sha},
            "output_units": "log_odds",
            "retention_class": refund_manifest["retention_class"],
            "training": training,
        }
        ModelManifest.model_validate(manifest)
        write_json(directory / "manifest.json", manifest)
        summaries[model_id] = training
    return summaries
