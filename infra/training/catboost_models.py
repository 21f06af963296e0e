"""refund-decision-catboost: the refund decision as a CatBoost model (.cbm) with native categorical features.

Categories go in as their names; CatBoost builds its own statistics of them, stored in the
model. One thread, a fixed seed and no files written beside the model, so retraining
computes the same model.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import catboost
import numpy as np

from infra.training import refund_common, synthetic, train_models

MODEL_ID = "refund-decision-catboost"
CATBOOST_PARAMS: dict[str, Any] = {
    "loss_function": "Logloss",
    "iterations": 120,
    "depth": 4,
    "learning_rate": 0.15,
    "random_seed": 42,
    "thread_count": 1,
    "verbose": False,
    "allow_writing_files": False,
}


def rows(requests: list[dict[str, Any]]) -> list[list[Any]]:
    """Requests as CatBoost reads them, in manifest order: category names as strings, the rest as floats."""
    return [
        [
            str(r["inputs"][name]) if spec["type"] == "category" else float(r["inputs"][name])
            for name, spec in synthetic.REFUND_FEATURES.items()
        ]
        for r in requests
    ]


def pool(requests: list[dict[str, Any]], label: np.ndarray | None = None) -> catboost.Pool:
    categorical = [i for i, spec in enumerate(synthetic.REFUND_FEATURES.values()) if spec["type"] == "category"]
    return catboost.Pool(
        rows(requests), label=label, cat_features=categorical, feature_names=list(synthetic.REFUND_FEATURES)
    )


def train(out: Path) -> dict[str, Any]:
    """Train and write refund-decision-catboost; return its training summary."""
    directory = out / MODEL_ID
    directory.mkdir(parents=True, exist_ok=True)
    train_rows, test_rows = refund_common.split()
    y_train, y_test = refund_common.approved(train_rows), refund_common.approved(test_rows)

    model = catboost.CatBoostClassifier(**CATBOOST_PARAMS)
    model.fit(pool(train_rows, y_train))
    metadata = model.get_metadata()
    for key in ("model_guid", "train_finish_time"):  # random and dated: retraining would change the file's hash
        del metadata[key]
    model_path = directory / "model.cbm"
    model.save_model(str(model_path), format="cbm")
    scores = np.asarray(model.predict_proba(pool(test_rows), thread_count=1)[:, 1], dtype=np.float64)

    training = {
        "generator": "infra.training.synthetic.refund_requests",
        "data_seed": train_models.REFUND_SEED,
        "rows_total": len(train_rows) + len(test_rows),
        "rows_train": len(train_rows),
        "rows_held_out": len(test_rows),
        **refund_common.metrics(y_test, scores),
        "algorithm": f"CatBoost, {CATBOOST_PARAMS['iterations']} oblivious trees, depth {CATBOOST_PARAMS['depth']},"
        " native categorical features",
        "catboost_version": catboost.__version__,
    }
    manifest = refund_common.manifest(
        MODEL_ID,
        "The refund decision as a CatBoost model (.cbm) with native categorical features, trained on "
        "refund-decision's data; outputs P(approve). Explained exactly with CatBoost's own TreeSHAP (ShapValues).",
        "catboost_cbm",
        ("model.cbm", train_models.sha256_file(model_path)),
        refund_common.write_background(directory, train_rows, "CatBoost"),
        training,
    )
    train_models._write_manifest(directory, manifest)
    return training
