"""Request bodies for the end-to-end tests (the demo conversation's turns, renamed per test)."""

from __future__ import annotations

import copy
import uuid
from typing import Any

from infra.demo import CONVERSATION

_BY_ID = {body["request_id"]: (model_id, body) for model_id, body in CONVERSATION}


def body(demo_request_id: str, **changes: Any) -> tuple[str, dict[str, Any]]:
    """(model id, a copy of that demo turn with a fresh request_id and `changes` applied)."""
    model_id, original = _BY_ID[demo_request_id]
    fresh = copy.deepcopy(original) | {"request_id": f"test-{uuid.uuid4()}"}
    for key, value in changes.items():
        if value is None:
            fresh.pop(key, None)
        else:
            fresh[key] = value
    return model_id, fresh


def refund_inputs(**changes: Any) -> dict[str, Any]:
    return {**_BY_ID["demo-refund-1"][1]["inputs"], **changes}
