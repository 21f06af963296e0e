"""`candor models init` and `candor models check` on a LightGBM model trained here, and on the bundled models.

The model: breast-cancer measurements (scikit-learn's copy of the Wisconsin data set) plus
a category derived from them (encoded by its index in the sorted category list, as Candor
sends it), a boolean and an integer column, trained without LightGBM categorical splits.
"""

from __future__ import annotations

import csv
import hashlib
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import lightgbm as lgb
import numpy as np
import pytest
from sklearn.datasets import load_breast_cancer

from functions.adapters.loader import load_model
from functions.schemas.manifest import ModelManifest
from functions.schemas.settings import BUNDLED_MODELS
from infra.cli import main
from tests.support import predict_and_explain
from tests.unit.explainers.test_tree_shap import shap_cpp_tree_shap

REPO = Path(__file__).resolve().parents[2]
TOL = 1e-6
MEASUREMENTS = ["mean radius", "mean texture", "mean smoothness", "worst area"]
FEATURES = ["mean_radius", "mean_texture", "mean_smoothness", "worst_area", "shape", "is_large", "patient_age"]
SHAPES = ["irregular", "oval", "round"]  # sorted, as `candor models init` lists categories


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, np.ndarray]:
    """A folder holding only model.txt, the CSV of sample rows, and the model matrix of those rows."""
    data = load_breast_cancer()
    columns = list(data.feature_names)
    x = data.data[:, [columns.index(name) for name in MEASUREMENTS]]
    concavity = data.data[:, columns.index("mean concavity")]
    shape = np.where(concavity > 0.1, "irregular", np.where(x[:, 2] > 0.1, "oval", "round"))
    large = x[:, 3] > 800
    age = np.arange(len(x)) * 7919 % 50 + 20  # a deterministic stand-in: every sample needs a value
    matrix = np.column_stack([x, [SHAPES.index(s) for s in shape], large, age]).astype(np.float64)
    params = {"objective": "binary", "num_leaves": 7, "num_threads": 1, "deterministic": True, "seed": 1, "verbose": -1}
    booster = lgb.train(params, lgb.Dataset(matrix, data.target, feature_name=FEATURES, categorical_feature=[]), 30)

    root = tmp_path_factory.mktemp("models")
    folder = root / "tumour-triage"
    folder.mkdir()
    booster.save_model(str(folder / "model.txt"))
    sample = root / "sample.csv"
    with sample.open("w", newline="") as file:
        writer = csv.writer(file)
        writer.writerow(FEATURES)
        for i in range(len(x)):
            writer.writerow([*(repr(float(v)) for v in x[i]), shape[i], "true" if large[i] else "false", int(age[i])])
    return folder, sample, matrix


def _fresh(trained: tuple[Path, Path, np.ndarray], tmp_path: Path) -> Path:
    """A copy of the model folder (model.txt only) to run `init` in."""
    folder = tmp_path / trained[0].name
    shutil.copytree(trained[0], folder)
    return folder


def _init(folder: Path, sample: Path, *extra: str) -> int:
    return main(["models", "init", str(folder), "--data", str(sample), "--labels", "malignant,benign", *extra])


