"""`refund-decision-v2`: a retrained refund model that leans on other features, for the drift monitor's demo and tests.

Its training data lost `days_since_delivery` (held at one value, so no tree splits on it): the
new version decides on refunds and complaints instead. Its manifest keeps version 1's monitor
and validation baseline, as an operator who validated version 1 would, so the hourly monitor
sees the shift in mean |SHAP|: days since delivery, version 1's strongest feature, now weighs
nothing (NDCG well under 0.9). Written on demand into a folder given to the local stack as an
extra registry (`LocalStack(models=[...])`); a pure function of the seeds, trained in seconds.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import lightgbm as lgb
import numpy as np

from functions.schemas.manifest import ModelManifest
from functions.schemas.settings import BUNDLED_MODELS
from infra.training import synthetic
from infra.training.train_models import LGB_PARAMS, REFUND_SEED, encode_refund_inputs

MODEL_ID = "refund-decision-v2"
DROPPED = "days_since_delivery"
ROWS, ROUNDS = 8000, 80  # enough to decide like version 1 on everything else, quick to train


def write_drifted_model(registry: Path) -> Path:
    """Train and write `refund-decision-v2` into `registry` (a folder of model folders); its folder."""
    folder = registry / MODEL_ID
    folder.mkdir(parents=True, exist_ok=True)
    data = synthetic.refund_requests(ROWS, REFUND_SEED)
    x = encode_refund_inputs([r["inputs"] for r in data])
    x[:, list(synthetic.REFUND_FEATURES).index(DROPPED)] = 0.0  # the column the new pipeline lost
    y = np.array([r["label"] == "approve" for r in data], dtype=np.float64)
    names = list(synthetic.REFUND_FEATURES)
    dataset = lgb.Dataset(x, label=y, feature_name=names, categorical_feature=[], free_raw_data=False)
    booster = lgb.train(LGB_PARAMS, dataset, num_boost_round=ROUNDS)
    booster.save_model(str(folder / "model.txt"))

    bundled = BUNDLED_MODELS / "refund-decision"
    shutil.copy(bundled / "background.json", folder)
    document = json.loads((bundled / "manifest.json").read_text(encoding="utf-8"))
    document.update(
        id=MODEL_ID,
        version="2.0.0",
        description=f"Version 2 of refund-decision, retrained on data without {DROPPED}: it leans on refunds "
        "and complaints instead. Monitored against version 1's validation baseline (infra/training/drifted_model.py).",
        artifact={"path": "model.txt", "sha256": hashlib.sha256((folder / "model.txt").read_bytes()).hexdigest()},
        training={
            "generator": "infra.training.drifted_model",
            "data_seed": REFUND_SEED,
            "rows_train": ROWS,
            "dropped": DROPPED,
        },
    )
    ModelManifest.model_validate(document)
    (folder / "manifest.json").write_text(json.dumps(document, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    return folder
