"""`candor models check`: will Candor load this model folder, and do its explanations hold up?

Per folder, each step only when the ones it needs passed:

1. `manifest.json` parses and validates (functions/schemas/manifest.py); its id is the folder's name;
2. every file it pins exists and has the pinned SHA-256;
3. the background rows fit the features, as a request must;
4. in-process models: the real loader (functions/adapters/loader.py) loads the artifact,
   the real runtime predicts and explains a few background rows, and each explanation
   must add up (base value + attributions = the model's output, in its output units) and
   equal shap's own implementation of the method (explainers/reference.py), both within
   TOLERANCE. Remote and library-mode models are only checked statically: Candor cannot
   call them from here.

Problems come back as lines naming the file and the field; nothing in the user's files
(bad JSON, a corrupt model, a missing file) is allowed to escape as a traceback.
"""

from __future__ import annotations

import json
import math
import random
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from functions.domain.errors import InvalidInput, ManifestError
from functions.domain.inputs import validate_inputs
from functions.domain.seal import sha256_hex
from functions.schemas.manifest import FileRef, HttpsEndpointAdapter, ModelManifest
from infra.cli import boosted_check

TOLERANCE = 1e-6
MAX_ROW_PROBLEMS = 10
WORDS_PER_MESSAGE = 8


@dataclass
class Report:
    """What `check_folder` found: problems (one line each) or, when there are none, what was checked."""

    folder: Path
    problems: list[str] = field(default_factory=list)
    summary: str = ""

    @property
    def ok(self) -> bool:
        return not self.problems

    def lines(self) -> list[str]:
        """The report as printed: `ok   <summary>`, or every problem and a `FAIL` line."""
        if self.ok:
            return [f"ok   {self.summary}"]
        count = len(self.problems)
        return [*self.problems, f"FAIL {self.folder}  {count} problem{'s' if count > 1 else ''}"]


def check_folder(folder: Path, rows: int = 5) -> Report:
    """Check one model folder (see the module docstring), explaining up to `rows` background rows."""
    report = Report(folder)
    manifest = _manifest(folder, report)
    if manifest is None or not _pinned_files(folder, manifest, report):
        return report
    background = _background(folder, manifest, report)
    if background is None or not report.ok:
        return report
    label = f"{manifest.id} {manifest.version}  {manifest.explainer.method}"
    if manifest.adapter.type == "in_process":
        _explanations(folder, manifest, background, rows, report, label)
    elif manifest.adapter.type == "python_callable":
        report.summary = f"{label}  library mode: checked statically (manifest, pinned files, background)"
    else:
        checked = "manifest, pinned files" + (", CA bundle" if _ca_bundle(folder, manifest, report) else "")
        report.summary = f"{label}  {manifest.adapter.type}: checked statically ({checked}, background); not called"
    return report


# -- the manifest and its files ---------------------------------------------------------------------------------


def _manifest(folder: Path, report: Report) -> ModelManifest | None:
    path = folder / "manifest.json"
    if not folder.is_dir():
        report.problems.append(f"{folder}: not a folder")
        return None
    data = _read_json(path, report)
    if data is None:
        return None
    try:
        manifest = ModelManifest.model_validate(data)
    except ValidationError as error:
        report.problems.extend(f"{path}: {line}" for line in validation_lines(error, data))
        return None
    name = folder.resolve().name
    if manifest.id != name:
        report.problems.append(
            f"{path}: id: {manifest.id!r} differs from the folder name {name!r}; the registry finds models by folder"
        )
    return manifest


def validation_lines(error: ValidationError, data: Any) -> list[str]:
    """One line per pydantic error: `field.path: message` (the adapter's union tag left out of the path)."""
    adapter_type = data.get("adapter", {}).get("type") if isinstance(data, dict) else None
    lines = []
    for item in error.errors():
        loc = [str(part) for part in item["loc"]]
        if len(loc) > 1 and loc[0] == "adapter" and loc[1] == adapter_type:
            del loc[1]  # pydantic names the union member it tried: `adapter.https_endpoint.url` is `adapter.url`
        message = item["msg"].removeprefix("Value error, ")
        lines.append(f"{'.'.join(loc)}: {message}" if loc else message)
    return lines


def _read_json(path: Path, report: Report) -> Any:
    try:
        return json.loads(path.read_bytes())
    except FileNotFoundError:
        report.problems.append(f"{path}: not found")
    except OSError as error:
        report.problems.append(f"{path}: cannot be read ({error.strerror})")
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        report.problems.append(f"{path}: not valid JSON: {error}")
    return None


