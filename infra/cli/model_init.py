"""`candor models init`: a first manifest and background for a LightGBM model, from a CSV of sample rows.

The folder holds the model in LightGBM's text format (`Booster.save_model`); the CSV's
header names the model's features in the model's order, and its rows are requests as
Candor will receive them (categories by name, booleans as true/false). Each column's type
is inferred from its values: true/false only -> boolean; whole numbers -> integer; other
numbers -> number (both with the observed range, rounded outward); anything else ->
category, its categories sorted, sent to the model as their index in that list.

Names (display names, labels) default to the feature and label names so the manifest
validates at once; the printed summary lists what a person still has to write.
"""

from __future__ import annotations

import csv
import json
import random
import re
from dataclasses import dataclass
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from functions.domain.seal import sha256_hex
from functions.schemas.manifest import ModelManifest
from infra.cli.model_check import lightgbm_classes, lightgbm_problems, name_differences, validation_lines

BACKGROUND_ROWS = 100
BACKGROUND_SEED = 0
LANGUAGES = ("en", "es")
INTEGER = re.compile(r"[+-]?\d+")
MAX_CSV_PROBLEMS = 10


class InitError(Exception):
    """A problem with the user's files: the lines to print (exit code 1). Nothing has been written."""

    def __init__(self, *lines: str) -> None:
        super().__init__("\n".join(lines))
        self.lines = list(lines)


class UsageError(Exception):
    """The arguments cannot work for this model (exit code 2), e.g. --labels of the wrong length."""


@dataclass(frozen=True)
class Options:
    """`candor models init`'s arguments."""

    folder: Path
    data: Path
    artifact: str = "model.txt"
    labels: list[str] | None = None
    favourable: str | None = None
    kind: str = "decision"
    force: bool = False


@dataclass
class Column:
    """One CSV column: the manifest's feature, the raw values for the background, and the summary's note."""

    feature: dict[str, Any]
    values: list[Any]
    note: str = ""


def init_folder(options: Options) -> list[str]:
    """Write `manifest.json` and `background.json` into the folder; the summary lines to print.

    Raises InitError (nothing written) or UsageError.
    """
    folder = options.folder
    if not folder.is_dir():
        raise InitError(f"{folder}: not a folder; put the model file in <folder>/{options.artifact} first")
    for name in ("manifest.json", "background.json"):
        if (folder / name).exists() and not options.force:
            raise InitError(f"{folder / name}: already exists; not overwritten (--force replaces it)")
    artifact = folder / options.artifact
    data, booster = _booster(artifact)
    labels = _labels(options, lightgbm_classes(booster))
    header, cells = _read_csv(options.data)
    _same_features(options.data, header, list(booster.feature_name()))
    columns = [infer_column(name, [row[i] for row in cells]) for i, name in enumerate(header)]
    picks = sorted(random.Random(BACKGROUND_SEED).sample(range(len(cells)), min(len(cells), BACKGROUND_ROWS)))
    background = {
        "description": _background_description(len(picks), len(cells), options.data.name),
        "rows": [{c.feature["name"]: c.values[i] for c in columns} for i in picks],
    }
    background_text = _json(background)
    manifest = _manifest(options, folder.resolve().name, booster, labels, columns, sha256_hex(data))
    manifest["background"] = {"path": "background.json", "sha256": sha256_hex(background_text)}
    _validate(folder / "manifest.json", manifest)
    (folder / "background.json").write_bytes(background_text)
    (folder / "manifest.json").write_bytes(_json(manifest))
    return _summary(options, manifest, columns, len(picks), len(cells))


def _booster(artifact: Path) -> tuple[bytes, Any]:
    import lightgbm  # only here: `candor audit` never pays for it

    try:
        data = artifact.read_bytes()
    except OSError as error:
        raise InitError(f"{artifact}: cannot be read ({error.strerror}); save the model there first") from None
    try:
        booster = lightgbm.Booster(model_str=data.decode("utf-8"))
    except (UnicodeDecodeError, lightgbm.basic.LightGBMError) as error:
        raise InitError(f"{artifact}: not a LightGBM text model (Booster.save_model): {error}") from None
    if problems := lightgbm_problems(booster):
        raise InitError(*(f"{artifact}: {problem}" for problem in problems))
    return data, booster


def _same_features(data: Path, header: list[str], model: list[str]) -> None:
    if differences := name_differences(header, model, data.name, "the model"):
        unnamed = model[0] == "Column_0"  # LightGBM's name when it was given none
        hint = " (the model was saved without feature names: train it with feature_name=<the CSV header>)"
        raise InitError(f"{data}: columns differ from the model's features: {differences}{hint if unnamed else ''}")


