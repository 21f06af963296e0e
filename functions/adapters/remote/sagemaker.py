"""The `sagemaker_endpoint` transport: sagemaker-runtime InvokeEndpoint, one attempt per send."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from functions.adapters.remote.aws_errors import SDK_FAILURES, classify
from functions.adapters.remote.batch import Answer
from functions.adapters.remote.timeouts import client_timeout
from functions.schemas.manifest import SageMakerEndpointAdapter

if TYPE_CHECKING:
    from mypy_boto3_sagemaker_runtime import SageMakerRuntimeClient


class SageMakerTransport:
    """Sends a body to a SageMaker real-time endpoint (optionally one production variant)."""

    def __init__(self, adapter: SageMakerEndpointAdapter, client_for: Callable[[float], SageMakerRuntimeClient]):
        self.adapter = adapter
        self.client_for = client_for  # a client whose timeouts are the given number of seconds
        self.target = f"SageMaker endpoint {adapter.endpoint_name}"

    def prepare(self) -> None:
        """Nothing to prepare: the SDK client is created and signs on its own."""

    def send(self, body: bytes, content_type: str, timeout: float) -> Answer:
        """One InvokeEndpoint call; failures become AttemptFailed."""
        extra: dict[str, Any] = {"TargetVariant": self.adapter.target_variant} if self.adapter.target_variant else {}
        client = self.client_for(client_timeout(timeout, self.adapter.timeout_seconds))
        try:
            response = client.invoke_endpoint(
                EndpointName=self.adapter.endpoint_name,
                Body=body,
                ContentType=content_type,
                Accept=self.adapter.accept,
                **extra,
            )
            payload = response["Body"].read()
        except SDK_FAILURES as error:
            raise classify(error, "InvokeEndpoint") from error
        return Answer(payload, response.get("ContentType"))
