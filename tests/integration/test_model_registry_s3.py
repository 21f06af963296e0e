"""The registry reads the same manifests and artifacts from an S3 prefix as from a folder."""

import boto3
import pytest

from functions.adapters.in_process import load_runtime
from functions.domain.errors import ManifestError, UnknownModel
from functions.schemas.settings import BUNDLED_MODELS
from functions.stores.model_registry import ModelRegistry, source_from_uri
from infra.local.invocation import running


@pytest.fixture
def models_bucket(aws_env):
    s3 = boto3.client("s3")
    s3.create_bucket(
        Bucket="acme-models", CreateBucketConfiguration={"LocationConstraint": aws_env["AWS_DEFAULT_REGION"]}
    )
    for path in [*BUNDLED_MODELS.glob("refund-decision/*"), *BUNDLED_MODELS.glob("ticket-router/*")]:
        s3.put_object(Bucket="acme-models", Key=f"registry/v1/{path.parent.name}/{path.name}", Body=path.read_bytes())
    return s3


def test_models_load_from_an_s3_prefix(models_bucket):
    # As the catalog function reads it (its reads are recorded for tests/test_iam_check.py).
    with running("CatalogFunction"):
        registry = ModelRegistry(source_from_uri("s3://acme-models/registry/v1", lambda: models_bucket), load_runtime)
        assert sorted(m.id for m in registry.manifests()) == ["refund-decision", "ticket-router"]
        prediction = registry.runtime("ticket-router").predict({"text": "I was charged twice this month"})
    assert prediction.explained_label == "billing"
    with pytest.raises(UnknownModel):
        registry.runtime("nope")


def test_a_tampered_artifact_in_s3_is_refused(models_bucket):
    models_bucket.put_object(Bucket="acme-models", Key="registry/v1/ticket-router/model.json", Body=b"{}")
    registry = ModelRegistry(source_from_uri("s3://acme-models/registry/v1", lambda: models_bucket), load_runtime)
    with pytest.raises(ManifestError, match="refusing to load"):
        registry.runtime("ticket-router")


def _copy_model(source: str, folder, model_id: str) -> None:
    """`source`'s bundled files as model `model_id` in `folder`."""
    import json
    import shutil

    target = folder / model_id
    shutil.copytree(BUNDLED_MODELS / source, target)
    manifest = json.loads((target / "manifest.json").read_text())
    (target / "manifest.json").write_text(json.dumps({**manifest, "id": model_id}))


def test_several_locations_are_one_registry(models_bucket, tmp_path):
    uri = f"bundled, {tmp_path},s3://acme-models/registry/v1"
    with pytest.raises(ManifestError, match="refund-decision: found in both bundled and s3://acme-models/registry/v1"):
        source_from_uri(uri, lambda: models_bucket)

    for model_id in ("refund-decision", "ticket-router"):
        models_bucket.delete_object(Bucket="acme-models", Key=f"registry/v1/{model_id}/manifest.json")
    _copy_model("refund-decision", tmp_path, "my-refunds")
    _copy_model("ticket-router", tmp_path / "s3", "my-router")
    for path in (tmp_path / "s3").glob("*/*"):
        key = f"registry/v1/{path.parent.name}/{path.name}"
        models_bucket.put_object(Bucket="acme-models", Key=key, Body=path.read_bytes())
    registry = ModelRegistry(source_from_uri(uri, lambda: models_bucket), load_runtime)
    bundled = [folder.name for folder in BUNDLED_MODELS.iterdir() if (folder / "manifest.json").exists()]
    assert sorted(m.id for m in registry.manifests()) == sorted(["my-refunds", "my-router", *bundled])
    assert registry.runtime("my-router").predict({"text": "I was charged twice"}).explained_label == "billing"
    assert registry.manifest("my-refunds").features == registry.manifest("refund-decision").features


@pytest.mark.parametrize("uri", ["", " , ", "no/such/folder", "bundled,models-typo"])
def test_a_location_that_is_not_there_fails_the_cold_start(uri):
    with pytest.raises(ManifestError, match="CANDOR_MODELS_URI"):
        source_from_uri(uri, lambda: None)  # type: ignore[arg-type,return-value]