def _validate(path: Path, manifest: dict[str, Any]) -> None:
    try:
        ModelManifest.model_validate(manifest)
    except ValidationError as error:
        lines = validation_lines(error, manifest)
        hints = {"id": " (the id is the folder's name)"}
        raise InitError(
            *(f"{path} (not written): {line}{hints.get(line.split(':')[0], '')}" for line in lines)
        ) from None


def _labels(options: Options, classes: int) -> list[str]:
    labels = options.labels or [f"label_{i}" for i in range(classes)]
    if len(labels) != classes:
        raise UsageError(f"--labels: {len(labels)} names given, the model has {classes} classes")
    if options.kind == "decision" and options.favourable is None and classes > 2:
        raise UsageError(f"--favourable: a decision model with {classes} labels needs one of {labels}")
    if options.favourable is not None and options.favourable not in labels:
        raise UsageError(f"--favourable: {options.favourable!r} is not one of the labels {labels}")
    return labels


def _read_csv(path: Path) -> tuple[list[str], list[list[str]]]:
    """The header and the rows (cells stripped); every problem found, at once, as InitError."""
    problems: list[str] = []
    rows: list[list[str]] = []
    try:
        with path.open(newline="", encoding="utf-8-sig") as file:
            reader = csv.reader(file)
            header = [name.strip() for name in next(reader, [])]
            for row in reader:
                cells = [cell.strip() for cell in row]
                if not any(cells):
                    continue  # blank line
                where = f"{path}: line {reader.line_num}"
                if len(cells) != len(header):
                    problems.append(f"{where}: {len(cells)} values, the header has {len(header)}")
                elif empty := [name for name, cell in zip(header, cells, strict=True) if not cell]:
                    problems.append(f"{where}: no value for {empty}; requests carry every feature")
                else:
                    rows.append(cells)
    except OSError as error:
        raise InitError(f"{path}: cannot be read ({error.strerror})") from None
    except (UnicodeDecodeError, csv.Error) as error:
        raise InitError(f"{path}: not a UTF-8 CSV file ({error})") from None
    if len(problems) > MAX_CSV_PROBLEMS:
        problems[MAX_CSV_PROBLEMS:] = [f"{path}: {len(problems) - MAX_CSV_PROBLEMS} more lines with problems"]
    if not problems and not rows:
        problems.append(f"{path}: no rows; the header names the features, each line below is one sample request")
    if problems:
        raise InitError(*problems)
    return header, rows


def infer_column(name: str, cells: list[str]) -> Column:
    """The feature a CSV column describes (see the module docstring) and its values as JSON would hold them."""
    feature: dict[str, Any] = {"name": name, "type": "", "display_names": dict.fromkeys(LANGUAGES, name)}
    if {cell.lower() for cell in cells} <= {"true", "false"}:
        feature["type"] = "boolean"
        return Column(feature, [cell.lower() == "true" for cell in cells])
    numbers = _numbers(cells)
    if numbers is None:
        categories = sorted(set(cells))
        feature.update(
            type="category",
            categories=categories,
            category_display_names={c: dict.fromkeys(LANGUAGES, c) for c in categories},
        )
        return Column(feature, list(cells))
    integer = all(INTEGER.fullmatch(cell) for cell in cells)
    low, high = min(numbers), max(numbers)
    minimum, maximum = readable_range(low, high, integer=integer)
    feature.update(type="integer" if integer else "number", minimum=_plain(minimum), maximum=_plain(maximum))
    note = f"observed {low} .. {high}"
    if integer and {low, high} <= {0, 1}:
        note += "; a yes/no flag? write true/false in the CSV to make it a boolean"
    return Column(feature, [int(c) if integer else float(c) for c in cells], note)


def _numbers(cells: list[str]) -> list[Decimal] | None:
    try:
        numbers = [Decimal(cell) for cell in cells]
    except InvalidOperation:
        return None
    return numbers if all(n.is_finite() for n in numbers) else None


def readable_range(low: Decimal, high: Decimal, *, integer: bool = False) -> tuple[Decimal, Decimal]:
    """[low, high] widened to two significant digits of the larger end: 6.981 .. 28.11 -> 6 .. 29."""
    largest = max(abs(low), abs(high))
    exponent = largest.adjusted() - 1 if largest else 0
    step = Decimal(1).scaleb(max(exponent, 0) if integer else exponent)
    return (low / step).to_integral_value(ROUND_FLOOR) * step, (high / step).to_integral_value(ROUND_CEILING) * step


def _plain(number: Decimal) -> int | float:
    return int(number) if number == number.to_integral_value() else float(number)


