"""What Lambda hands a handler, locally: the context object, and the handler imported from its dotted path.

Shared by the gateway's own process and the worker processes of `infra.local.lambda_worker`.
"""

from __future__ import annotations

import importlib
import time
import uuid
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

ACCOUNT_ID = "123456789012"
REGION = "eu-west-1"

Handler = Callable[[dict[str, Any], Any], Any]


@dataclass
class LambdaContext:
    """The attributes and method of the Lambda context object that handlers and Powertools use."""

    function_name: str
    memory_limit_in_mb: int
    invoked_function_arn: str
    aws_request_id: str
    timeout_s: float = 3.0
    function_version: str = "$LATEST"
    log_group_name: str = ""
    log_stream_name: str = "local"
    _deadline: float = field(default=0.0, repr=False)

    def __post_init__(self) -> None:
        if not self._deadline:
            self._deadline = time.monotonic() + self.timeout_s
        if not self.log_group_name:
            self.log_group_name = f"/aws/lambda/{self.function_name}"

    def get_remaining_time_in_millis(self) -> int:
        """Milliseconds left before the function's configured timeout."""
        return max(0, int((self._deadline - time.monotonic()) * 1000))

    def fields(self) -> dict[str, Any]:
        """The context as JSON, for another process; its clock restarts there (`from_fields`)."""
        values = asdict(self)
        values.pop("_deadline")
        return values

    @classmethod
    def from_fields(cls, values: dict[str, Any]) -> LambdaContext:
        return cls(**values)


def function_context(function: str, memory_mb: int, timeout_s: float, request_id: str | None = None) -> LambdaContext:
    """A fresh context for one invocation of a function of the template."""
    return LambdaContext(
        function_name=function,
        memory_limit_in_mb=memory_mb,
        invoked_function_arn=f"arn:aws:lambda:{REGION}:{ACCOUNT_ID}:function:{function}",
        aws_request_id=request_id or str(uuid.uuid4()),
        timeout_s=float(timeout_s),
    )


def import_handler(dotted: str) -> Handler:
    """Import `package.module.function` and return the function."""
    module_name, _, attribute = dotted.rpartition(".")
    if not module_name:
        raise ValueError(f"handler {dotted!r} is not a dotted path")
    handler = getattr(importlib.import_module(module_name), attribute)
    if not callable(handler):
        raise TypeError(f"{dotted} is not callable")
    return handler
