"""Candor's command line (`candor`, the console script of pyproject.toml).

    candor audit ...    records over Candor's HTTP API (infra/cli/audit.py)
    candor review ...   the human review queue: list, show, claim, resolve (infra/cli/review.py)
    candor models ...   model folders on disk: check them, or start one (infra/cli/models.py)
    candor smoke ...    check a deployment end to end with one synthetic decision (infra/cli/smoke.py)

Each area registers its own subcommands and the function that runs them (`args.run`).
"""

from __future__ import annotations

import argparse

from infra.cli import audit, models, review, smoke
from infra.cli.client import Api

__all__ = ["Api", "main", "parser"]


def parser() -> argparse.ArgumentParser:
    """The whole `candor` parser: one subcommand per area."""
    top = argparse.ArgumentParser(prog="candor", description="Candor's command line.")
    areas = top.add_subparsers(dest="area", required=True)
    audit.add_parser(areas)
    review.add_parser(areas)
    models.add_parser(areas)
    smoke.add_parser(areas)
    return top


def main(argv: list[str] | None = None) -> int:
    """Parse `argv` (default: sys.argv[1:]) and run the command; the exit code (argparse exits 2 on usage errors)."""
    args = parser().parse_args(argv)
    return int(args.run(args))
