"""A model registry for the local stack where some models answer from an HTTPS endpoint, as customers' do.

The bundled models are served by `infra.local.model_server` on 127.0.0.1 (TLS, a throw-away CA)
and registered a second time behind the `https_endpoint` adapter, so the local stack and
`make demo` wrap a remote model exactly as Candor would in the cloud:

    refund-remote     refund-decision over HTTPS, explained inline by batched permutation SHAP
    refund-deferred   the same endpoint; the decision returns at once, a worker explains it
    router-remote     ticket-router over HTTPS, messages in, token attributions by shap's text masker
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from functions.schemas.manifest import ModelManifest
from functions.schemas.settings import BUNDLED_MODELS
from infra.local.model_server import ModelServer, refund_decision_predict, remote_document, ticket_router_predict

CA_FILE = "endpoint-ca.pem"

# id: (bundled model, request template, explainer changes)
REMOTE_MODELS: dict[str, tuple[str, dict[str, Any], dict[str, Any]]] = {
    "refund-remote": ("refund-decision", {"instances": "$rows"}, {}),
    "refund-deferred": ("refund-decision", {"instances": "$rows"}, {"timing": "deferred"}),
    "router-remote": ("ticket-router", {"instances": "$texts"}, {"max_evaluations": 400}),
}


@dataclass(frozen=True)
class ServedRegistry:
    folder: Path  # the registry: CANDOR_MODELS_URI
    servers: dict[str, ModelServer]  # by bundled model id: counters and fault injection for tests


@contextlib.contextmanager
def served_registry(directory: Path) -> Iterator[ServedRegistry]:
    """Write a registry (bundled + remote models) into `directory` while their endpoints run."""
    with (
        ModelServer(refund_decision_predict()) as refunds,
        ModelServer(ticket_router_predict()) as router,
    ):
        servers = {"refund-decision": refunds, "ticket-router": router}
        shutil.rmtree(directory, ignore_errors=True)
        shutil.copytree(BUNDLED_MODELS, directory)
        for model_id, (bundled, template, explainer) in REMOTE_MODELS.items():
            write_remote(directory, model_id, bundled, servers[bundled], template, explainer)
        yield ServedRegistry(directory, servers)


def write_remote(
    directory: Path,
    model_id: str,
    bundled: str,
    server: ModelServer,
    template: dict[str, Any],
    explainer: dict[str, Any],
) -> ModelManifest:
    """`bundled`'s manifest, with its model behind `server`: no artifact, a black-box explainer."""
    folder = directory / model_id
    folder.mkdir(parents=True, exist_ok=True)
    (folder / CA_FILE).write_bytes(server.ca_pem)
    adapter = {
        "type": "https_endpoint",
        "url": server.url("/invocations"),
        "ca_bundle": {"path": CA_FILE, "sha256": hashlib.sha256(server.ca_pem).hexdigest()},
        "request_template": template,
        "response_path": "predictions[*].probabilities",
        "timeout_seconds": 2,
        "max_attempts": 2,
    }
    document = remote_document(bundled, adapter, BUNDLED_MODELS)
    # The bundled monitor's baseline is TreeSHAP's; a black box is explained otherwise: not monitored here.
    document.pop("monitor", None)
    if document.get("background"):
        shutil.copy(BUNDLED_MODELS / bundled / document["background"]["path"], folder)
    document.update(
        id=model_id,
        description=f"{document['description']} Served as a remote HTTPS endpoint on the local stack.",
        explainer={**document["explainer"], "deadline_seconds": 3, **explainer},
    )
    manifest = ModelManifest.model_validate(document)
    (folder / "manifest.json").write_text(json.dumps(document, indent=2) + "\n")
    return manifest
