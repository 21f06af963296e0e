"""Remote decision, exact explanation: an endpoint decides, the model's pinned artifact explains it, in one call.

Over the HTTPS adapter (a local TLS server running the bundled LightGBM model) and the SageMaker
adapter (the real SDK, answered by a `before-send` handler running the bundled XGBoost model, its
artifact pinned as SageMaker's model.tar.gz); and a pinned artifact that is not the endpoint's
model falls back to the black-box explanation, says why and counts it.
"""

from __future__ import annotations

import io
import tarfile
from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest
import xgboost

from functions.adapters import remote_exact
from functions.adapters.black_box import BlackBoxRuntime
from functions.adapters.in_process import load_runtime
from functions.adapters.loader import background_rows, load_model
from functions.adapters.remote import remote_model
from functions.domain.seal import sha256_hex
from functions.schemas.manifest import ModelManifest
from functions.schemas.settings import BUNDLED_MODELS
from functions.stores.model_registry import FolderSource, ModelRegistry
from infra.local.invocation import running
from infra.local.model_server import ModelServer, refund_decision_predict, remote_manifest
from infra.training.synthetic import refund_requests
from tests.integration.test_aws_model_adapters import _Clients, _sagemaker_client, _SageMakerEndpoint
from tests.support import fresh_container, predict_and_explain

TOL = 1e-6
REFUND = BUNDLED_MODELS / "refund-decision"
XGB = BUNDLED_MODELS / "refund-decision-xgboost"


@pytest.fixture(scope="module")
def served() -> Iterator[ModelServer]:
    with ModelServer(refund_decision_predict(), output_key="score") as server:
        yield server


@pytest.fixture(scope="module")
def in_process() -> ModelRegistry:
    return ModelRegistry(FolderSource(BUNDLED_MODELS), load_runtime)


def _https_manifest(served: ModelServer, pinned: dict[str, Any]) -> ModelManifest:
    adapter = {
        "type": "https_endpoint",
        "url": served.url(),
        "ca_bundle": {"path": "ca.pem", "sha256": sha256_hex(served.ca_pem)},
        "response_path": "predictions[*].score",
        "max_batch_rows": 5000,
        "exact_artifact": pinned,
    }
    return remote_manifest("refund-decision", adapter)


def _files(served: ModelServer, **extra: bytes) -> dict[str, bytes]:
    return {"ca.pem": served.ca_pem, "background.json": (REFUND / "background.json").read_bytes(), **extra}


def test_https_endpoint_explained_exactly_from_its_pinned_artifact_in_one_call(served, in_process):
    model = (REFUND / "model.txt").read_bytes()
    pinned = {"format": "lightgbm_text", "file": {"path": "model.txt", "sha256": sha256_hex(model)}}
    runtime = load_model(_https_manifest(served, pinned), _files(served, **{"model.txt": model}).__getitem__)
    exact = in_process.runtime("refund-decision")

    for request in refund_requests(6, seed=515):
        before = served.requests
        prediction, run = predict_and_explain(runtime, request["inputs"])
        assert served.requests - before == 1  # the decision's call; the explanation needs none
        _, expected = predict_and_explain(exact, request["inputs"])
        assert run.explainer is not None and run.explainer.exact is True
        assert run.explainer.implementation.endswith(f"on the pinned artifact sha256:{pinned['file']['sha256']}")
        assert run.note is None and run.sampling is None
        np.testing.assert_allclose(run.attribution.values, expected.attribution.values, rtol=0, atol=1e-12)
        assert run.attribution.additivity_error < TOL
        assert prediction.model_output == pytest.approx(run.attribution.model_output, abs=TOL)


def test_an_artifact_that_no_longer_matches_the_endpoint_falls_back_to_the_black_box(served):
    other = (XGB / "model.json").read_bytes()  # another model than the one the endpoint serves
    pinned = {"format": "xgboost_json", "file": {"path": "model.json", "sha256": sha256_hex(other)}}
    runtime = load_model(_https_manifest(served, pinned), _files(served, **{"model.json": other}).__getitem__)
    remote_exact.metrics.clear_metrics()

    before = served.requests
    _, run = predict_and_explain(runtime, refund_requests(1, seed=516)[0]["inputs"])

    assert served.requests - before == 2  # the decision, then the black box's batch
    assert run.explainer is not None and run.explainer.exact is False
    assert run.explainer.method == "permutation_shap"
    assert run.sampling is not None
    assert run.note is not None and "differ from the endpoint's" in run.note and "black box" in run.note
    assert remote_exact.metrics.metric_set[remote_exact.MISMATCH_METRIC]["Value"] == [1.0]
    remote_exact.metrics.clear_metrics()


