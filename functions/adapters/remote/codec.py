"""The model's own wire format: requests built from `request_template` or as CSV, answers read back.

Candor adapts to the model, never the other way round. A request is the manifest's
template with its one placeholder replaced by the batch (encoded rows, records keyed by
feature name, or texts), or CSV lines of encoded rows. An answer is JSON read through
`response_path`, or CSV with one line of numbers per row. What comes out is still the
model's raw values; `probabilities.to_probabilities` checks them.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import jmespath
import numpy as np

from functions.domain.errors import ModelOutputInvalid
from functions.schemas.manifest import Feature, JsonValue, ModelManifest

Rows = np.ndarray | Sequence[str]

JSON = "application/json"
CSV = "text/csv"


@dataclass(frozen=True)
class TemplateEncoder:
    """JSON requests: `template` with its `placeholder` replaced by the batch."""

    manifest: ModelManifest
    template: JsonValue
    placeholder: str
    content_type: str = JSON

    def encode(self, rows: Rows) -> bytes:
        batch = batch_value(self.manifest, self.placeholder, rows)
        return json.dumps(
            _fill(self.template, self.placeholder, batch), separators=(",", ":"), allow_nan=False
        ).encode()


@dataclass(frozen=True)
class CsvEncoder:
    """CSV requests: one line per encoded row, no header; floats written so they read back exactly."""

    content_type: str = CSV

    def encode(self, rows: Rows) -> bytes:
        return encode_csv(np.asarray(rows, dtype=float))


@dataclass(frozen=True)
class AnswerDecoder:
    """Reads an answer as JSON (through `response_path`) or CSV, by its content type, else by `expected`."""

    response_path: str
    expected: str = JSON

    def decode(self, body: bytes, content_type: str | None) -> Any:
        media = (content_type or "").split(";")[0].strip().lower()
        if media == CSV:
            is_csv = True
        elif media == JSON or media.endswith("+json"):
            is_csv = False
        else:  # absent or generic (binary/octet-stream, text/plain): trust the manifest
            is_csv = self.expected == CSV
        return decode_csv(body) if is_csv else extract(decode_json(body, media), self.response_path)


def batch_value(manifest: ModelManifest, placeholder: str, rows: Rows) -> list[Any]:
    """What replaces the placeholder: `$rows` lists of floats, `$records` objects, `$texts` strings."""
    if placeholder == "$texts":
        return [str(text) for text in rows]
    matrix = np.asarray(rows, dtype=float)
    if placeholder == "$rows":
        return matrix.tolist()
    return [
        {
            feature.name: _record_value(feature, float(value))
            for feature, value in zip(manifest.features, row, strict=True)
        }
        for row in matrix
    ]


def _record_value(feature: Feature, value: float) -> Any:
    if feature.type == "category":
        categories = feature.categories or []
        if not value.is_integer() or not 0 <= value < len(categories):
            raise ValueError(f"feature {feature.name}: {value} is not the index of one of its categories")
        return categories[int(value)]
    if feature.type == "boolean":
        return bool(value)
    if feature.type == "integer" and value.is_integer():
        return int(value)
    return value


def _fill(template: JsonValue, placeholder: str, batch: list[Any]) -> JsonValue:
    if template == placeholder:
        return batch
    if isinstance(template, dict):
        return {key: _fill(value, placeholder, batch) for key, value in template.items()}
    if isinstance(template, list):
        return [_fill(value, placeholder, batch) for value in template]
    return template


def encode_csv(rows: np.ndarray) -> bytes:
    """Encoded rows as CSV lines; `repr` is the shortest text that reads back as the same float."""
    if not np.isfinite(rows).all():
        raise ValueError("rows sent to a model must be finite numbers")
    return "".join(",".join(repr(float(value)) for value in row) + "\n" for row in rows).encode()


def decode_json(body: bytes, media: str = "") -> Any:
    """The parsed answer, or ModelOutputInvalid saying why it is not JSON (never the body itself)."""
    try:
        return json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        kind = f", content type {media}" if media else ""
        raise ModelOutputInvalid(f"the model's answer is not JSON ({len(body)} bytes{kind}): {_short(error)}") from None


def extract(answer: Any, response_path: str) -> Any:
    """`response_path` applied to the parsed answer; ModelOutputInvalid when it finds nothing."""
    found = jmespath.search(response_path, answer)
    if found is None:
        raise ModelOutputInvalid(
            f"response_path {response_path!r} found nothing in the model's answer ({_outline(answer)})"
        )
    return found


def decode_csv(body: bytes) -> list[Any]:
    """One value per line (a score) or one list per line (label probabilities)."""
    try:
        lines = [line.strip() for line in body.decode().splitlines()]
    except UnicodeDecodeError:
        raise ModelOutputInvalid(f"the model's CSV answer is not UTF-8 text ({len(body)} bytes)") from None
    values: list[Any] = []
    for number, line in enumerate((line for line in lines if line), start=1):
        try:
            cells = [float(cell) for cell in line.split(",")]
        except ValueError:
            raise ModelOutputInvalid(f"line {number} of the model's CSV answer is not a list of numbers") from None
        values.append(cells[0] if len(cells) == 1 else cells)
    return values


def _outline(answer: Any) -> str:
    """A short description of an answer's shape, for error messages that must not echo payloads."""
    if isinstance(answer, dict):
        keys = [_short(key, 40) for key in list(answer)[:5]]
        more = ", ..." if len(answer) > 5 else ""
        return f"an object with keys {', '.join(keys)}{more}" if keys else "an empty object"
    if isinstance(answer, list):
        return f"a list of {len(answer)} items"
    return json_type(answer)


def json_type(value: Any) -> str:
    """A parsed value's JSON type with its article, for messages like "prediction 3 is a string"."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number" if math.isfinite(value) else "a non-finite number"
    names: dict[type, str] = {str: "a string", list: "a list", dict: "an object"}
    return names.get(type(value), f"a {type(value).__name__}")


def _short(value: object, limit: int = 80) -> str:
    text = str(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."
