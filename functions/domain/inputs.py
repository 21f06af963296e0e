"""Check a request's inputs against the model's manifest, feature by feature.

Every problem names its field (`inputs.<feature>`) so the caller knows what to fix.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

from functions.domain.errors import InvalidInput
from functions.schemas.api import FeatureValue
from functions.schemas.manifest import Feature, ModelManifest


def validate_inputs(manifest: ModelManifest, inputs: Mapping[str, FeatureValue]) -> dict[str, FeatureValue]:
    """Return the inputs in manifest order, or raise `InvalidInput` for the first bad field."""
    expected = {feature.name for feature in manifest.features}
    unknown = sorted(set(inputs) - expected)
    if unknown:
        raise InvalidInput(
            f"unknown feature {unknown[0]!r}; this model takes {sorted(expected)}", field=f"inputs.{unknown[0]}"
        )
    checked: dict[str, FeatureValue] = {}
    for feature in manifest.features:
        if feature.name not in inputs:
            raise InvalidInput(f"missing feature {feature.name!r}", field=f"inputs.{feature.name}")
        checked[feature.name] = _check(feature, inputs[feature.name])
    return checked


def _check(feature: Feature, value: FeatureValue) -> FeatureValue:
    field = f"inputs.{feature.name}"
    match feature.type:
        case "boolean":
            if not isinstance(value, bool):
                raise InvalidInput(f"{feature.name} must be true or false", field=field)
            return value
        case "number" | "integer":
            if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
                raise InvalidInput(f"{feature.name} must be a finite number", field=field)
            if feature.type == "integer":
                if value != int(value):
                    raise InvalidInput(f"{feature.name} must be a whole number", field=field)
                value = int(value)
            if feature.minimum is not None and value < feature.minimum:
                raise InvalidInput(f"{feature.name} must be at least {feature.minimum:g}", field=field)
            if feature.maximum is not None and value > feature.maximum:
                raise InvalidInput(f"{feature.name} must be at most {feature.maximum:g}", field=field)
            return value
        case "category":
            if not isinstance(value, str) or value not in (feature.categories or []):
                raise InvalidInput(f"{feature.name} must be one of {feature.categories}", field=field)
            return value
        case "text":
            if not isinstance(value, str) or not value.strip():
                raise InvalidInput(f"{feature.name} must be a non-empty string", field=field)
            if len(value) > (feature.max_length or 0):
                raise InvalidInput(
                    f"{feature.name} is {len(value)} characters; the limit is {feature.max_length}", field=field
                )
            return value
    raise AssertionError(f"unhandled feature type {feature.type}")  # pragma: no cover - the manifest forbids it
