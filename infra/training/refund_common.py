"""What every bundled refund model shares: the seeded data split, background, features and labels.

Each library's module trains on the same rows as refund-decision (LightGBM), so their
decisions and explanations can be compared side by side.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from infra.training import synthetic, train_models


def split() -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """refund-decision's training and held-out requests (same seed, same cut)."""
    data = synthetic.refund_requests(train_models.REFUND_ROWS, train_models.REFUND_SEED)
    cut = train_models._split(len(data))
    return data[:cut], data[cut:]


def approved(requests: list[dict[str, Any]]) -> np.ndarray:
    return np.array([r["label"] == "approve" for r in requests], dtype=np.float64)


def write_background(directory: Path, train: list[dict[str, Any]], model_name: str) -> str:
    """refund-decision's 100 seeded background rows; returns the file's SHA-256."""
    rng = np.random.default_rng(np.random.SeedSequence([0xBAC6, train_models.REFUND_SEED]))
    picks = sorted(int(i) for i in rng.choice(len(train), size=train_models.BACKGROUND_ROWS, replace=False))
    background = {
        "description": f"{train_models.BACKGROUND_ROWS} refund requests sampled (seeded) from the training data, raw "
        f"un-encoded feature values. tree_shap ({model_name}'s path-dependent TreeSHAP) uses none of them; they "
        "are the background of black-box explainers of this model (e.g. when it is served remotely).",
        "rows": [train[i]["inputs"] for i in picks],
    }
    return train_models._write_json(directory / "background.json", background)


def manifest(
    model_id: str, description: str, fmt: str, artifact: tuple[str, str], background_sha: str, training: dict[str, Any]
) -> dict[str, Any]:
    """A refund decision model's manifest: refund-decision's features, labels and threshold."""
    return {
        "id": model_id,
        "version": "1.0.0",
        "kind": "decision",
        "description": description,
        "adapter": {"type": "in_process", "format": fmt},
        "artifact": {"path": artifact[0], "sha256": artifact[1]},
        "features": train_models._refund_features(),
        "labels": [
            {"name": "deny", "display_names": {"en": "Refund denied", "es": "Reembolso denegado"}},
            {"name": "approve", "display_names": {"en": "Refund approved", "es": "Reembolso aprobado"}},
        ],
        "favourable_outcome": "approve",
        "decision_threshold": 0.5,
        "explainer": {"method": "tree_shap"},
        "background": {"path": "background.json", "sha256": background_sha},
        "output_units": "log_odds",
        "retention_class": "consequential",
        "training": training,
    }


def metrics(y_test: np.ndarray, scores: np.ndarray) -> dict[str, float]:
    from sklearn.metrics import roc_auc_score

    return {
        "held_out_accuracy": round(float(((scores >= 0.5) == (y_test == 1.0)).mean()), 4),
        "held_out_auc": round(float(roc_auc_score(y_test, scores)), 4),
    }
