"""Adapters for models that run elsewhere: a SageMaker endpoint, a Lambda function, an HTTPS endpoint.

    model = remote_model(manifest, read_file)            # clients: functions.stores.aws_clients
    probabilities = model(rows, deadline=time.monotonic() + 2.0)   # (n, K), label order

`remote_model` checks what the schema cannot (the CA bundle's content) and raises
ManifestError naming the field, at cold start.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Protocol

from functions.adapters.remote.batch import RemoteBatchModel
from functions.adapters.remote.codec import CSV, AnswerDecoder, CsvEncoder, TemplateEncoder
from functions.adapters.remote.https import HttpsTransport
from functions.adapters.remote.lambda_function import LambdaTransport
from functions.adapters.remote.sagemaker import SageMakerTransport
from functions.adapters.remote.secrets import SecretHeaderValue
from functions.domain.errors import ManifestError
from functions.schemas.manifest import (
    HttpsEndpointAdapter,
    LambdaFunctionAdapter,
    ModelManifest,
    RemoteCall,
    SageMakerEndpointAdapter,
)

if TYPE_CHECKING:
    from mypy_boto3_lambda import LambdaClient
    from mypy_boto3_sagemaker_runtime import SageMakerRuntimeClient
    from mypy_boto3_secretsmanager import SecretsManagerClient
    from mypy_boto3_ssm import SSMClient

    from functions.domain.ports import BatchModel

ReadFile = Callable[[str], bytes]

__all__ = ["RemoteBatchModel", "RemoteClients", "remote_model"]


class RemoteClients(Protocol):
    """Where the adapters get their AWS clients; the module `functions.stores.aws_clients` is one."""

    def sagemaker_runtime(self, timeout_seconds: float = ...) -> SageMakerRuntimeClient: ...

    def lambda_client(self, timeout_seconds: float = ...) -> LambdaClient: ...

    def secretsmanager(self) -> SecretsManagerClient: ...

    def ssm(self) -> SSMClient: ...


def remote_model(manifest: ModelManifest, read_file: ReadFile, clients: RemoteClients | None = None) -> BatchModel:
    """The `BatchModel` calling the remote model that `manifest.adapter` describes.

    `read_file(name)` reads files next to the manifest (the CA bundle); `clients` defaults
    to the container's cached clients. Clients are only asked for when a call is made.
    Raises ManifestError for a manifest the schema accepted but this adapter cannot serve.
    """
    if clients is None:
        from functions.stores import aws_clients

        clients = aws_clients
    adapter = manifest.adapter
    if isinstance(adapter, SageMakerEndpointAdapter):
        return _sagemaker(manifest, adapter, clients)
    if isinstance(adapter, LambdaFunctionAdapter):
        transport = LambdaTransport(adapter, clients.lambda_client)
        return RemoteBatchModel(
            manifest, adapter, transport, _template(manifest, adapter), AnswerDecoder(adapter.response_path)
        )
    if isinstance(adapter, HttpsEndpointAdapter):
        return _https(manifest, adapter, read_file, clients)
    raise ManifestError(f"model {manifest.id}: adapter type {adapter.type} is not a remote model", field="adapter.type")


def _sagemaker(manifest: ModelManifest, adapter: SageMakerEndpointAdapter, clients: RemoteClients) -> BatchModel:
    decoder = AnswerDecoder(adapter.response_path, expected=adapter.accept)
    transport = SageMakerTransport(adapter, clients.sagemaker_runtime)
    if adapter.content_type != CSV:  # the manifest's schema keeps CSV to tabular models without a template
        return RemoteBatchModel(manifest, adapter, transport, _template(manifest, adapter), decoder)
    return RemoteBatchModel(manifest, adapter, transport, CsvEncoder(), decoder)


def _https(
    manifest: ModelManifest, adapter: HttpsEndpointAdapter, read_file: ReadFile, clients: RemoteClients
) -> BatchModel:
    ca_pem = _read_ca_bundle(manifest, adapter, read_file) if adapter.ca_bundle else None
    auth = SecretHeaderValue(adapter.auth, clients.secretsmanager, clients.ssm) if adapter.auth else None
    transport = HttpsTransport(adapter, ca_pem, auth)
    return RemoteBatchModel(
        manifest, adapter, transport, _template(manifest, adapter), AnswerDecoder(adapter.response_path)
    )


def _read_ca_bundle(manifest: ModelManifest, adapter: HttpsEndpointAdapter, read_file: ReadFile) -> bytes:
    from functions.adapters.in_process import read_pinned  # the same hash check as model artifacts

    assert adapter.ca_bundle is not None
    try:
        return read_pinned(read_file, adapter.ca_bundle, manifest.id)
    except (OSError, KeyError) as error:
        raise ManifestError(
            f"model {manifest.id}: adapter.ca_bundle {adapter.ca_bundle.path} cannot be read ({type(error).__name__})",
            field="adapter.ca_bundle",
        ) from None


def _template(manifest: ModelManifest, call: RemoteCall) -> TemplateEncoder:
    """The JSON request encoder (the schema has checked the placeholder against the model's inputs)."""
    return TemplateEncoder(manifest, call.request_template, call.placeholder)
