"""docs/decision-response.md documents every field of the decision response's schema."""

import json
import re
from pathlib import Path
from typing import Any

DOCS = Path(__file__).resolve().parents[3] / "docs"
ROUTE = "/v1/decisions/{model_id}"


def _resolve(document: dict[str, Any], ref: str) -> dict[str, Any]:
    node: Any = document
    for part in ref.removeprefix("#/").split("/"):
        node = node[part]
    return node


def field_names(document: dict[str, Any], schema: Any, seen: set[str] | None = None) -> set[str]:
    """Every property name in `schema`, following $refs and nested schemas (each $ref once)."""
    seen = set() if seen is None else seen
    names: set[str] = set()
    if isinstance(schema, list):
        for item in schema:
            names |= field_names(document, item, seen)
        return names
    if not isinstance(schema, dict):
        return names
    ref = schema.get("$ref")
    if isinstance(ref, str):
        if ref not in seen:
            seen.add(ref)
            names |= field_names(document, _resolve(document, ref), seen)
        return names
    properties = schema.get("properties", {})
    names |= set(properties)
    for key in ("items", "prefixItems", "additionalProperties", "anyOf", "oneOf", "allOf"):
        names |= field_names(document, schema.get(key), seen)
    for sub in properties.values():
        names |= field_names(document, sub, seen)
    return names


def documented_fields(markdown: str) -> set[str]:
    """Names written as `name` in the first cell of a table row."""
    names = set()
    for line in markdown.splitlines():
        if line.startswith("|"):
            first_cell = line.split("|")[1]
            names |= set(re.findall(r"`([^`]+)`", first_cell))
    return names


def test_every_field_of_the_decision_response_is_in_a_table_of_the_reference():
    document = json.loads((DOCS / "openapi.json").read_text())
    response = document["paths"][ROUTE]["post"]["responses"]["200"]["content"]["application/json"]["schema"]
    fields = field_names(document, response)
    assert {"outcome", "alternatives", "spans", "standard_error", "customer_view", "notice_id"} <= fields

    missing = fields - documented_fields((DOCS / "decision-response.md").read_text())
    assert not missing, f"docs/decision-response.md has no table row for {sorted(missing)}"
