"""`candor models ...`: model folders on disk, before Candor serves them (docs/models.md).

    candor models check models/refund-decision models/ticket-router [--rows 5]

Exit codes: 0 when every folder passes, 1 when a folder has a problem (each printed on its
own line, naming the file and the field), 2 for usage errors.
"""

from __future__ import annotations

import argparse
from pathlib import Path

CHECK = """Check model folders as Candor will load them: the manifest, the pinned files' SHA-256, the
background rows; for in-process models, explanations of a few background rows through the
real runtime, which must add up to the model's output and equal shap's own implementation
(tolerance 1e-6). Remote models are checked statically: they are not called."""


def add_parser(areas: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register `candor models` and its commands on the top-level parser's subcommands."""
    models = areas.add_parser("models", help="check model folders before serving them")
    commands = models.add_subparsers(dest="command", required=True)

    check = commands.add_parser("check", help="check model folders before serving them", description=CHECK)
    check.add_argument("folders", nargs="+", type=Path, metavar="folder", help="a folder holding manifest.json")
    check.add_argument("--rows", type=_positive, default=5, help="background rows to explain (default 5)")
    check.set_defaults(run=_check)


def _positive(text: str) -> int:
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number of at least 1")
    return int(text)


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
