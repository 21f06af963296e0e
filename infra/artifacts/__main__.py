"""Build every function's artifact as `sam build` would (cached) and print their sizes.

python -m infra.artifacts [--function LogicalId ...] [--out bench-results/artifact-sizes.json]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from infra import artifacts
from infra import template as tpl
from infra.artifacts.sizes import sizes_report, write_sizes


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m infra.artifacts", description=__doc__.splitlines()[0])
    parser.add_argument("--function", action="append", help="a logical id (default: every function)")
    parser.add_argument("--out", type=Path, help="also write the sizes as JSON here")
    args = parser.parse_args(argv)
    built = []
    for function in args.function or sorted(tpl.functions()):
        artifact = artifacts.build(function)
        built.append(artifact)
        how = "cached" if artifact.cached else f"built in {artifact.build_seconds:.0f} s"
        print(f"{function}: {artifact.root} ({how})", file=sys.stderr)
    report = sizes_report(built)
    print(f"{'function':<28} {'kind':<6} {'MB':>8} {'files':>7}  limit")
    for function, row in report.items():
        print(f"{function:<28} {row['kind']!s:<6} {row['mb']:>8} {row['files']:>7}  {row['limit_mb']} MB")
    if args.out:
        write_sizes(report, args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