def test_init_writes_a_manifest_that_validates_and_explanations_that_agree_with_shap(
    trained, tmp_path, capsys, monkeypatch
):
    folder, sample, matrix = _fresh(trained, tmp_path), trained[1], trained[2]
    assert _init(folder, sample, "--favourable", "benign") == 0
    out = capsys.readouterr().out
    assert "warning: shape is a category" in out
    assert out.strip().splitlines()[-1].startswith("ok   tumour-triage 1.0.0  tree_shap  5 rows  additivity ")

    manifest = ModelManifest.model_validate_json((folder / "manifest.json").read_text())
    text = (folder / "manifest.json").read_text()
    assert text.endswith("}\n") and text.startswith('{\n  "id": "tumour-triage",\n  "version": "1.0.0",\n  "kind"')
    assert [(f.name, f.type) for f in manifest.features] == list(
        zip(FEATURES, ["number"] * 4 + ["category", "boolean", "integer"], strict=True)
    )
    assert manifest.features[4].categories == SHAPES
    assert manifest.features[0].minimum is not None and manifest.features[0].minimum <= 6.981
    assert (manifest.favourable_outcome, manifest.output_units, manifest.explainer.method) == (
        "benign",
        "log_odds",
        "tree_shap",
    )
    background = json.loads((folder / "background.json").read_text())
    assert len(background["rows"]) == 100
    assert "tree_shap uses none of them" in background["description"]
    assert {type(row["is_large"]) for row in background["rows"]} == {bool}
    assert {type(row["patient_age"]) for row in background["rows"]} == {int}

    # The real loader and runtime, against shap's own C++ TreeSHAP (never LightGBM's pred_contrib).
    runtime: Any = load_model(manifest, lambda name: (folder / name).read_bytes())
    inputs = background["rows"][:20]
    rows = np.array([runtime.encode(row) for row in inputs])
    values, base = shap_cpp_tree_shap(runtime.booster, rows, monkeypatch)
    for row, expected in zip(inputs, values[:, :, 0], strict=True):
        prediction, run = predict_and_explain(runtime, row)
        assert prediction.explained_label == "benign"  # the second label's log-odds, whatever the outcome
        np.testing.assert_allclose(run.attribution.values, expected, rtol=0, atol=TOL)
        assert run.attribution.base_value == pytest.approx(base[0], abs=TOL)
        assert run.attribution.additivity_error < TOL
    # The manifest's encoding is the training encoding: the rows become rows the model was fitted on.
    nearest = np.abs(rows[:, None, :] - matrix[None, :, :]).max(axis=2).min(axis=1)
    np.testing.assert_allclose(nearest, 0.0, rtol=0, atol=1e-9)

    assert main(["models", "check", str(folder), "--rows", "20"]) == 0
    assert "20 rows" in capsys.readouterr().out


def _console(*args: str) -> subprocess.CompletedProcess[str]:
    """The installed `candor` script, importing this checkout's code (the shared venv's install may be another's)."""
    candor = Path(sys.executable).with_name("candor")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")])}
    # A fixed program and arguments, no shell.
    return subprocess.run([str(candor), *args], env=env, capture_output=True, text=True, timeout=300, check=False)


@pytest.mark.slow
def test_the_console_script_runs_init_and_check(trained, tmp_path):
    folder, sample = _fresh(trained, tmp_path), trained[1]
    init = _console("models", "init", str(folder), "--data", str(sample), "--labels", "malignant,benign")
    assert init.returncode == 0, init.stderr
    assert json.loads((folder / "manifest.json").read_text())["favourable_outcome"] == "benign"  # binary default
    check = _console("models", "check", str(folder), str(BUNDLED_MODELS / "ticket-router"), "--rows", "3")
    assert check.returncode == 0, check.stdout + check.stderr
    assert check.stdout.splitlines()[0].startswith("ok   tumour-triage 1.0.0  tree_shap  3 rows")
    assert check.stdout.splitlines()[1].startswith("ok   ticket-router 1.0.0  linear_shap  3 messages")

    usage = _console("models", "check")
    assert usage.returncode == 2
    assert "Traceback" not in usage.stderr


