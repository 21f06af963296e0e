"""The registry reads the same manifests and artifacts from an S3 prefix as from a folder."""

import boto3
import pytest

from functions.adapters.in_process import load_runtime
from functions.domain.errors import ManifestError, UnknownModel
from functions.schemas.settings import BUNDLED_MODELS
from functions.stores.model_registry import ModelRegistry, source_from_uri


@pytest.fixture
def models_bucket(aws_env):
    s3 = boto3.client("s3")
    s3.create_bucket(
        Bucket="acme-models", CreateBucketConfiguration={"LocationConstraint": aws_env["AWS_DEFAULT_REGION"]}
    )
    for path in BUNDLED_MODELS.glob("*/*"):
        s3.put_object(Bucket="acme-models", Key=f"registry/v1/{path.parent.name}/{path.name}", Body=path.read_bytes())
    return s3


def test_models_load_from_an_s3_prefix(models_bucket):
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
