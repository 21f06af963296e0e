"""`candor models`: the parts that need no model (type inference, ranges, messages, usage, static checks)."""

from __future__ import annotations

import hashlib
import json
import shutil
from decimal import Decimal
from pathlib import Path

import pytest
from pydantic import ValidationError

from functions.schemas.manifest import ModelManifest
from functions.schemas.settings import BUNDLED_MODELS
from infra.cli import main, parser
from infra.cli.model_check import check_folder, name_differences, validation_lines
from infra.cli.model_init import infer_column, readable_range


@pytest.mark.parametrize(
    ("low", "high", "integer", "expected"),
    [
        ("6.981", "28.11", False, ("6", "29")),
        ("0.05263", "0.1634", False, ("0.05", "0.17")),
        ("185.2", "4254.0", False, ("100", "4300")),
        ("-3.2", "10", False, ("-4", "10")),
        ("0", "365", True, ("0", "370")),
        ("3", "7", True, ("3", "7")),
        ("0", "0", False, ("0", "0")),
    ],
)
def test_ranges_are_rounded_outward_to_two_significant_digits(low, high, integer, expected):
    minimum, maximum = readable_range(Decimal(low), Decimal(high), integer=integer)
    assert (minimum, maximum) == (Decimal(expected[0]), Decimal(expected[1]))
    assert minimum <= Decimal(low) and maximum >= Decimal(high)


def test_column_types_are_inferred_from_the_values():
    boolean = infer_column("is_member", ["true", "False", "TRUE"])
    assert boolean.feature["type"] == "boolean"
    assert boolean.values == [True, False, True]

    integer = infer_column("orders", ["3", "-1", "+12"])
    assert (integer.feature["type"], integer.feature["minimum"], integer.feature["maximum"]) == ("integer", -1, 12)
    assert integer.values == [3, -1, 12]
    assert all(isinstance(v, int) for v in integer.values)

    flag = infer_column("flag", ["0", "1"])  # ambiguous: kept an integer, and the summary says how to make it a boolean
    assert flag.feature["type"] == "integer"
    assert "true/false" in flag.note

    number = infer_column("value", ["1.5", "20", "3e2"])
    assert number.feature["type"] == "number"
    assert number.values == pytest.approx([1.5, 20.0, 300.0])

    category = infer_column("channel", ["web", "phone", "app", "web", "1"])
    assert category.feature["type"] == "category"
    assert category.feature["categories"] == ["1", "app", "phone", "web"]  # sorted: the model's index encoding
    assert category.values == ["web", "phone", "app", "web", "1"]

    assert infer_column("odd", ["nan", "1"]).feature["type"] == "category"  # not finite: not a number


def test_name_differences_say_what_is_missing_extra_or_out_of_order():
    assert name_differences(["a", "b"], ["a", "b"], "the CSV", "the model") is None
    text = name_differences(["a", "x"], ["a", "b"], "the CSV", "the model")
    assert text is not None
    assert "the model has ['b'] that the CSV lacks" in text
    assert "the CSV has ['x'] that the model lacks" in text
    assert name_differences(["b", "a"], ["a", "b"], "the CSV", "the model") == (
        "the order differs: the model takes ['a', 'b']"
    )


def test_validation_lines_name_the_field_path_without_the_adapter_union_tag():
    data = json.loads((BUNDLED_MODELS / "refund-decision" / "manifest.json").read_text())
    data["features"][3]["maximum"] = "many"
    data["adapter"] = {"type": "https_endpoint", "url": "http://plain.example.com"}
    with pytest.raises(ValidationError) as caught:
        ModelManifest.model_validate(data)
    lines = validation_lines(caught.value, data)
    assert any(line.startswith("features.3.maximum: ") for line in lines)
    assert any(line.startswith("adapter.url: ") for line in lines)


def test_model_validator_errors_keep_their_message_without_pydantics_prefix():
    data = json.loads((BUNDLED_MODELS / "refund-decision" / "manifest.json").read_text())
    data["features"][0]["minimum"] = 10_000
    with pytest.raises(ValidationError) as caught:
        ModelManifest.model_validate(data)
    assert validation_lines(caught.value, data) == ["features.0: feature order_value: minimum is above maximum"]


