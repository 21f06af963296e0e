"""The `lambda_function` transport: a synchronous (RequestResponse) Lambda Invoke per attempt."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from functions.adapters.remote.aws_errors import SDK_FAILURES, classify
from functions.adapters.remote.batch import Answer
from functions.adapters.remote.codec import JSON
from functions.adapters.remote.retry import AttemptFailed
from functions.adapters.remote.timeouts import client_timeout
from functions.schemas.manifest import LambdaFunctionAdapter

if TYPE_CHECKING:
    from mypy_boto3_lambda import LambdaClient


class LambdaTransport:
    """Invokes the model's Lambda function with the request body as its event."""

    def __init__(self, adapter: LambdaFunctionAdapter, client_for: Callable[[float], LambdaClient]):
        self.adapter = adapter
        self.client_for = client_for  # a client whose timeouts are the given number of seconds
        self.target = f"Lambda function {adapter.function_name}" + (
            f":{adapter.qualifier}" if adapter.qualifier else ""
        )

    def prepare(self) -> None:
        """Nothing to prepare: the SDK client is created and signs on its own."""

    def send(self, body: bytes, content_type: str, timeout: float) -> Answer:
        """One Invoke; a FunctionError in the answer is a failure of the model, not an answer."""
        extra: dict[str, Any] = {"Qualifier": self.adapter.qualifier} if self.adapter.qualifier else {}
        client = self.client_for(client_timeout(timeout, self.adapter.timeout_seconds))
        try:
            response = client.invoke(
                FunctionName=self.adapter.function_name, InvocationType="RequestResponse", Payload=body, **extra
            )
            payload = response["Payload"].read()
        except SDK_FAILURES as error:
            raise classify(error, "Invoke") from error
        if "FunctionError" in response:
            raise _function_error(response["FunctionError"], payload)
        return Answer(payload, JSON)  # a function's result is always its JSON-serialised return value


def _function_error(kind: str, payload: bytes) -> AttemptFailed:
    """The model's code raised, or its runtime failed. Not retried: the same rows fail the same way.

    Only `errorType` is named: `errorMessage` and the stack trace may quote the rows.
    """
    try:
        error_type = str(json.loads(payload).get("errorType", "unknown"))[:80]
    except (ValueError, AttributeError):
        error_type = "unknown"
    return AttemptFailed("unavailable", f"the model function failed ({kind}: {error_type})", retryable=False)
