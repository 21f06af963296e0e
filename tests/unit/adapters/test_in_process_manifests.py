"""In-process manifests: the explainer fits the format, the record names a background only if used."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from functions.adapters.loader import load_model
from functions.domain.errors import ManifestError
from functions.schemas.manifest import ModelManifest

MODELS = Path(__file__).parents[3] / "models"


def _manifest(model_id: str) -> dict[str, Any]:
    return dict(json.loads((MODELS / model_id / "manifest.json").read_text()))


def _read(model_id: str, replaced: dict[str, bytes] | None = None) -> Any:
    return lambda name: (replaced or {}).get(name) or (MODELS / model_id / name).read_bytes()


@pytest.mark.parametrize(
    ("model_id", "method", "allowed"),
    [
        ("refund-decision", "linear_shap", "tree_shap or permutation_shap or kernel_shap"),
        ("ticket-router", "tree_shap", "linear_shap"),
        ("ticket-router", "permutation_shap", "linear_shap"),
    ],
)
def test_an_explainer_the_format_cannot_load_is_refused_by_the_schema(model_id: str, method: str, allowed: str):
    document = _manifest(model_id)
    document["explainer"]["method"] = method
    with pytest.raises(ValidationError) as refused:
        ModelManifest.model_validate(document)
    assert f"is explained with {allowed}, not {method}" in str(refused.value)


@pytest.mark.parametrize("model_id", ["refund-decision", "ticket-router"])
def test_exact_explainers_record_no_background_because_they_read_none(model_id: str):
    manifest = ModelManifest.model_validate(_manifest(model_id))
    assert manifest.background is not None  # the file is there, pinned, and still not the reference
    assert load_model(manifest, _read(model_id)).explainer.background_sha256 is None


def test_a_sampled_explainer_records_the_background_it_sampled():
    document = _manifest("refund-decision")
    document["explainer"] = {"method": "permutation_shap", "settings": {"max_evals": 50, "max_background": 5}}
    manifest = ModelManifest.model_validate(document)
    runtime = load_model(manifest, _read("refund-decision"))
    assert runtime.explainer.background_sha256 == document["background"]["sha256"]


def test_a_background_row_that_is_no_valid_request_is_a_manifest_error_naming_the_background():
    document = _manifest("refund-decision")
    background = json.loads((MODELS / "refund-decision" / "background.json").read_text())
    background["rows"][3]["channel"] = "carrier pigeon"
    data = json.dumps(background).encode()
    document["background"]["sha256"] = hashlib.sha256(data).hexdigest()
    with pytest.raises(ManifestError) as refused:
        load_model(ModelManifest.model_validate(document), _read("refund-decision", {"background.json": data}))
    assert refused.value.field == "background"
    assert "carrier pigeon" in refused.value.message
