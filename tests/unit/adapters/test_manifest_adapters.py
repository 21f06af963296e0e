"""Remote adapters in the manifest: what the schema refuses at load, and what `remote_model` adds."""

from __future__ import annotations

import json
from typing import Any

import pytest
from pydantic import ValidationError

from functions.adapters.remote import remote_model
from functions.domain.errors import ManifestError
from functions.domain.seal import sha256_hex
from functions.schemas.manifest import ModelManifest
from infra.local.model_server import MODELS_DIR, remote_manifest

HTTPS = {"type": "https_endpoint", "url": "https://models.example.com/refund/invocations"}


def _document(model_id: str, adapter: dict[str, Any]) -> dict[str, Any]:
    document = json.loads((MODELS_DIR / model_id / "manifest.json").read_bytes())
    document.pop("artifact")
    document["adapter"] = adapter
    document["explainer"] = {"method": "permutation_shap"}
    return document


def _refused(adapter: dict[str, Any], model_id: str = "refund-decision") -> str:
    with pytest.raises(ValidationError) as caught:
        ModelManifest.model_validate(_document(model_id, adapter))
    return str(caught.value)


def test_each_remote_adapter_type_loads() -> None:
    for adapter in (
        HTTPS,
        {"type": "sagemaker_endpoint", "endpoint_name": "refund-model", "content_type": "text/csv"},
        {"type": "lambda_function", "function_name": "refund-model", "qualifier": "live"},
    ):
        manifest = ModelManifest.model_validate(_document("refund-decision", adapter))
        assert manifest.is_remote
        assert manifest.adapter.type == adapter["type"]


def test_an_unknown_adapter_type_is_refused_naming_the_tag() -> None:
    message = _refused({"type": "grpc_endpoint", "url": "https://x.example.com"})
    assert "adapter" in message
    assert "grpc_endpoint" in message


def test_an_https_adapter_without_url_is_refused_naming_url() -> None:
    message = _refused({"type": "https_endpoint"})
    assert "adapter.https_endpoint.url" in message
    assert "Field required" in message


@pytest.mark.parametrize("url", ["http://models.example.com/predict", "ftp://models.example.com", "https://"])
def test_an_https_adapter_url_must_be_https(url: str) -> None:
    message = _refused({**HTTPS, "url": url})
    assert "adapter.https_endpoint.url" in message


@pytest.mark.parametrize(
    ("template", "found"),
    [
        ({"instances": "rows"}, "none"),
        ({"instances": "$rows", "extra": ["$records"]}, "['$rows', '$records']"),
        ({"a": "$rows", "b": "$rows"}, "['$rows', '$rows']"),
    ],
)
def test_a_request_template_needs_exactly_one_placeholder(template: Any, found: str) -> None:
    message = _refused({**HTTPS, "request_template": template})
    assert "adapter.request_template" in message
    assert found in message


def test_a_response_path_must_be_jmespath() -> None:
    message = _refused({**HTTPS, "response_path": "predictions[*.score"})
    assert "adapter.response_path" in message


@pytest.mark.parametrize(
    ("field", "value"),
    [("timeout_seconds", 0), ("timeout_seconds", 61), ("max_attempts", 0), ("max_batch_rows", 0)],
)
def test_call_limits_are_bounded(field: str, value: float) -> None:
    assert f"adapter.https_endpoint.{field}" in _refused({**HTTPS, field: value})


def test_an_auth_secret_source_must_be_known() -> None:
    message = _refused({**HTTPS, "auth": {"source": "vault", "name": "model-token"}})
    assert "adapter.https_endpoint.auth.source" in message


def test_a_remote_model_cannot_use_an_exact_explainer() -> None:
    document = _document("refund-decision", HTTPS)
    document["explainer"] = {"method": "tree_shap"}
    with pytest.raises(ValidationError, match=r"explainer\.method"):
        ModelManifest.model_validate(document)


# What the schema lets through and `remote_model` refuses, at cold start, naming the field.


def _no_files(name: str) -> bytes:
    raise FileNotFoundError(name)


