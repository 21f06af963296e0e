"""`candor models ...`: model folders on disk, before Candor serves them (docs/models.md).

    candor models check models/refund-decision models/ticket-router [--rows 5]
    candor models init models/churn --data sample.csv [--artifact model.txt] [--labels stay,leave]
                       [--favourable stay] [--kind decision|routing] [--force]

Exit codes: 0 when every folder passes, 1 when a folder has a problem (each printed on its
own line, naming the file and the field), 2 for usage errors.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

CHECK = """Check model folders as Candor will load them: the manifest, the pinned files' SHA-256, the
background rows; for in-process models, explanations of a few background rows through the
real runtime, which must add up to the model's output and equal shap's own implementation
(tolerance 1e-6). Remote models are checked statically: they are not called."""
INIT = """Write manifest.json and background.json for a LightGBM text model in FOLDER (the model id
is the folder's name), inferring the features from a CSV of sample rows whose header is the
model's feature names in order; then run `candor models check` on it."""


def add_parser(areas: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register `candor models` and its commands on the top-level parser's subcommands."""
    models = areas.add_parser("models", help="check model folders, or start one for a LightGBM model")
    commands = models.add_subparsers(dest="command", required=True)

    check = commands.add_parser("check", help="check model folders before serving them", description=CHECK)
    check.add_argument("folders", nargs="+", type=Path, metavar="folder", help="a folder holding manifest.json")
    check.add_argument("--rows", type=_positive, default=5, help="background rows to explain (default 5)")
    check.set_defaults(run=_check)

    init = commands.add_parser("init", help="write a manifest and background for a LightGBM model", description=INIT)
    init.add_argument("folder", type=Path, help="the model's folder; its name is the model id")
    init.add_argument("--data", type=Path, required=True, help="CSV of sample rows; header = the feature names")
    init.add_argument("--artifact", default="model.txt", help="the model file in FOLDER (default model.txt)")
    init.add_argument("--labels", type=_names, help="label names in the model's output order (default label_0,...)")
    init.add_argument("--favourable", help="decisions: the label that favours the subject (binary default: the second)")
    init.add_argument("--kind", choices=["decision", "routing"], default="decision", help="default: decision")
    init.add_argument("--force", action="store_true", help="replace an existing manifest.json and background.json")
    init.set_defaults(run=_init, usage=init)


def _positive(text: str) -> int:
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number of at least 1")
    return int(text)


def _names(text: str) -> list[str]:
    return [name.strip() for name in text.split(",")]


def _check(args: argparse.Namespace) -> int:
    from infra.cli.model_check import check_folder

    failed = 0
    for folder in args.folders:
        report = check_folder(folder, args.rows)
        print("\n".join(report.lines()), flush=True)
        failed += not report.ok
    if len(args.folders) > 1:
        print(f"{len(args.folders)} model folders checked, {failed} with problems")
    return 1 if failed else 0


def _init(args: argparse.Namespace) -> int:
    from infra.cli.model_check import check_folder
    from infra.cli.model_init import InitError, Options, UsageError, init_folder

    usage: argparse.ArgumentParser = args.usage
    if Path(args.artifact).name != args.artifact:
        usage.error(f"--artifact: {args.artifact!r} must be a file name inside the folder")
    if args.favourable is not None and args.kind == "routing":
        usage.error("--favourable: routing models have no favourable outcome (--kind decision)")
    options = Options(args.folder, args.data, args.artifact, args.labels, args.favourable, args.kind, args.force)
    try:
        summary = init_folder(options)
    except UsageError as error:
        usage.error(str(error))
    except InitError as error:
        print("\n".join(error.lines), file=sys.stderr)
        return 1
    print("\n".join(summary))
    print(f"checking {args.folder}:", flush=True)
    report = check_folder(args.folder)
    print("\n".join(report.lines()))
    return 0 if report.ok else 1