def _pinned(manifest: ModelManifest) -> list[tuple[str, FileRef]]:
    refs = [("artifact", manifest.artifact), ("background", manifest.background)]
    if isinstance(manifest.adapter, HttpsEndpointAdapter):
        refs.append(("adapter.ca_bundle", manifest.adapter.ca_bundle))
    return [(name, ref) for name, ref in refs if ref is not None]


def _pinned_files(folder: Path, manifest: ModelManifest, report: Report) -> bool:
    path = folder / "manifest.json"
    found = len(report.problems)
    for name, ref in _pinned(manifest):
        try:
            actual = sha256_hex((folder / ref.path).read_bytes())
        except OSError as error:
            report.problems.append(f"{path}: {name}.path: {ref.path} cannot be read ({error.strerror})")
            continue
        if actual != ref.sha256:
            report.problems.append(
                f"{path}: {name}.sha256: {ref.path} does not match: expected {ref.sha256}, actual {actual}"
            )
    return len(report.problems) == found


def _background(folder: Path, manifest: ModelManifest, report: Report) -> list[dict[str, Any]] | None:
    """The background rows (none without a background file), or None after reporting why they are unusable."""
    if manifest.background is None:
        return []
    path = folder / manifest.background.path
    document = _read_json(path, report)
    if document is None:
        return None
    rows = document.get("rows") if isinstance(document, dict) else None
    if not isinstance(rows, list) or not all(isinstance(row, dict) for row in rows):
        report.problems.append(f'{path}: rows: expected {{"rows": [{{feature: value, ...}}, ...]}}')
        return None
    bad: dict[str, list[int]] = {}  # one line per distinct problem: a systematic mistake is one line, not 100
    for i, row in enumerate(rows):
        if problem := _row_problem(manifest, row):
            bad.setdefault(problem, []).append(i)
    for problem, where in list(bad.items())[:MAX_ROW_PROBLEMS]:
        others = f" (and {len(where) - 1} more rows)" if len(where) > 1 else ""
        report.problems.append(f"{path}: rows.{where[0]}.{problem}{others}")
    if len(bad) > MAX_ROW_PROBLEMS:
        report.problems.append(f"{path}: rows: {len(bad) - MAX_ROW_PROBLEMS} more kinds of problem")
    return rows


def _row_problem(manifest: ModelManifest, row: dict[str, Any]) -> str | None:
    if manifest.is_text:  # the text baseline is the empty message, which no request may send
        name = manifest.features[0].name
        return None if isinstance(row.get(name), str) else f"{name}: must be a string"
    try:
        validate_inputs(manifest, row)
    except InvalidInput as error:
        return f"{(error.field or 'inputs').removeprefix('inputs.')}: {error.message}"
    return None


def _ca_bundle(folder: Path, manifest: ModelManifest, report: Report) -> bool:
    """Whether there is a CA bundle; reports it when it holds no PEM certificate."""
    adapter = manifest.adapter
    if not isinstance(adapter, HttpsEndpointAdapter) or adapter.ca_bundle is None:
        return False
    from functions.adapters.remote.https import tls_context  # what the adapter builds from it at cold start

    try:
        tls_context((folder / adapter.ca_bundle.path).read_bytes())
    except ManifestError as error:
        report.problems.append(f"{folder / 'manifest.json'}: {error.message} in {adapter.ca_bundle.path}")
    return True


# -- in-process models: load, explain, compare with shap -----------------------------------------------------