def _remote_copy(tmp_path: Path, ca: bytes | None) -> Path:
    folder = tmp_path / "refund-remote"
    shutil.copytree(BUNDLED_MODELS / "refund-decision", folder)
    (folder / "model.txt").unlink()
    manifest = json.loads((folder / "manifest.json").read_text())
    manifest.update(id="refund-remote", explainer={"method": "permutation_shap"})
    del manifest["artifact"]
    manifest["adapter"] = {"type": "https_endpoint", "url": "https://models.example.com/refunds"}
    if ca is not None:
        (folder / "ca.pem").write_bytes(ca)
        manifest["adapter"]["ca_bundle"] = {"path": "ca.pem", "sha256": hashlib.sha256(ca).hexdigest()}
    (folder / "manifest.json").write_text(json.dumps(manifest, indent=2))
    return folder


def test_remote_models_are_checked_statically_and_say_so(tmp_path: Path):
    report = check_folder(_remote_copy(tmp_path, None))
    assert report.ok, report.problems
    assert report.lines() == [
        "ok   refund-remote 1.0.0  permutation_shap  https_endpoint: checked statically"
        " (manifest, pinned files, background); not called"
    ]


def test_a_remote_models_ca_bundle_must_hold_a_certificate(tmp_path: Path):
    report = check_folder(_remote_copy(tmp_path, b"not a certificate\n"))
    assert not report.ok
    assert "adapter.ca_bundle: not a PEM file" in report.problems[0]
    assert report.lines()[-1].startswith("FAIL ")


def test_background_rows_that_requests_could_not_be_are_reported_once_per_problem(tmp_path: Path):
    folder = tmp_path / "refund-decision"
    shutil.copytree(BUNDLED_MODELS / "refund-decision", folder)
    background = json.loads((folder / "background.json").read_text())
    for row in background["rows"]:
        row["channel"] = "fax"
    data = json.dumps(background).encode()
    (folder / "background.json").write_bytes(data)
    manifest = json.loads((folder / "manifest.json").read_text())
    manifest["background"]["sha256"] = hashlib.sha256(data).hexdigest()
    (folder / "manifest.json").write_text(json.dumps(manifest))

    report = check_folder(folder)
    assert report.problems == [
        f"{folder / 'background.json'}: rows.0.channel: channel must be one of"
        " ['web', 'app', 'phone', 'email', 'chat'] (and 99 more rows)"
    ]


def test_usage_errors_exit_2(capsys):
    with pytest.raises(SystemExit) as no_folder:
        main(["models", "check"])
    with pytest.raises(SystemExit) as no_rows:
        main(["models", "check", "x", "--rows", "0"])
    with pytest.raises(SystemExit) as routing_favourable:
        main(["models", "init", "x", "--data", "x.csv", "--kind", "routing", "--favourable", "a"])
    with pytest.raises(SystemExit) as path_artifact:
        main(["models", "init", "x", "--data", "x.csv", "--artifact", "../model.txt"])
    assert {no_folder.value.code, no_rows.value.code, routing_favourable.value.code, path_artifact.value.code} == {2}
    assert "--favourable: routing models have no favourable outcome" in capsys.readouterr().err


def test_missing_folders_and_files_are_problems_not_tracebacks(tmp_path: Path, capsys):
    (tmp_path / "empty").mkdir()
    (tmp_path / "broken").mkdir()
    (tmp_path / "broken" / "manifest.json").write_text("{'id': 1}")
    assert main(["models", "check", str(tmp_path / "nowhere"), str(tmp_path / "empty"), str(tmp_path / "broken")]) == 1
    out = capsys.readouterr().out
    assert f"{tmp_path / 'nowhere'}: not a folder" in out
    assert f"{tmp_path / 'empty' / 'manifest.json'}: not found" in out
    assert f"{tmp_path / 'broken' / 'manifest.json'}: not valid JSON: " in out
    assert "Traceback" not in out
    assert out.strip().endswith("3 model folders checked, 3 with problems")


def test_the_models_area_sits_next_to_audit():
    args = parser().parse_args(["models", "check", "a", "b", "--rows", "3"])
    assert (args.area, args.command, args.folders, args.rows) == ("models", "check", [Path("a"), Path("b")], 3)
    assert parser().parse_args(["audit", "verify"]).command == "verify"
