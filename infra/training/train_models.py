"""Train the two bundled models from seeded synthetic data and write their artifacts.

    .venv/bin/python -m infra.training.train_models [--out models]

Writes, under `--out` (and, from infra/training/, refund-decision-xgboost and -catboost):

- `ticket-router/`: a multinomial logistic regression over bag-of-words counts
  (`model.json`, format `candor.linear_text/1`), its background (the empty message)
  and its manifest;
- `refund-decision/`: a LightGBM binary classifier in LightGBM's text format
  (`model.txt`, output P(approve)), 100 background rows and its manifest.

Everything is a pure function of the data seeds below: running it twice writes
byte-identical files (training runs single-threaded, JSON is written with fixed key
order). No pickle anywhere: the artifacts are plain JSON and LightGBM text.
"""

from __future__ import annotations

import argparse
import hashlib
import json
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import lightgbm as lgb
import numpy as np
import sklearn
from scipy import sparse
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from threadpoolctl import threadpool_limits

from explainers.text import TOKENIZER_SPEC, BagOfWords, tokenize
from functions.schemas.manifest import ModelManifest
from infra.training import synthetic
from infra.training.onnx_models import train_onnx_models
from infra.training.sklearn_models import train_sklearn_models

TICKET_SEED = 7
TICKET_ROWS = 8000
REFUND_SEED = 11
REFUND_ROWS = 20000
REFUND_FAIRNESS_SEED = 12
REFUND_FAIRNESS_ROWS = 5000
HELD_OUT_FRACTION = 0.2
BACKGROUND_ROWS = 100
MIN_DOCUMENT_FREQUENCY = 2
LINEAR_TEXT_FORMAT = "candor.linear_text/1"
# lbfgs runs on BLAS, whose kernels differ between CPUs: retrained on another machine the
# coefficients move by ~4e-11. Written on a 1e-5 grid (lbfgs stops at tol 1e-6, so no
# meaningful digit is lost), the same bytes come out on almost any CPU; a coefficient that
# sits within noise of a grid boundary can still flip its last digit (p ~ 6000 * 4e-11 / 1e-5
# ~ 2% per machine), so the retraining test compares values within a tolerance, not bytes.
COEFFICIENT_DECIMALS = 5

LGB_PARAMS: dict[str, Any] = {
    "objective": "binary",
    "learning_rate": 0.05,
    "num_leaves": 15,
    "min_data_in_leaf": 40,
    "max_bin": 255,
    "feature_fraction": 1.0,
    "bagging_fraction": 1.0,
    "deterministic": True,
    "force_row_wise": True,
    "num_threads": 1,
    "seed": 42,
    "bagging_seed": 42,
    "feature_fraction_seed": 42,
    "data_random_seed": 42,
    "verbose": -1,
}
LGB_ROUNDS = 200

QUEUE_NAMES: dict[str, dict[str, str]] = {
    "billing": {"en": "Billing", "es": "Facturación"},
    "technical_support": {"en": "Technical support", "es": "Soporte técnico"},
    "shipping": {"en": "Shipping", "es": "Envíos"},
    "account": {"en": "Account", "es": "Cuenta"},
    "cancellation": {"en": "Cancellation", "es": "Cancelación"},
    "refunds": {"en": "Refunds", "es": "Reembolsos"},
}

