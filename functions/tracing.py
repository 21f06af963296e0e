"""The handlers' tracer: Powertools' X-Ray `Tracer` when tracing is on, a no-op that imports nothing when it is off.

Powertools' `Tracer()` imports `aws_xray_sdk.core` (about 0.2-0.3 s of a cold start) even when
tracing is disabled, and still wraps every call in a (dummy) X-Ray subsegment. When tracing is
off, by Powertools' own rule, the handlers get `Untraced` instead: decorators that return the
function unchanged.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

from aws_lambda_powertools.shared import constants
from aws_lambda_powertools.shared.functions import resolve_truthy_env_var_choice

if TYPE_CHECKING:
    from aws_lambda_powertools import Tracer

F = TypeVar("F", bound=Callable[..., Any])


def tracing_disabled() -> bool:
    """Powertools' own rule (`Tracer._is_tracer_disabled`): off when told so, outside Lambda, in SAM/Chalice local."""
    if resolve_truthy_env_var_choice(env=os.getenv(constants.TRACER_DISABLED_ENV, "false")):
        return True
    in_lambda = bool(os.getenv(constants.LAMBDA_TASK_ROOT_ENV))
    emulated = bool(os.getenv(constants.SAM_LOCAL_ENV) or os.getenv(constants.CHALICE_LOCAL_ENV))
    return not in_lambda or emulated


class Untraced:
    """What the handlers use of `Tracer`, doing nothing: no subsegment, no X-Ray SDK."""

    disabled = True

    def capture_lambda_handler(
        self, lambda_handler: F | None = None, capture_response: bool | None = None, capture_error: bool | None = None
    ) -> Any:
        return lambda_handler if lambda_handler is not None else _unchanged

    def capture_method(
        self, method: F | None = None, capture_response: bool | None = None, capture_error: bool | None = None
    ) -> Any:
        return method if method is not None else _unchanged


def _unchanged(function: F) -> F:
    return function


def handler_tracer() -> Tracer | Untraced:
    """Powertools' Tracer when this container traces, else `Untraced` (and the X-Ray SDK stays unimported)."""
    if tracing_disabled():
        return Untraced()
    from aws_lambda_powertools import Tracer

    return Tracer()
