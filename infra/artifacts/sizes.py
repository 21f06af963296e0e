"""Built artifacts' sizes against Lambda's limits, as a report (`bench-results/artifact-sizes.json`)."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from pathlib import Path

from infra.artifacts.artifact import Artifact

# Lambda's limits: a zip's unzipped size (function and layers), and an image's size.
ZIP_LIMIT_BYTES = 250 * 1024 * 1024
IMAGE_LIMIT_BYTES = 10 * 1024 * 1024 * 1024


def sizes_report(artifacts: Iterable[Artifact]) -> dict[str, dict[str, object]]:
    """Per function: kind, recipe, bytes, files, MB, Lambda's limit."""
    report: dict[str, dict[str, object]] = {}
    for artifact in artifacts:
        size = artifact.size()
        limit = ZIP_LIMIT_BYTES if artifact.kind == "zip" else IMAGE_LIMIT_BYTES
        report[artifact.function] = {
            "kind": artifact.kind,
            "recipe": artifact.recipe,
            "bytes": size.bytes,
            "files": size.files,
            "mb": round(size.mb, 1),
            "limit_mb": limit // 1024 // 1024,
            "key": artifact.key[:12],
        }
    return report


def write_sizes(report: Mapping[str, Mapping[str, object]], path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(report, indent=2, sort_keys=True) + "\n", encoding="utf-8")
