"""Helpers for the customer tests: make a decision, pull its link apart, read the appeals table."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs, urlsplit

from tests.e2e.bodies import body


def decided(api: Any, turn: str, **changes: Any) -> tuple[str, str, str]:
    """(decision id, token, page URL) of a fresh decision for a demo turn."""
    model_id, request = body(turn, **changes)
    response = api.decide(model_id, request)
    assert response.status_code == 200, response.text
    link = response.json()["links"]["customer_view"]
    return response.json()["decision_id"], parse_qs(urlsplit(link).query)["token"][0], link


def appeal_item(api: Any, decision_id: str) -> dict[str, Any] | None:
    found = api.aws("dynamodb").get_item(
        TableName=api.stack.env["CANDOR_APPEALS_TABLE"], Key={"decision_id": {"S": decision_id}}
    )
    return found.get("Item")


def appeals_count(api: Any) -> int:
    return int(api.aws("dynamodb").scan(TableName=api.stack.env["CANDOR_APPEALS_TABLE"], Select="COUNT")["Count"])