def _background_description(picked: int, total: int, source: str) -> str:
    return (
        f"{picked} of the {total} sample rows of {source}, picked with seed {BACKGROUND_SEED}: raw feature values"
        " (categories by name, booleans as true/false). The explainer tree_shap uses none of them: LightGBM's"
        " path-dependent TreeSHAP takes its reference from the training data counts stored in the trees."
        " `candor models check` explains the first rows; permutation_shap and kernel_shap, if chosen, draw"
        " their background rows from here."
    )


def _manifest(
    options: Options, model_id: str, booster: Any, labels: list[str], columns: list[Column], artifact_sha256: str
) -> dict[str, Any]:
    binary = len(labels) == 2
    objective = "binary" if booster.num_model_per_iteration() == 1 else "multiclass"
    manifest: dict[str, Any] = {
        "id": model_id,
        "version": "1.0.0",
        "kind": options.kind,
        "description": f"LightGBM {objective} classifier ({options.artifact}). TO DO: what it decides, for whom,"
        " and how it was trained.",
        "adapter": {"type": "in_process", "format": "lightgbm_text"},
        "artifact": {"path": options.artifact, "sha256": artifact_sha256},
        "features": [column.feature for column in columns],
        "labels": [{"name": name, "display_names": dict.fromkeys(LANGUAGES, name)} for name in labels],
    }
    if options.kind == "decision":
        manifest["favourable_outcome"] = options.favourable or labels[1]
        if binary:  # the second label's probability against 0.5, as the bundled decision model
            manifest["decision_threshold"] = 0.5
    manifest["explainer"] = {"method": "tree_shap"}
    manifest["background"] = None  # placed here for the key order; pinned once the file's hash is known
    # Binary: the one raw score is the second label's log-odds. Multiclass: each label's softmax logit.
    manifest["output_units"] = "log_odds" if binary else "logit"
    manifest["retention_class"] = "consequential" if options.kind == "decision" else "standard"
    manifest["training"] = {"algorithm": f"LightGBM {objective}, {booster.current_iteration()} iterations"}
    return manifest


def _range(feature: dict[str, Any]) -> str:
    return f"{feature['minimum']} .. {feature['maximum']}" if "minimum" in feature else ""


def _json(document: Any) -> bytes:
    """As the bundled models are written: UTF-8, indented by 2, keys in insertion order, a final newline."""
    return (json.dumps(document, indent=2, ensure_ascii=False, allow_nan=False) + "\n").encode("utf-8")


def _summary(options: Options, manifest: dict[str, Any], columns: list[Column], picked: int, total: int) -> list[str]:
    folder = options.folder
    labels = [label["name"] for label in manifest["labels"]]
    explained = f"the log-odds of {labels[1]!r}" if manifest["output_units"] == "log_odds" else "each label's logit"
    lines = [
        f"wrote {folder / 'background.json'}: {picked} of {total} rows of {options.data.name} (seed {BACKGROUND_SEED})",
        f"wrote {folder / 'manifest.json'}: {manifest['id']} {manifest['version']}, {manifest['kind']},"
        f" tree_shap explaining {explained}",
        "  features, in the model's order:",
    ]
    details = [
        ", ".join(c.feature["categories"]) if c.feature["type"] == "category" else _range(c.feature) for c in columns
    ]
    width = max(len(column.feature["name"]) for column in columns)
    ranges = max((len(detail) for column, detail in zip(columns, details, strict=True) if column.note), default=0)
    for column, detail in zip(columns, details, strict=True):
        feature, note = column.feature, f"   # {column.note}" if column.note else ""
        lines.append(f"    {feature['name']:<{width}}  {feature['type']:<8}  {detail:<{ranges}}{note}".rstrip())
    lines.append(
        "  # minimum .. maximum: the observed range rounded outward to readable values; Candor refuses requests"
        " outside it, so widen it to what the model may really be asked"
    )
    lines += [
        f"warning: {c.feature['name']} is a category: Candor sends it to the model as its index in"
        f" {c.feature['categories']}; the model must have been trained with exactly that encoding"
        for c in columns
        if c.feature["type"] == "category"
    ]
    favourable = manifest.get("favourable_outcome")
    lines += [
        f"fill in {folder / 'manifest.json'} before serving:",
        "  - description (a placeholder now) and version (1.0.0)",
        f"  - display_names ({', '.join(LANGUAGES)}) of every feature, category and label: now their names",
        "  - unit of the numbers that have one (EUR, days, ...)",
        f"  - labels {labels}" + (f", favourable_outcome {favourable!r}" if favourable else "") + ": check them",
        f"  - retention_class: {manifest['retention_class']} (standard: records kept 6 months; consequential:"
        " 36 months, restricted rather than erased; see docs/auditors.md)",
    ]
    return lines
