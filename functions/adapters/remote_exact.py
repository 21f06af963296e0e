"""Remote decision, exact explanation: the endpoint decides, the model's pinned artifact explains.

A remote manifest may pin the model's own file (`adapter.exact_artifact`). The endpoint's
answer stays the decision, one call per decision; the artifact, loaded in-process like any
in-process model, scores the same row and, when its probabilities are within the stated
tolerance of the endpoint's, explains it exactly (TreeSHAP). When they are not (the endpoint
now serves another model), the decision is explained as a black box, as without an artifact,
the record says why, and `ArtifactScoreMismatch` counts it (an alarm watches that metric).
"""

from __future__ import annotations

import io
import tarfile
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit

from functions.adapters.in_process import ReadFile, load_runtime, read_pinned
from functions.domain.errors import ManifestError
from functions.domain.ports import ModelRun, ModelRuntime, Prediction
from functions.domain.seal import sha256_hex
from functions.schemas.api import FeatureValue
from functions.schemas.manifest import ExplainerSpec, FileRef, InProcessAdapter, ModelManifest, PinnedArtifact
from functions.schemas.record import ExplainerRef

logger = Logger()
metrics = Metrics()  # Powertools shares its metric set: the handler's log_metrics flushes it
MISMATCH_METRIC = "ArtifactScoreMismatch"
MAX_MEMBER_BYTES = 512 * 1024 * 1024


def pinned_artifact(manifest: ModelManifest) -> PinnedArtifact | None:
    return getattr(manifest.adapter, "exact_artifact", None)


def load_artifact_runtime(manifest: ModelManifest, read: ReadFile) -> ModelRuntime:
    """The pinned artifact as an in-process runtime over the manifest's features and labels."""
    pinned = pinned_artifact(manifest)
    assert pinned is not None
    data = read_pinned(read, pinned.file, manifest.id)
    if pinned.member is not None:
        data = _member(manifest.id, pinned, data)
    artifact = FileRef(path=pinned.file.path, sha256=sha256_hex(data))
    local = manifest.model_copy(
        update={
            "adapter": InProcessAdapter(format=pinned.format),
            "artifact": artifact,
            "explainer": ExplainerSpec(method="tree_shap"),
        }
    )
    return load_runtime(local, lambda name: data if name == artifact.path else read(name))


def _member(model_id: str, pinned: PinnedArtifact, data: bytes) -> bytes:
    """One regular file's bytes from a .tar.gz, read in memory: nothing is extracted to disk."""
    try:
        with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as archive:
            info = archive.getmember(pinned.member or "")
            if not info.isfile() or info.size > MAX_MEMBER_BYTES:
                raise ManifestError(f"model {model_id}: {pinned.member} in {pinned.file.path} is not a model file")
            found = archive.extractfile(info)
            assert found is not None  # a regular file
            return found.read()
    except (tarfile.TarError, KeyError, OSError) as error:
        raise ManifestError(
            f"model {model_id}: cannot read {pinned.member} from {pinned.file.path}: {error}", field="adapter"
        ) from None


@dataclass
class ArtifactExplainedRuntime:
    """A remote model's decisions, explained exactly by its pinned artifact while the two agree."""

    remote: Any  # BlackBoxRuntime: the endpoint, and the black-box explainer to fall back on
    local: Any  # the artifact's in-process runtime

    def __post_init__(self) -> None:
        self.manifest: ModelManifest = self.remote.manifest
        pinned = pinned_artifact(self.manifest)
        assert pinned is not None
        self.tolerance = pinned.score_tolerance
        self.explainer = ExplainerRef(
            method="tree_shap",
            exact=True,
            implementation=f"{self.local.explainer.implementation} on the pinned artifact sha256:{pinned.file.sha256}",
            background_sha256=None,
        )

    def predict(self, inputs: Mapping[str, FeatureValue]) -> Prediction:
        return self.remote.predict(inputs)  # the endpoint decides: its one call per decision

    def explain(self, inputs: Mapping[str, FeatureValue], prediction: Prediction, deadline: float) -> ModelRun:
        ours = self.local.predict(inputs)
        gap = max(abs(a - b) for a, b in zip(ours.probabilities, prediction.probabilities, strict=True))
        if gap <= self.tolerance:
            run = self.local.explain(inputs, replace(ours, explained_label=prediction.explained_label), deadline)
            return replace(run, explainer=self.explainer)
        metrics.add_metric(name=MISMATCH_METRIC, unit=MetricUnit.Count, value=1)
        logger.warning(
            "pinned artifact does not reproduce the endpoint's score",
            extra={"model_id": self.manifest.id, "gap": gap, "tolerance": self.tolerance},
        )
        run = self.remote.explain(inputs, prediction, deadline)
        note = (
            f"the pinned artifact's probabilities differ from the endpoint's by {gap:.2g} (tolerance"
            f" {self.tolerance:g}): the endpoint may serve another model; explained as a black box"
        )
        return replace(run, explainer=self.remote.explainer, note=note)