def _explanations(
    folder: Path, manifest: ModelManifest, background: list[dict[str, Any]], rows: int, report: Report, label: str
) -> None:
    from functions.adapters.black_box import BlackBoxRuntime
    from functions.adapters.in_process import LinearTextRuntime, TabularTreeRuntime
    from functions.adapters.loader import load_model
    from functions.adapters.onnx_model import OnnxTreeRuntime
    from functions.adapters.skops_model import SkopsRuntime

    assert manifest.artifact is not None  # in_process: the schema requires it
    artifact = folder / manifest.artifact.path
    try:
        runtime = load_model(manifest, lambda name: (folder / name).read_bytes())
    except ManifestError as error:
        report.problems.append(f"{folder / 'manifest.json'}: {error.message}")
        return
    except Exception as error:  # the user's file: LightGBM, json and numpy each raise their own errors
        method = manifest.explainer.method
        report.problems.append(f"{artifact}: cannot be loaded with explainer {method}: {_error_text(error)}")
        return
    if isinstance(runtime, TabularTreeRuntime):
        problems = lightgbm_problems(runtime.booster) + _tabular_fit(manifest, runtime.booster)
        report.problems.extend(f"{artifact}: {problem}" for problem in problems)
        inputs = background[:rows]
        if not inputs:
            report.problems.append(f"{folder / 'manifest.json'}: background: no rows to explain; the check needs some")
        unit = "rows"
    elif boosted_check.is_boosted(runtime) or isinstance(runtime, SkopsRuntime | OnnxTreeRuntime):
        # XGBoost, CatBoost, skops and ONNX trees: their loaders checked the model against the manifest
        inputs, unit = background[:rows], "rows"
    elif isinstance(runtime, BlackBoxRuntime):  # an ONNX graph without trees: sampled, nothing exact to compare
        report.summary = f"{label}  in-process black box: loaded (sampled explanations are not compared)"
        return
    else:
        assert isinstance(runtime, LinearTextRuntime)
        inputs = _messages(manifest, runtime.vocabulary, background, rows)
        unit = "messages"
    if not report.ok:
        return
    try:
        additivity, difference = _compare(runtime, inputs)
    except Exception as error:  # a model that loads may still fail on rows: still the user's files
        report.problems.append(f"{artifact}: explaining a background row failed: {_error_text(error)}")
        return
    if additivity > TOLERANCE:
        report.problems.append(
            f"{artifact}: additivity: base value + attributions miss the model's output by {additivity:.1e}"
            f" {manifest.output_units} (tolerance {TOLERANCE:g})"
        )
    if difference > TOLERANCE:
        report.problems.append(
            f"{artifact}: {manifest.explainer.method} differs from shap's own by {difference:.1e}"
            f" (tolerance {TOLERANCE:g})"
        )
    report.summary = f"{label}  {len(inputs)} {unit}  additivity {_tiny(additivity)}  vs shap {_tiny(difference)}"


def _messages(manifest: ModelManifest, vocabulary: list[str], background: list[dict[str, Any]], n: int) -> list[Any]:
    """Messages to explain: the background's non-empty ones, then seeded strings of vocabulary words.

    A text model's background is usually just the empty message, which has nothing to attribute.
    """
    name = manifest.features[0].name
    messages = [row for row in background if str(row.get(name, "")).strip()][:n]
    rng = random.Random(0)  # the same messages on every run
    while len(messages) < n and vocabulary:
        words = rng.sample(vocabulary, min(WORDS_PER_MESSAGE, len(vocabulary)))
        messages.append({name: " ".join(words)})
    return messages


def _compare(runtime: Any, inputs: list[Any]) -> tuple[float, float]:
    """Worst additivity error and worst difference from shap (values and base value) over `inputs`."""
    import numpy as np

    from functions.adapters.in_process import TabularTreeRuntime

    labels = [label.name for label in runtime.manifest.labels]
    additivity = difference = 0.0
    # Binary LightGBM models have one output, the log-odds of the second label, whatever the outcome.
    binary_tree = isinstance(runtime, TabularTreeRuntime) and runtime.booster.num_model_per_iteration() == 1
    binary_tree = binary_tree or (boosted_check.is_boosted(runtime) and len(labels) == 2)
    runs = []
    for row in inputs:
        prediction = runtime.predict(row)
        run = runtime.explain(row, prediction, math.inf)
        a = run.attribution
        additivity = max(additivity, abs(a.base_value + float(a.values.sum()) - prediction.model_output))
        runs.append((a, 0 if binary_tree else labels.index(prediction.explained_label)))
    values, bases = _reference(runtime, inputs)
    for i, (a, output) in enumerate(runs):
        gap = float(np.abs(a.values - values[i, :, output]).max(initial=0.0))
        difference = max(difference, gap, abs(a.base_value - float(bases[output])))
    return additivity, difference


