import pytest

from functions.domain.errors import InvalidInput
from functions.domain.inputs import validate_inputs
from functions.schemas.manifest import ModelManifest

MANIFEST = ModelManifest.model_validate(
    {
        "id": "toy",
        "version": "1.0.0",
        "kind": "decision",
        "description": "toy",
        "adapter": {"type": "in_process", "format": "lightgbm_text"},
        "artifact": {"path": "model.txt", "sha256": "0" * 64},
        "features": [
            {"name": "amount", "type": "number", "minimum": 0, "maximum": 100, "display_names": {"en": "Amount"}},
            {"name": "days", "type": "integer", "minimum": 0, "display_names": {"en": "Days"}},
            {"name": "member", "type": "boolean", "display_names": {"en": "Member"}},
            {"name": "channel", "type": "category", "categories": ["web", "phone"], "display_names": {"en": "Channel"}},
        ],
        "labels": [
            {"name": "deny", "display_names": {"en": "Denied"}},
            {"name": "approve", "display_names": {"en": "Approved"}},
        ],
        "favourable_outcome": "approve",
        "decision_threshold": 0.5,
        "explainer": {"method": "tree_shap"},
        "output_units": "log_odds",
    }
)
GOOD = {"amount": 10.5, "days": 3, "member": True, "channel": "web"}


def test_valid_inputs_come_back_in_manifest_order():
    assert list(validate_inputs(MANIFEST, dict(reversed(GOOD.items())))) == ["amount", "days", "member", "channel"]


def test_whole_floats_are_accepted_as_integers():
    assert validate_inputs(MANIFEST, {**GOOD, "days": 3.0})["days"] == 3


@pytest.mark.parametrize(
    ("change", "field", "message"),
    [
        ({"amount": None}, "inputs.amount", "missing"),
        ({"extra": 1}, "inputs.extra", "unknown feature"),
        ({"amount": "ten"}, "inputs.amount", "finite number"),
        ({"amount": True}, "inputs.amount", "finite number"),
        ({"amount": float("inf")}, "inputs.amount", "finite number"),
        ({"amount": -1}, "inputs.amount", "at least 0"),
        ({"amount": 101}, "inputs.amount", "at most 100"),
        ({"days": 2.5}, "inputs.days", "whole number"),
        ({"member": 1}, "inputs.member", "true or false"),
        ({"channel": "fax"}, "inputs.channel", "one of"),
    ],
)
def test_each_bad_input_names_its_field(change, field, message):
    inputs = {**GOOD, **change}
    inputs = {k: v for k, v in inputs.items() if v is not None}
    with pytest.raises(InvalidInput, match=message) as error:
        validate_inputs(MANIFEST, inputs)
    assert error.value.field == field


def test_text_must_be_non_empty_and_within_its_limit():
    manifest = MANIFEST.model_copy(
        update={
            "features": [
                MANIFEST.features[0].model_copy(
                    update={"name": "text", "type": "text", "max_length": 10, "minimum": None, "maximum": None}
                )
            ]
        }
    )
    assert validate_inputs(manifest, {"text": "hello"}) == {"text": "hello"}
    for bad, message in [("   ", "non-empty"), ("x" * 11, "limit is 10"), (5, "non-empty")]:
        with pytest.raises(InvalidInput, match=message):
            validate_inputs(manifest, {"text": bad})