def test_texts_placeholder_on_a_tabular_model_is_refused_at_load() -> None:
    with pytest.raises(ValidationError, match=r"adapter\.request_template: uses \$texts"):
        remote_manifest("refund-decision", {**HTTPS, "request_template": {"inputs": "$texts"}})


def test_rows_placeholder_on_a_text_model_is_refused_at_load() -> None:
    with pytest.raises(ValidationError, match=r"this model's inputs need \$texts"):
        remote_manifest("ticket-router", {**HTTPS, "request_template": {"instances": "$rows"}})


def test_csv_requests_take_no_template_and_no_text_model() -> None:
    csv = {"type": "sagemaker_endpoint", "endpoint_name": "m", "content_type": "text/csv"}
    with pytest.raises(ValidationError, match=r"adapter\.request_template: not used with content_type text/csv"):
        remote_manifest("refund-decision", {**csv, "request_template": {"x": "$rows"}})
    with pytest.raises(ValidationError, match=r"adapter\.content_type: text/csv carries encoded rows"):
        remote_manifest("ticket-router", {**csv, "request_template": {"x": "$texts"}})


def test_a_ca_bundle_that_is_not_pem_is_refused_naming_the_field() -> None:
    not_pem = b"this is not a certificate"
    adapter = {**HTTPS, "ca_bundle": {"path": "ca.pem", "sha256": sha256_hex(not_pem)}}
    with pytest.raises(ManifestError, match=r"adapter\.ca_bundle") as caught:
        remote_model(remote_manifest("refund-decision", adapter), {"ca.pem": not_pem}.__getitem__)
    assert caught.value.field == "adapter.ca_bundle"


def test_a_pem_block_that_is_not_a_certificate_is_refused() -> None:
    broken = b"-----BEGIN CERTIFICATE-----\nbm90IGEgY2VydGlmaWNhdGU=\n-----END CERTIFICATE-----\n"
    adapter = {**HTTPS, "ca_bundle": {"path": "ca.pem", "sha256": sha256_hex(broken)}}
    with pytest.raises(ManifestError, match=r"adapter\.ca_bundle"):
        remote_model(remote_manifest("refund-decision", adapter), {"ca.pem": broken}.__getitem__)


def test_a_ca_bundle_is_checked_against_its_pinned_hash_and_must_exist() -> None:
    adapter = {**HTTPS, "ca_bundle": {"path": "ca.pem", "sha256": "0" * 64}}
    manifest = remote_manifest("refund-decision", adapter)
    with pytest.raises(ManifestError, match="refusing to load it"):
        remote_model(manifest, {"ca.pem": b"-----BEGIN CERTIFICATE-----"}.__getitem__)
    with pytest.raises(ManifestError, match="cannot be read") as caught:
        remote_model(manifest, _no_files)
    assert caught.value.field == "adapter.ca_bundle"


def test_an_in_process_manifest_is_not_a_remote_model() -> None:
    manifest = ModelManifest.model_validate_json((MODELS_DIR / "refund-decision" / "manifest.json").read_bytes())
    with pytest.raises(ManifestError, match="not a remote model"):
        remote_model(manifest, _no_files)


def _read_bundled(model_id: str):
    return lambda path: (MODELS_DIR / model_id / path).read_bytes()


def test_without_shap_a_sampled_explainer_is_refused_naming_the_black_box_image(monkeypatch) -> None:
    """The exact image carries no shap: a manifest that needs it fails to load with a 503's clear message."""
    from functions.adapters import loader

    monkeypatch.setattr(loader, "find_spec", lambda name: None if name == "shap" else object())
    manifest = ModelManifest.model_validate(_document("refund-decision", HTTPS))
    with pytest.raises(ManifestError, match=r"needs shap.*infra/decisions\.Dockerfile"):
        loader.load_model(manifest, _read_bundled("refund-decision"))
    exact = ModelManifest.model_validate(json.loads((MODELS_DIR / "refund-decision" / "manifest.json").read_bytes()))
    assert exact.explainer.exact
    assert loader.load_model(exact, _read_bundled("refund-decision")).predict  # exact models still load