def _model_tar_gz(member: str, data: bytes) -> bytes:
    """SageMaker's model.tar.gz: the model file at the archive's root."""
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w:gz") as archive:
        info = tarfile.TarInfo(member)
        info.size = len(data)
        archive.addfile(info, io.BytesIO(data))
    return out.getvalue()


@pytest.fixture
def _dummy_account(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    for name in ("AWS_ENDPOINT_URL", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    for name, value in {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-west-1")
    fresh_container()
    with running("DecisionsFunction"):
        yield
    fresh_container()


@pytest.mark.usefixtures("_dummy_account")
def test_sagemaker_xgboost_endpoint_explained_from_its_model_tar_gz(in_process):
    booster = xgboost.Booster(model_file=str(XGB / "model.json"))

    def endpoint_predict(instances: list[Any]) -> np.ndarray:  # SageMaker's built-in XGBoost: P(approve) as CSV
        matrix = xgboost.DMatrix(np.asarray(instances, dtype=float))
        return np.asarray(booster.predict(matrix, validate_features=False), dtype=np.float64)

    archive = _model_tar_gz("xgboost-model", (XGB / "model.json").read_bytes())
    adapter = {
        "type": "sagemaker_endpoint",
        "endpoint_name": "refund-xgboost",
        "content_type": "text/csv",
        "accept": "text/csv",
        "exact_artifact": {
            "format": "xgboost_json",
            "file": {"path": "model.tar.gz", "sha256": sha256_hex(archive)},
            "member": "xgboost-model",
        },
    }
    manifest = remote_manifest("refund-decision-xgboost", adapter)
    files = {"model.tar.gz": archive, "background.json": (XGB / "background.json").read_bytes()}
    endpoint = _SageMakerEndpoint(endpoint_predict, answer_csv=True)
    clients = _Clients(sagemaker=_sagemaker_client(endpoint))
    remote = BlackBoxRuntime(
        manifest, remote_model(manifest, files.__getitem__, clients), background_rows(manifest, files.__getitem__)
    )
    runtime = remote_exact.ArtifactExplainedRuntime(
        remote, remote_exact.load_artifact_runtime(manifest, files.__getitem__)
    )
    exact = in_process.runtime("refund-decision-xgboost")

    for request in refund_requests(4, seed=517):
        before = len(endpoint.requests)
        _, run = predict_and_explain(runtime, request["inputs"])
        assert len(endpoint.requests) - before == 1
        _, expected = predict_and_explain(exact, request["inputs"])
        assert run.explainer is not None and run.explainer.exact is True and run.note is None
        np.testing.assert_allclose(run.attribution.values, expected.attribution.values, rtol=0, atol=1e-12)


def test_a_text_model_cannot_pin_an_artifact():
    with pytest.raises(ValueError, match="exact_artifact: tree models over tabular features only"):
        remote_manifest(
            "ticket-router",
            {
                "type": "https_endpoint",
                "url": "https://models.example/router",
                "request_template": {"texts": "$texts"},
                "exact_artifact": {"format": "lightgbm_text", "file": {"path": "m.txt", "sha256": "0" * 64}},
            },
        )


def test_the_mismatch_metric_is_alarmed_in_the_decisions_functions_namespace():
    from infra import template as tpl

    document = tpl.load_template()
    alarm = document["Resources"]["ArtifactScoreMismatchAlarm"]["Properties"]
    environment = document["Globals"]["Function"]["Environment"]["Variables"]
    assert alarm["MetricName"] == remote_exact.MISMATCH_METRIC
    assert alarm["Namespace"] == environment["POWERTOOLS_METRICS_NAMESPACE"]
    assert alarm["Dimensions"] == [{"Name": "service", "Value": environment["POWERTOOLS_SERVICE_NAME"]}]
