"""The model registry: manifests and artifacts from a folder or an S3 prefix.

Layout, in either place: `<model_id>/manifest.json` next to the files it pins. Manifests
are validated when the registry is built (cold start); a model's artifact is loaded the
first time it is used and kept for the life of the container.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from pydantic import ValidationError

from functions.domain.errors import ManifestError, UnknownModel
from functions.domain.ports import ModelRuntime
from functions.schemas.manifest import ModelManifest

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client


class ArtifactSource(Protocol):
    def model_ids(self) -> list[str]: ...

    def read(self, model_id: str, name: str) -> bytes: ...


class FolderSource:
    def __init__(self, root: Path) -> None:
        self.root = root

    def model_ids(self) -> list[str]:
        return sorted(p.parent.name for p in self.root.glob("*/manifest.json"))

    def read(self, model_id: str, name: str) -> bytes:
        return (self.root / model_id / name).read_bytes()


class S3Source:
    def __init__(self, bucket: str, prefix: str, client: S3Client) -> None:
        self.bucket, self.prefix, self.client = bucket, prefix.strip("/"), client

    def _key(self, *parts: str) -> str:
        return "/".join(p for p in (self.prefix, *parts) if p)

    def model_ids(self) -> list[str]:
        paginator = self.client.get_paginator("list_objects_v2")
        ids = set()
        for page in paginator.paginate(Bucket=self.bucket, Prefix=self._key("") + "/" if self.prefix else ""):
            for item in page.get("Contents", []):
                key = item["Key"]
                if key.endswith("/manifest.json"):
                    ids.add(key.rsplit("/", 2)[-2])
        return sorted(ids)

    def read(self, model_id: str, name: str) -> bytes:
        return self.client.get_object(Bucket=self.bucket, Key=self._key(model_id, name))["Body"].read()


def source_from_uri(uri: str, s3_client: Callable[[], S3Client]) -> ArtifactSource:
    if uri.startswith("s3://"):
        bucket, _, prefix = uri.removeprefix("s3://").partition("/")
        return S3Source(bucket, prefix, s3_client())
    return FolderSource(Path(uri))


RuntimeLoader = Callable[[ModelManifest, Callable[[str], bytes]], ModelRuntime]


class ModelRegistry:
    """Validated manifests at construction; runtimes loaded on first use, once."""

    def __init__(self, source: ArtifactSource, loader: RuntimeLoader | None = None) -> None:
        self._source = source
        self._loader = loader
        self._manifests = {m.id: m for m in (self._load_manifest(i) for i in source.model_ids())}
        self._runtimes: dict[str, ModelRuntime] = {}
        self._lock = threading.Lock()

    def _load_manifest(self, model_id: str) -> ModelManifest:
        try:
            manifest = ModelManifest.model_validate(json.loads(self._source.read(model_id, "manifest.json")))
        except (ValidationError, ValueError) as error:
            raise ManifestError(f"model {model_id}: invalid manifest.json: {error}") from error
        if manifest.id != model_id:
            raise ManifestError(f"model {model_id}: manifest id {manifest.id!r} differs from its folder name")
        return manifest

    def manifests(self) -> list[ModelManifest]:
        return list(self._manifests.values())

    def manifest(self, model_id: str) -> ModelManifest:
        try:
            return self._manifests[model_id]
        except KeyError:
            raise UnknownModel(f"no such model; registered: {sorted(self._manifests)}", field="model_id") from None

    def runtime(self, model_id: str) -> ModelRuntime:
        manifest = self.manifest(model_id)
        with self._lock:
            if model_id not in self._runtimes:
                if self._loader is None:
                    raise ManifestError("this registry was built without a model loader")
                self._runtimes[model_id] = self._loader(manifest, lambda name: self._source.read(model_id, name))
            return self._runtimes[model_id]
