"""refund-decision-xgboost: the refund decision as an XGBoost booster, saved with `Booster.save_model` (JSON).

Trained on one thread with the exact tree method and a fixed seed, so retraining writes the
same bytes. Categories are encoded as their index, as the in-process adapter encodes them.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import xgboost as xgb

from infra.training import refund_common, synthetic, train_models

MODEL_ID = "refund-decision-xgboost"
XGB_PARAMS: dict[str, Any] = {
    "objective": "binary:logistic",
    "tree_method": "exact",
    "max_depth": 4,
    "eta": 0.1,
    "min_child_weight": 5,
    "nthread": 1,
    "seed": 42,
}
XGB_ROUNDS = 80


def train(out: Path) -> dict[str, Any]:
    """Train and write refund-decision-xgboost; return its training summary."""
    directory = out / MODEL_ID
    directory.mkdir(parents=True, exist_ok=True)
    train_rows, test_rows = refund_common.split()
    names = list(synthetic.REFUND_FEATURES)
    x_train = train_models.encode_refund_inputs([r["inputs"] for r in train_rows])
    x_test = train_models.encode_refund_inputs([r["inputs"] for r in test_rows])
    y_train, y_test = refund_common.approved(train_rows), refund_common.approved(test_rows)

    booster = xgb.train(
        XGB_PARAMS, xgb.DMatrix(x_train, label=y_train, feature_names=names, nthread=1), num_boost_round=XGB_ROUNDS
    )
    model_path = directory / "model.json"
    booster.save_model(str(model_path))
    scores = np.asarray(booster.predict(xgb.DMatrix(x_test, feature_names=names, nthread=1)), dtype=np.float64)

    training = {
        "generator": "infra.training.synthetic.refund_requests",
        "data_seed": train_models.REFUND_SEED,
        "rows_total": len(train_rows) + len(test_rows),
        "rows_train": len(train_rows),
        "rows_held_out": len(test_rows),
        **refund_common.metrics(y_test, scores),
        "algorithm": f"XGBoost gbtree (exact), {XGB_ROUNDS} trees, depth {XGB_PARAMS['max_depth']}",
        "xgboost_version": xgb.__version__,
    }
    manifest = refund_common.manifest(
        MODEL_ID,
        "The refund decision as an XGBoost model (Booster.save_model, JSON), trained on refund-decision's data; "
        "outputs P(approve). Explained exactly with XGBoost's own TreeSHAP.",
        "xgboost_json",
        ("model.json", train_models.sha256_file(model_path)),
        refund_common.write_background(directory, train_rows, "XGBoost"),
        training,
    )
    train_models._write_manifest(directory, manifest)
    return training
