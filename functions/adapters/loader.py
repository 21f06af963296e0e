"""Which runtime a manifest gets: its own artifact in-process, or a black box behind an endpoint."""

from __future__ import annotations

import json
from importlib.util import find_spec
from typing import Any

from functions.adapters.in_process import ReadFile, load_runtime, read_pinned
from functions.domain.errors import ManifestError
from functions.domain.ports import ModelRuntime
from functions.schemas.manifest import ModelManifest


def load_model(manifest: ModelManifest, read: ReadFile) -> ModelRuntime:
    """The runtime for `manifest`, its pinned files read through `read` (the registry's loader)."""
    if not manifest.explainer.exact and find_spec("shap") is None:
        # The exact image (infra/decisions-exact.Dockerfile) leaves shap out: say so, not a bare ImportError later.
        raise ManifestError(
            f"model {manifest.id}: explainer {manifest.explainer.method} needs shap, which this image does not "
            "carry; serve it from the black-box image (infra/decisions.Dockerfile, the `black-box` extra)"
        )
    if manifest.adapter.type == "in_process":
        return load_runtime(manifest, read)
    if manifest.adapter.type == "python_callable":
        raise ManifestError(
            f"model {manifest.id}: adapter python_callable runs in library mode only (functions.library.explained)"
        )
    # Remote models pull in the adapters (and, to explain, shap) only when a manifest asks for them.
    from functions.adapters.black_box import BlackBoxRuntime
    from functions.adapters.remote import remote_model
    from functions.stores import aws_clients

    runtime = BlackBoxRuntime(manifest, remote_model(manifest, read, aws_clients), background_rows(manifest, read))
    if getattr(manifest.adapter, "exact_artifact", None) is None:
        return runtime
    from functions.adapters.remote_exact import ArtifactExplainedRuntime, load_artifact_runtime

    return ArtifactExplainedRuntime(runtime, load_artifact_runtime(manifest, read))


def background_rows(manifest: ModelManifest, read: ReadFile) -> list[dict[str, Any]] | None:
    """The manifest's background rows (feature objects), after checking the file's pinned hash."""
    if manifest.background is None:
        return None
    return list(json.loads(read_pinned(read, manifest.background, manifest.id))["rows"])