REFUND_FEATURE_NAMES: dict[str, dict[str, str]] = {
    "order_value": {"en": "Order value", "es": "Importe del pedido"},
    "days_since_delivery": {"en": "Days since delivery", "es": "Días desde la entrega"},
    "prior_refunds_12m": {"en": "Refunds in the last 12 months", "es": "Reembolsos en los últimos 12 meses"},
    "account_age_days": {"en": "Account age", "es": "Antigüedad de la cuenta"},
    "orders_12m": {"en": "Orders in the last 12 months", "es": "Pedidos en los últimos 12 meses"},
    "previous_complaints": {"en": "Previous complaints", "es": "Reclamaciones anteriores"},
    "channel": {"en": "Contact channel", "es": "Canal de contacto"},
    "item_category": {"en": "Item category", "es": "Categoría del artículo"},
    "delivery_status": {"en": "Delivery status", "es": "Estado de la entrega"},
    "return_reason": {"en": "Return reason", "es": "Motivo de la devolución"},
    "payment_method": {"en": "Payment method", "es": "Método de pago"},
    "is_member": {"en": "Loyalty member", "es": "Miembro del programa de fidelidad"},
}
REFUND_UNITS = {"order_value": "EUR", "days_since_delivery": "days", "account_age_days": "days"}
CATEGORY_NAMES: dict[str, dict[str, str]] = {
    # channel
    "web": {"en": "Website", "es": "Web"},
    "app": {"en": "Mobile app", "es": "Aplicación móvil"},
    "phone": {"en": "Phone", "es": "Teléfono"},
    "email": {"en": "Email", "es": "Correo electrónico"},
    "chat": {"en": "Chat", "es": "Chat"},
    # item_category
    "electronics": {"en": "Electronics", "es": "Electrónica"},
    "clothing": {"en": "Clothing", "es": "Ropa"},
    "home": {"en": "Home", "es": "Hogar"},
    "grocery": {"en": "Grocery", "es": "Alimentación"},
    "beauty": {"en": "Beauty", "es": "Belleza"},
    # delivery_status
    "delivered": {"en": "Delivered", "es": "Entregado"},
    "late": {"en": "Delivered late", "es": "Entregado con retraso"},
    "lost": {"en": "Lost in transit", "es": "Perdido en el transporte"},
    "damaged": {"en": "Arrived damaged", "es": "Llegó dañado"},
    # return_reason
    "wrong_item": {"en": "Wrong item", "es": "Artículo equivocado"},
    "not_as_described": {"en": "Not as described", "es": "No coincide con la descripción"},
    "changed_mind": {"en": "Changed mind", "es": "Cambio de opinión"},
    "late_delivery": {"en": "Late delivery", "es": "Entrega tardía"},
    # payment_method
    "card": {"en": "Card", "es": "Tarjeta"},
    "paypal": {"en": "PayPal", "es": "PayPal"},
    "bank_transfer": {"en": "Bank transfer", "es": "Transferencia bancaria"},
    "cash_on_delivery": {"en": "Cash on delivery", "es": "Contra reembolso"},
}
# `damaged` is both a delivery status and a return reason: name it per feature.
CATEGORY_NAME_OVERRIDES: dict[tuple[str, str], dict[str, str]] = {
    ("return_reason", "damaged"): {"en": "Item damaged", "es": "Artículo dañado"},
}


# --------------------------------------------------------------------------------------
# Files
# --------------------------------------------------------------------------------------


def _write_json(path: Path, obj: Any, *, indent: int | None = 2) -> str:
    """Write `obj` as UTF-8 JSON with a trailing newline; return the file's SHA-256."""
    text = json.dumps(obj, indent=indent, ensure_ascii=False, allow_nan=False) + "\n"
    data = text.encode("utf-8")
    path.write_bytes(data)
    return hashlib.sha256(data).hexdigest()


