"""The bundled models under `models/`: valid manifests, pinned files, reproducible, usable."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import lightgbm as lgb
import numpy as np
import pytest

from explainers.text import TOKENIZER_SPEC, BagOfWords
from functions.schemas.manifest import ModelManifest
from infra.training import synthetic, train_models

MODELS = Path(__file__).resolve().parents[2] / "models"
MODEL_DIRS = sorted(p.parent for p in MODELS.glob("*/manifest.json"))


def load(directory: Path) -> ModelManifest:
    return ModelManifest.model_validate_json((directory / "manifest.json").read_text(encoding="utf-8"))


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_both_bundled_models_are_present() -> None:
    assert {d.name for d in MODEL_DIRS} >= {"ticket-router", "refund-decision"}


@pytest.mark.parametrize("directory", MODEL_DIRS, ids=lambda d: d.name)
def test_manifest_validates_and_pins_its_files(directory: Path) -> None:
    manifest = load(directory)
    assert manifest.id == directory.name
    assert sha256(directory / manifest.artifact.path) == manifest.artifact.sha256
    assert manifest.background is not None
    assert sha256(directory / manifest.background.path) == manifest.background.sha256
    assert manifest.training is not None
    assert manifest.training["held_out_accuracy"] > 0.8
    raw = (directory / "manifest.json").read_text(encoding="utf-8")
    assert raw.endswith("}\n")
    assert list(json.loads(raw))[:3] == ["id", "version", "kind"]


# Retrained on another CPU, BLAS and libm kernels move the last bits of a float; the bundled
# files must come back the same in everything else, and the same models in what they compute.
GRID = 10.0**-train_models.COEFFICIENT_DECIMALS  # one step of the router's coefficient grid
REL = 1e-9  # any other float: far above float noise, far below anything a model or report shows


def assert_same_json(fresh: object, bundled: object, where: str, abs_tol: float) -> None:
    """Equal JSON documents, but for floats within tolerance and the hashes of files (checked apart)."""
    if isinstance(bundled, dict):
        assert isinstance(fresh, dict), where
        assert list(fresh) == list(bundled), where
        for key, value in bundled.items():
            if key != "sha256":
                assert_same_json(fresh[key], value, f"{where}.{key}", abs_tol)
    elif isinstance(bundled, list):
        assert isinstance(fresh, list), where
        assert len(fresh) == len(bundled), where
        for i, (a, b) in enumerate(zip(fresh, bundled, strict=True)):
            assert_same_json(a, b, f"{where}[{i}]", abs_tol)
    elif isinstance(bundled, float) and not isinstance(bundled, bool):
        assert isinstance(fresh, (int, float)), where
        assert fresh == pytest.approx(bundled, rel=REL, abs=abs_tol), where
    else:
        assert fresh == bundled, where


@pytest.mark.slow
def test_retraining_reproduces_every_file(tmp_path: Path) -> None:
    train_models.train_all(tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == [d.name for d in MODEL_DIRS]
    for name in (d.name for d in MODEL_DIRS):
        bundled_dir, fresh_dir = MODELS / name, tmp_path / name
        assert sorted(p.name for p in fresh_dir.iterdir()) == sorted(p.name for p in bundled_dir.iterdir())
        for path in sorted(bundled_dir.glob("*.json")):
            abs_tol = GRID if path.name == "model.json" else 0.0
            fresh = json.loads((fresh_dir / path.name).read_text(encoding="utf-8"))
            assert_same_json(fresh, json.loads(path.read_text(encoding="utf-8")), f"{name}/{path.name}", abs_tol)
        manifest = load(fresh_dir)
        assert manifest.background is not None
        for pinned in (manifest.artifact, manifest.background):
            assert sha256(fresh_dir / pinned.path) == pinned.sha256


@pytest.mark.slow
def test_retrained_models_compute_what_the_bundled_ones_do(tmp_path: Path) -> None:
    """Same scores and attributions on fresh inputs: 1e-9 for LightGBM (no BLAS in its training), one
    coefficient grid step per word for the router."""
    train_models.train_all(tmp_path)
    fresh_requests = train_models.encode_refund_inputs([r["inputs"] for r in synthetic.refund_requests(500, 4243)])
    bundled, retrained = (
        lgb.Booster(model_file=str(root / "refund-decision" / "model.txt")) for root in (MODELS, tmp_path)
    )
    assert retrained.num_trees() == bundled.num_trees()
    for options in ({"raw_score": True}, {"pred_contrib": True}):
        np.testing.assert_allclose(
            retrained.predict(fresh_requests, num_threads=1, **options),
            bundled.predict(fresh_requests, num_threads=1, **options),
            rtol=0,
            atol=1e-9,
        )

    def router(root: Path) -> tuple[BagOfWords, np.ndarray, np.ndarray]:
        artifact = json.loads((root / "ticket-router" / "model.json").read_text(encoding="utf-8"))
        return BagOfWords(artifact["vocabulary"]), np.array(artifact["coef"]), np.array(artifact["intercept"])

    (bow, coef, intercept), (_, fresh_coef, fresh_intercept) = router(MODELS), router(tmp_path)
    counts = bow.transform(text for text, _, _ in synthetic.ticket_messages(500, seed=998))
    # Linear SHAP against the empty message: a word's attribution is its coefficient times its count.
    np.testing.assert_allclose(
        counts[:, None, :] * fresh_coef, counts[:, None, :] * coef, rtol=0, atol=GRID * counts.max()
    )
    np.testing.assert_allclose(
        counts @ fresh_coef.T + fresh_intercept,
        counts @ coef.T + intercept,
        rtol=0,
        atol=GRID * (counts.sum(1).max() + 1),
    )


# ---- ticket router ---------------------------------------------------------------


def test_ticket_router_artifact_routes_fresh_messages() -> None:
    directory = MODELS / "ticket-router"
    manifest = load(directory)
    artifact = json.loads((directory / "model.json").read_text(encoding="utf-8"))
    assert artifact["format"] == "candor.linear_text/1"
    assert artifact["tokenizer"] == TOKENIZER_SPEC
    assert artifact["labels"] == [label.name for label in manifest.labels]
    assert set(artifact["labels"]) == set(synthetic.QUEUES)
    assert artifact["vocabulary"] == sorted(set(artifact["vocabulary"]))
    coef = np.array(artifact["coef"])
    intercept = np.array(artifact["intercept"])
    assert coef.shape == (len(artifact["labels"]), len(artifact["vocabulary"]))
    assert manifest.kind == "routing"
    assert manifest.adapter.format == "linear_text_json"
    assert manifest.explainer.method == "linear_shap"
    assert manifest.output_units == "logit"
    assert [f.type for f in manifest.features] == ["text"]
    assert all({"en", "es"} <= set(label.display_names) for label in manifest.labels)

    bow = BagOfWords(artifact["vocabulary"])
    fresh = synthetic.ticket_messages(1000, seed=999)
    x = bow.transform(text for text, _, _ in fresh)
    predicted = np.array(artifact["labels"])[np.argmax(x @ coef.T + intercept, axis=1)]
    accuracy = float(np.mean(predicted == np.array([queue for _, queue, _ in fresh])))
    assert 0.8 < accuracy < 0.99

    def route(text: str) -> str:
        return artifact["labels"][int(np.argmax(coef @ bow.vectorize(text)[0] + intercept))]

    assert route("I was charged twice this month") == "billing"
    assert route("Me cobraron dos veces este mes") == "billing"
    assert route("My parcel still hasn't arrived") == "shipping"
    assert route("No puedo iniciar sesión en mi cuenta") == "account"
    assert route("I want to cancel my subscription") == "cancellation"


def test_ticket_router_background_is_the_empty_message() -> None:
    background = json.loads((MODELS / "ticket-router" / "background.json").read_text(encoding="utf-8"))
    assert background["rows"] == [{"text": ""}]
    assert background["description"]


# ---- refund decision -------------------------------------------------------------


def test_refund_manifest_describes_the_model() -> None:
    manifest = load(MODELS / "refund-decision")
    assert manifest.kind == "decision"
    assert [label.name for label in manifest.labels] == ["deny", "approve"]
    assert manifest.favourable_outcome == "approve"
    assert manifest.decision_threshold == 0.5
    assert manifest.explainer.method == "tree_shap"
    assert manifest.output_units == "log_odds"
    assert manifest.retention_class == "consequential"
    assert [f.name for f in manifest.features] == list(synthetic.REFUND_FEATURES)
    for feature in manifest.features:
        assert {"en", "es"} <= set(feature.display_names)
        if feature.type == "category":
            assert feature.categories == list(synthetic.REFUND_FEATURES[feature.name]["categories"])
            assert feature.category_display_names is not None
            assert set(feature.category_display_names) == set(feature.categories)
            assert all({"en", "es"} <= set(names) for names in feature.category_display_names.values())
        elif feature.type in ("number", "integer"):
            assert feature.minimum is not None
            assert feature.maximum is not None
    assert {f.name: f.unit for f in manifest.features if f.unit} == {
        "order_value": "EUR",
        "days_since_delivery": "days",
        "account_age_days": "days",
    }


@pytest.fixture(scope="module")
def booster() -> lgb.Booster:
    return lgb.Booster(model_file=str(MODELS / "refund-decision" / "model.txt"))


def test_refund_model_has_numeric_splits_only_and_manifest_columns(booster: lgb.Booster) -> None:
    assert booster.feature_name() == list(synthetic.REFUND_FEATURES)
    dump = booster.dump_model()
    assert 150 <= booster.num_trees() <= 300
    assert all(tree["num_cat"] == 0 for tree in dump["tree_info"])


def test_refund_model_predicts_fresh_requests_and_shows_the_planted_bias(booster: lgb.Booster) -> None:
    fresh = synthetic.refund_requests(3000, seed=4242)
    x = train_models.encode_refund_inputs([r["inputs"] for r in fresh])
    scores = booster.predict(x, num_threads=1)
    assert np.all((scores >= 0) & (scores <= 1))
    labels = np.array([r["label"] == "approve" for r in fresh])
    assert np.mean((scores >= 0.5) == labels) > 0.85
    assert 0.55 < np.mean(scores >= 0.5) < 0.72
    rates = train_models.approval_rates_by_age(booster, fresh)
    assert rates["65+"] / max(rates.values()) < 0.75


def test_refund_background_rows_are_raw_training_inputs() -> None:
    background = json.loads((MODELS / "refund-decision" / "background.json").read_text(encoding="utf-8"))
    assert len(background["rows"]) == 100
    for row in background["rows"]:
        assert list(row) == list(synthetic.REFUND_FEATURES)
        assert isinstance(row["channel"], str)
        assert isinstance(row["is_member"], bool)
    train_models.encode_refund_inputs(background["rows"])  # every value encodes


def test_shap_tree_explainer_reads_the_model(booster: lgb.Booster) -> None:
    shap = pytest.importorskip("shap")
    background = json.loads((MODELS / "refund-decision" / "background.json").read_text(encoding="utf-8"))
    data = train_models.encode_refund_inputs(background["rows"])
    explainer = shap.TreeExplainer(booster, data=data, feature_perturbation="interventional", model_output="raw")
    rows = train_models.encode_refund_inputs([r["inputs"] for r in synthetic.refund_requests(5, seed=77)])
    values = explainer.shap_values(rows)
    margin = booster.predict(rows, raw_score=True, num_threads=1)
    np.testing.assert_allclose(np.asarray(explainer.expected_value).ravel()[0] + values.sum(axis=1), margin, atol=1e-6)