def test_the_bundled_models_pass(capsys):
    folders = [str(BUNDLED_MODELS / "refund-decision"), str(BUNDLED_MODELS / "ticket-router")]
    assert main(["models", "check", *folders]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("ok   refund-decision 1.0.0  tree_shap  5 rows  additivity ")
    assert lines[1].startswith("ok   ticket-router 1.0.0  linear_shap  5 messages  additivity ")
    assert lines[2] == "2 model folders checked, 0 with problems"


@pytest.fixture
def initialised(trained, tmp_path, capsys) -> Path:
    folder = _fresh(trained, tmp_path)
    assert _init(folder, trained[1]) == 0
    capsys.readouterr()
    return folder


def test_a_tampered_artifact_fails_naming_artifact_sha256(initialised, capsys):
    model = initialised / "model.txt"
    model.write_text(model.read_text().replace("leaf_value=", "leaf_value=1", 1))
    assert main(["models", "check", str(initialised)]) == 1
    out = capsys.readouterr().out
    assert f"{initialised / 'manifest.json'}: artifact.sha256: model.txt does not match: expected " in out
    assert ", actual " in out
    assert out.splitlines()[-1] == f"FAIL {initialised}  1 problem"


def test_a_corrupt_artifact_with_a_matching_hash_is_a_line_not_a_traceback(initialised, capsys):
    manifest = json.loads((initialised / "manifest.json").read_text())
    (initialised / "model.txt").write_text("not a model\n")
    manifest["artifact"]["sha256"] = hashlib.sha256(b"not a model\n").hexdigest()
    (initialised / "manifest.json").write_text(json.dumps(manifest))
    assert main(["models", "check", str(initialised)]) == 1
    out = capsys.readouterr().out
    assert f"{initialised / 'model.txt'}: cannot be loaded with explainer tree_shap: LightGBMError: " in out


def test_an_invalid_manifest_field_fails_naming_the_field(initialised, capsys):
    manifest = json.loads((initialised / "manifest.json").read_text())
    manifest["features"][3]["maximum"] = "a lot"
    (initialised / "manifest.json").write_text(json.dumps(manifest, indent=2))
    assert main(["models", "check", str(initialised)]) == 1
    assert f"{initialised / 'manifest.json'}: features.3.maximum: Input should be a valid number" in (
        capsys.readouterr().out
    )


def test_a_manifest_that_disagrees_with_the_model_fails(initialised, capsys):
    manifest = json.loads((initialised / "manifest.json").read_text())
    manifest["labels"].append({"name": "unsure", "display_names": {"en": "Unsure"}})
    del manifest["decision_threshold"]
    (initialised / "manifest.json").write_text(json.dumps(manifest, indent=2))
    assert main(["models", "check", str(initialised)]) == 1
    assert "model.txt: labels: the manifest lists 3, the model has 2" in capsys.readouterr().out


def test_csv_columns_that_differ_from_the_model_are_refused(trained, tmp_path, capsys):
    folder = _fresh(trained, tmp_path)
    sample = tmp_path / "renamed.csv"
    lines = trained[1].read_text().splitlines(keepends=True)
    sample.write_text(lines[0].replace("patient_age", "age") + "".join(lines[1:]))
    assert _init(folder, sample) == 1
    err = capsys.readouterr().err
    assert "columns differ from the model's features" in err
    assert "the model has ['patient_age'] that renamed.csv lacks; renamed.csv has ['age'] that the model lacks" in err
    assert not (folder / "manifest.json").exists() and not (folder / "background.json").exists()


def test_an_existing_manifest_is_not_overwritten_without_force(initialised, trained, capsys):
    before = (initialised / "manifest.json").read_bytes()
    assert _init(initialised, trained[1], "--favourable", "malignant") == 1
    assert "manifest.json: already exists; not overwritten (--force replaces it)" in capsys.readouterr().err
    assert (initialised / "manifest.json").read_bytes() == before

    assert _init(initialised, trained[1], "--favourable", "malignant", "--force") == 0
    assert json.loads((initialised / "manifest.json").read_text())["favourable_outcome"] == "malignant"


def test_labels_that_do_not_fit_the_model_are_a_usage_error(initialised, trained, capsys):
    with pytest.raises(SystemExit) as caught:
        main(["models", "init", str(initialised), "--data", str(trained[1]), "--labels", "a,b,c", "--force"])
    assert caught.value.code == 2
    assert "--labels: 3 names given, the model has 2 classes" in capsys.readouterr().err


def test_a_model_with_lightgbm_categorical_splits_is_refused_with_the_reason(tmp_path, capsys):
    rng = np.random.default_rng(0)
    x = np.column_stack([rng.integers(0, 5, 400), rng.normal(size=400)])
    y = np.isin(x[:, 0], [1, 3]).astype(int)
    params = {"objective": "binary", "min_data_per_group": 5, "num_threads": 1, "verbose": -1}
    booster = lgb.train(params, lgb.Dataset(x, y, feature_name=["code", "value"], categorical_feature=[0]), 5)
    folder = tmp_path / "coded"
    folder.mkdir()
    booster.save_model(str(folder / "model.txt"))
    sample = tmp_path / "coded.csv"
    sample.write_text("code,value\n" + "".join(f"{int(a)},{b!r}\n" for a, b in x.tolist()))
    assert main(["models", "init", str(folder), "--data", str(sample)]) == 1
    err = capsys.readouterr().err
    assert "LightGBM categorical splits: shap's TreeSHAP cannot read them" in err
    assert "retrain with categorical_feature=[]" in err