def _reference(runtime: Any, inputs: list[Any]) -> tuple[Any, Any]:
    """shap's values (rows, features, outputs) and base values for `inputs`, with the runtime's own settings."""
    import numpy as np

    from explainers import reference
    from explainers.kernel import KernelShap
    from explainers.permutation import PermutationShap
    from functions.adapters.in_process import TabularTreeRuntime
    from functions.adapters.skops_model import SkopsRuntime

    if boosted_check.is_boosted(runtime):
        return boosted_check.reference(runtime, inputs)
    if isinstance(runtime, SkopsRuntime):  # shap on the pipeline's columns, summed per feature by column name
        from infra.cli.skops_reference import pipeline_shap

        return pipeline_shap(runtime.model, runtime.manifest, inputs, runtime.background or [])
    from functions.adapters.onnx_model import OnnxTreeRuntime

    if isinstance(runtime, OnnxTreeRuntime):  # every coalition against every background row, by brute force
        from infra.cli.onnx_reference import exact_interventional

        return exact_interventional(runtime, inputs)
    if not isinstance(runtime, TabularTreeRuntime):  # linear over word counts, against the empty message
        counts = runtime.vectorizer.transform(str(row[runtime.manifest.features[0].name]) for row in inputs)
        return reference.linear_shap(runtime.coef, runtime.intercept, np.zeros((1, counts.shape[1])), counts)
    rows = np.array([runtime.encode(row) for row in inputs])
    booster, engine = runtime.booster, runtime.engine

    def raw_margin(x: Any) -> Any:
        return booster.predict(x, raw_score=True, num_threads=1)

    if isinstance(engine, PermutationShap):
        return reference.permutation_shap(
            raw_margin, engine.background, rows, max_evals=engine.max_evals, seed=engine.seed
        )
    if isinstance(engine, KernelShap):
        return reference.kernel_shap(raw_margin, engine.background, rows, nsamples=engine.nsamples, seed=engine.seed)
    return reference.tree_shap(booster, rows)


# -- LightGBM models -----------------------------------------------------------------------------------------


def lightgbm_classes(booster: Any) -> int:
    """How many labels a LightGBM classifier has: 2 for binary (one output), else its num_class."""
    classes = int(booster.num_model_per_iteration())
    return 2 if classes == 1 else classes


def lightgbm_problems(booster: Any) -> list[str]:
    """What keeps Candor from serving and checking this LightGBM model, whatever its manifest says."""
    dump = booster.dump_model()
    objective = str(dump.get("objective", "")).split()
    kind = objective[0] if objective else "unknown"
    problems = []
    if kind not in ("binary", "multiclass"):
        problems.append(
            f"objective {' '.join(objective) or kind!r}: Candor serves classifiers; train with objective"
            " binary or multiclass (softmax)"
        )
    sigmoid = next((float(p.split(":")[1]) for p in objective if p.startswith("sigmoid:")), 1.0)
    if kind == "binary" and sigmoid != 1.0:
        problems.append(f"objective binary sigmoid:{sigmoid:g}: raw scores are not log-odds; train with sigmoid 1")
    splits = sum(int(tree.get("num_cat", 0)) for tree in dump.get("tree_info", []))
    if splits:
        problems.append(
            f"{splits} LightGBM categorical splits: shap's TreeSHAP cannot read them to check the explanations,"
            " and Candor sends each category as its index in the manifest's list; retrain with"
            " categorical_feature=[] and categories encoded as those indexes"
        )
    return problems


def _tabular_fit(manifest: ModelManifest, booster: Any) -> list[str]:
    names = [feature.name for feature in manifest.features]
    problems = []
    model_names = list(booster.feature_name())
    if model_names != [f"Column_{i}" for i in range(len(model_names))]:  # LightGBM's names for unnamed columns
        if differences := name_differences(names, model_names, "the manifest", "the model"):
            problems.append(f"features: {differences}")
    elif len(model_names) != len(names):
        problems.append(f"features: the manifest lists {len(names)}, the model takes {len(model_names)}")
    if lightgbm_classes(booster) != len(manifest.labels):
        problems.append(f"labels: the manifest lists {len(manifest.labels)}, the model has {lightgbm_classes(booster)}")
    return problems


def name_differences(ours: list[str], theirs: list[str], we: str, they: str) -> str | None:
    """How two lists of feature names differ (missing, extra, or order), or None when they are equal."""
    if ours == theirs:
        return None
    missing = [name for name in theirs if name not in ours]
    extra = [name for name in ours if name not in theirs]
    parts = [f"{they} has {missing} that {we} lacks"] if missing else []
    parts += [f"{we} has {extra} that {they} lacks"] if extra else []
    if [name for name in ours if name in theirs] != [name for name in theirs if name in ours]:
        parts.append(f"the order differs: {they} takes {theirs}")
    return "; ".join(parts)


def _tiny(x: float) -> str:
    return "0" if x == 0 else f"{x:.0e}"


def _error_text(error: BaseException) -> str:
    text = str(error).strip().splitlines()
    return f"{type(error).__name__}: {text[0] if text else ''}".rstrip(": ")