def sha256_file(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _write_manifest(directory: Path, manifest: dict[str, Any]) -> ModelManifest:
    validated = ModelManifest.model_validate(manifest)
    _write_json(directory / "manifest.json", manifest)
    return validated


def _split(n: int) -> int:
    """Index of the first held-out row (the last `HELD_OUT_FRACTION` of the data)."""
    return round(n * (1.0 - HELD_OUT_FRACTION))


# --------------------------------------------------------------------------------------
# Ticket router
# --------------------------------------------------------------------------------------


# Function words (accent-folded): a reason like "because it mentions 'has'" explains nothing.
STOPWORDS = frozenset(
    """
    a about after again all am an and any are as at be been before but by can could did do does for from
    had has have hi hello how if in into is it its just me my no not of on or our please so still than
    thank thanks that the their them then there this to too up was we were what when which will with
    would you your yours
    al algo con como cual cuando de del desde donde el ella ellos en entre era es esta este esto estoy
    fue gracias ha hace han hay hola la las le les lo los me mi mis muy nada ni no nos o para pero por
    porque que se si sin sobre su sus tambien te tengo todavia tu un una uno unos y ya yo
    """.split()  # noqa: SIM905 - a word list reads better as prose
)


def build_vocabulary(texts: Sequence[str], min_df: int = MIN_DOCUMENT_FREQUENCY) -> list[str]:
    """Content words appearing in at least `min_df` of `texts`, sorted.

    Bare numbers (order numbers, amounts, card endings) say nothing about the queue and may
    identify a customer, and function words explain nothing, so neither becomes a feature.
    """
    df: Counter[str] = Counter()
    for text in texts:
        df.update({t.text for t in tokenize(text)})
    return sorted(w for w, count in df.items() if count >= min_df and not w.isdigit() and w not in STOPWORDS)


def train_ticket_router(out: Path) -> dict[str, Any]:
    """Train and write `ticket-router`; return its training summary."""
    directory = out / "ticket-router"
    directory.mkdir(parents=True, exist_ok=True)
    data = synthetic.ticket_messages(TICKET_ROWS, TICKET_SEED)
    cut = _split(len(data))
    train, test = data[:cut], data[cut:]
    vocabulary = build_vocabulary([text for text, _, _ in train])
    bow = BagOfWords(vocabulary)
    x_train = sparse.csr_matrix(bow.transform(text for text, _, _ in train))
    x_test = sparse.csr_matrix(bow.transform(text for text, _, _ in test))
    y_train = [queue for _, queue, _ in train]
    y_test = [queue for _, queue, _ in test]

    with threadpool_limits(limits=1):
        model = LogisticRegression(C=1.0, solver="lbfgs", max_iter=5000, tol=1e-6)
        model.fit(x_train, y_train)
        # Scored as written: the rounded coefficients are the model.
        model.coef_ = np.round(model.coef_, COEFFICIENT_DECIMALS)
        model.intercept_ = np.round(model.intercept_, COEFFICIENT_DECIMALS)
        accuracy = float(model.score(x_test, y_test))
        per_language = {
            lang: float(
                model.score(
                    x_test[[i for i, m in enumerate(test) if m[2] == lang]],
                    [m[1] for m in test if m[2] == lang],
                )
            )
            for lang in synthetic.LANGUAGES
        }
    labels = [str(c) for c in model.classes_]
    artifact = {
        "format": LINEAR_TEXT_FORMAT,
        "tokenizer": dict(TOKENIZER_SPEC),
        "vocabulary": vocabulary,
        "labels": labels,
        "coef": [[float(v) for v in row] for row in model.coef_],
        "intercept": [float(v) for v in model.intercept_],
    }
    artifact_sha = _write_json(directory / "model.json", artifact, indent=None)
    background = {
        "description": "Baseline for text explanations: the empty message, so only words present in a "
        "message receive attribution.",
        "rows": [{"text": ""}],
    }
    background_sha = _write_json(directory / "background.json", background)
    training = {
        "generator": "infra.training.synthetic.ticket_messages",
        "data_seed": TICKET_SEED,
        "rows_total": len(data),
        "rows_train": len(train),
        "rows_held_out": len(test),
        "vocabulary_size": len(vocabulary),
        "min_document_frequency": MIN_DOCUMENT_FREQUENCY,
        "held_out_accuracy": round(accuracy, 4),
        "held_out_accuracy_en": round(per_language["en"], 4),
        "held_out_accuracy_es": round(per_language["es"], 4),
        "algorithm": "sklearn LogisticRegression (multinomial, lbfgs, C=1.0)",
        "sklearn_version": sklearn.__version__,
    }
    manifest = {
        "id": "ticket-router",
        "version": "1.0.0",
        "kind": "routing",
        "description": "Routes a customer message (English or Spanish) to a support queue. Multinomial "
        "logistic regression over word counts; each word's contribution is exact (linear SHAP against the "
        "empty message).",
        "adapter": {"type": "in_process", "format": "linear_text_json"},
        "artifact": {"path": "model.json", "sha256": artifact_sha},
        "features": [
            {
                "name": "text",
                "type": "text",
                "display_names": {"en": "Your message", "es": "Su mensaje"},
                "max_length": 2000,
            }
        ],
        "labels": [{"name": name, "display_names": QUEUE_NAMES[name]} for name in labels],
        "explainer": {"method": "linear_shap"},
        "background": {"path": "background.json", "sha256": background_sha},
        "output_units": "logit",
        "retention_class": "standard",
        "training": training,
    }
    _write_manifest(directory, manifest)
    return training


# --------------------------------------------------------------------------------------
# Refund decision
# --------------------------------------------------------------------------------------


def encode_refund_inputs(rows: Sequence[dict[str, Any]]) -> np.ndarray:
    """Model matrix for raw refund inputs: categories as their index, booleans as 0/1.

    Columns follow `synthetic.REFUND_FEATURES` (= the manifest's feature order).
    """
    matrix = np.empty((len(rows), len(synthetic.REFUND_FEATURES)), dtype=np.float64)
    for j, (name, spec) in enumerate(synthetic.REFUND_FEATURES.items()):
        if spec["type"] == "category":
            index = {c: i for i, c in enumerate(spec["categories"])}
            matrix[:, j] = [index[row[name]] for row in rows]
        else:
            matrix[:, j] = [float(row[name]) for row in rows]
    return matrix


def _refund_features() -> list[dict[str, Any]]:
    features = []
    for name, spec in synthetic.REFUND_FEATURES.items():
        feature: dict[str, Any] = {"name": name, "type": spec["type"], "display_names": REFUND_FEATURE_NAMES[name]}
        if "minimum" in spec:
            feature["minimum"] = spec["minimum"]
            feature["maximum"] = spec["maximum"]
        if spec["type"] == "category":
            feature["categories"] = list(spec["categories"])
            feature["category_display_names"] = {
                c: CATEGORY_NAME_OVERRIDES.get((name, c), CATEGORY_NAMES[c]) for c in spec["categories"]
            }
        if name in REFUND_UNITS:
            feature["unit"] = REFUND_UNITS[name]
        features.append(feature)
    return features


def predict_approval(booster: lgb.Booster, inputs: Sequence[dict[str, Any]]) -> np.ndarray:
    """P(approve) for raw refund inputs."""
    return np.asarray(booster.predict(encode_refund_inputs(inputs), num_threads=1), dtype=np.float64)


def approval_rates_by_age(booster: lgb.Booster, requests: Sequence[dict[str, Any]]) -> dict[str, float]:
    """The model's approval rate per age band (threshold 0.5) on `requests`."""
    scores = predict_approval(booster, [r["inputs"] for r in requests])
    bands = np.array([r["segments"]["age_band"] for r in requests])
    return {band: float((scores[bands == band] >= 0.5).mean()) for band in synthetic.AGE_BANDS}


def refund_monitor(booster: lgb.Booster, test: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """The manifest's `monitor`: the held-out set as the validation baseline, both segments watched.

    Mean |TreeSHAP| per feature (LightGBM's `pred_contrib`, what `tree_shap` records) and the
    outcome counts at the decision threshold, over the held-out rows.
    """
    x_test = encode_refund_inputs([r["inputs"] for r in test])
    contributions = np.asarray(booster.predict(x_test, pred_contrib=True, num_threads=1))[:, :-1]  # last: bias
    approved = int((predict_approval(booster, [r["inputs"] for r in test]) >= 0.5).sum())
    means = dict(zip(synthetic.REFUND_FEATURES, np.abs(contributions).mean(axis=0), strict=True))
    return {
        "window_hours": 24,
        "baseline": {
            "validation": {
                "records": len(test),
                "outcomes": {"approve": approved, "deny": len(test) - approved},
                "mean_abs_attributions": {n: round(float(m), 6) for n, m in means.items()},
            }
        },
        "protected_attributes": ["age_band", "gender"],
        "thresholds": {"min_group_size": 30, "min_impact_ratio": 0.8, "min_attribution_ndcg": 0.9},
    }


def train_refund_decision(out: Path) -> dict[str, Any]:
    """Train and write `refund-decision`; return its training summary."""
    directory = out / "refund-decision"
    directory.mkdir(parents=True, exist_ok=True)
    data = synthetic.refund_requests(REFUND_ROWS, REFUND_SEED)
    cut = _split(len(data))
    train, test = data[:cut], data[cut:]
    names = list(synthetic.REFUND_FEATURES)
    x_train = encode_refund_inputs([r["inputs"] for r in train])
    x_test = encode_refund_inputs([r["inputs"] for r in test])
    y_train = np.array([r["label"] == "approve" for r in train], dtype=np.float64)
    y_test = np.array([r["label"] == "approve" for r in test], dtype=np.float64)

    dataset = lgb.Dataset(x_train, label=y_train, feature_name=names, categorical_feature=[], free_raw_data=False)
    booster = lgb.train(LGB_PARAMS, dataset, num_boost_round=LGB_ROUNDS)
    model_path = directory / "model.txt"
    booster.save_model(str(model_path))

    scores = np.asarray(booster.predict(x_test, num_threads=1), dtype=np.float64)
    accuracy = float(((scores >= 0.5) == (y_test == 1.0)).mean())
    auc = float(roc_auc_score(y_test, scores))

    fresh = synthetic.refund_requests(REFUND_FAIRNESS_ROWS, REFUND_FAIRNESS_SEED)
    rates = approval_rates_by_age(booster, fresh)
    overall = float((predict_approval(booster, [r["inputs"] for r in fresh]) >= 0.5).mean())
    ratio = rates["65+"] / max(rates.values())

    rng = np.random.default_rng(np.random.SeedSequence([0xBAC6, REFUND_SEED]))
    picks = sorted(int(i) for i in rng.choice(len(train), size=BACKGROUND_ROWS, replace=False))
    background = {
        "description": f"{BACKGROUND_ROWS} refund requests sampled (seeded) from the training data, raw "
        "un-encoded feature values. tree_shap (LightGBM's path-dependent TreeSHAP) uses none of them; they are "
        "the background of black-box explainers of this model (permutation or kernel SHAP, e.g. when it is "
        "served remotely) and of reference checks against interventional TreeSHAP.",
        "rows": [train[i]["inputs"] for i in picks],
    }
    background_sha = _write_json(directory / "background.json", background)
    training = {
        "generator": "infra.training.synthetic.refund_requests",
        "data_seed": REFUND_SEED,
        "rows_total": len(data),
        "rows_train": len(train),
        "rows_held_out": len(test),
        "held_out_accuracy": round(accuracy, 4),
        "held_out_auc": round(auc, 4),
        "train_approval_rate": round(float(y_train.mean()), 4),
        "algorithm": f"LightGBM gbdt, {LGB_ROUNDS} trees, {LGB_PARAMS['num_leaves']} leaves, no categorical splits",
        "lightgbm_version": lgb.__version__,
        "fairness_check_seed": REFUND_FAIRNESS_SEED,
        "fairness_check_rows": REFUND_FAIRNESS_ROWS,
        "fairness_check_approval_rate": round(overall, 4),
        "fairness_check_age_65_plus_ratio": round(ratio, 4),
    }
    manifest = {
        "id": "refund-decision",
        "version": "1.0.0",
        "kind": "decision",
        "description": "Decides whether a refund request is approved. Gradient-boosted trees (LightGBM) "
        "trained on historical decisions; outputs P(approve). Explained exactly with TreeSHAP. The "
        "historical data carry a known proxy bias against customers aged 65+ (phone channel, cash on "
        "delivery) that the fairness report is expected to surface.",
        "adapter": {"type": "in_process", "format": "lightgbm_text"},
        "artifact": {"path": "model.txt", "sha256": sha256_file(model_path)},
        "features": _refund_features(),
        "labels": [
            {"name": "deny", "display_names": {"en": "Refund denied", "es": "Reembolso denegado"}},
            {"name": "approve", "display_names": {"en": "Refund approved", "es": "Reembolso aprobado"}},
        ],
        "favourable_outcome": "approve",
        "decision_threshold": 0.5,
        "explainer": {"method": "tree_shap"},
        # A2I-style activation: a large denial is not told to the customer until a person has decided.
        "review_policy": {
            "rule": "outcome.adverse && inputs.order_value >= `1000`",
            "reason": "a denied refund of 1,000 EUR or more is decided by a person",
        },
        "background": {"path": "background.json", "sha256": background_sha},
        "output_units": "log_odds",
        "retention_class": "consequential",
        "training": training,
        "monitor": refund_monitor(booster, test),
    }
    _write_manifest(directory, manifest)
    return {**training, "approval_rate_by_age": rates}


def train_all(out: Path) -> dict[str, dict[str, Any]]:
    """Train the bundled models into `out`; return their training summaries."""
    from infra.training import catboost_models, xgboost_models  # one module per model library

    out.mkdir(parents=True, exist_ok=True)
    summaries = {"ticket-router": train_ticket_router(out), "refund-decision": train_refund_decision(out)}
    summaries |= {
        xgboost_models.MODEL_ID: xgboost_models.train(out),
        catboost_models.MODEL_ID: catboost_models.train(out),
    }
    refund = json.loads((out / "refund-decision" / "manifest.json").read_text(encoding="utf-8"))
    summaries |= train_sklearn_models(out, refund, _write_json)
    return summaries | train_onnx_models(out, refund, encode_refund_inputs, _write_json)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("models"), help="output folder (default: models)")
    args = parser.parse_args(argv)
    summary = train_all(args.out)
    router, refund = summary["ticket-router"], summary["refund-decision"]
    print(
        f"ticket-router: held-out accuracy {router['held_out_accuracy']:.4f} "
        f"(en {router['held_out_accuracy_en']:.4f}, es {router['held_out_accuracy_es']:.4f}), "
        f"vocabulary {router['vocabulary_size']}"
    )
    print(f"refund-decision: held-out accuracy {refund['held_out_accuracy']:.4f}, AUC {refund['held_out_auc']:.4f}")
    print(
        f"refund-decision on {REFUND_FAIRNESS_ROWS} fresh requests (seed {REFUND_FAIRNESS_SEED}): "
        f"approval {refund['fairness_check_approval_rate']:.3f}"
    )
    for band, rate in refund["approval_rate_by_age"].items():
        print(f"  age {band:>5}: approval rate {rate:.3f}")
    print(f"  65+ / most-approved band: {refund['fairness_check_age_65_plus_ratio']:.3f} (four-fifths rule: 0.8)")
    for model_id in sorted(set(summary) - {"ticket-router", "refund-decision"}):
        print(f"{model_id}: held-out accuracy {summary[model_id]['held_out_accuracy']:.4f}")
    print(f"wrote {', '.join(sorted(summary))} under {args.out}/")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
