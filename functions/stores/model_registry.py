"""The model registry: manifests and artifacts from folders and S3 prefixes.

Layout, in each place: `<model_id>/manifest.json` next to the files it pins. Manifests
are validated when the registry is built (cold start); a model's artifact is loaded the
first time it is used and kept for the life of the container.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from pydantic import ValidationError

from functions.domain.errors import ManifestError, UnknownModel
from functions.domain.ports import ModelRuntime
from functions.schemas.manifest import ModelManifest
from functions.schemas.settings import BUNDLED, BUNDLED_MODELS

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


class CombinedSource:
    """Several registries read as one; a model id may live in only one of them."""

    def __init__(self, sources: Sequence[tuple[str, ArtifactSource]]) -> None:
        self._owners: dict[str, tuple[str, ArtifactSource]] = {}
        for location, source in sources:
            for model_id in source.model_ids():
                if model_id in self._owners:
                    first = self._owners[model_id][0]
                    raise ManifestError(f"model {model_id}: found in both {first} and {location}; ids must be unique")
                self._owners[model_id] = (location, source)

    def model_ids(self) -> list[str]:
        return sorted(self._owners)

    def read(self, model_id: str, name: str) -> bytes:
        return self._owners[model_id][1].read(model_id, name)


def locations(uri: str) -> list[str]:
    """The locations named by a CANDOR_MODELS_URI value: comma-separated, blanks ignored."""
    return [location.strip() for location in uri.split(",") if location.strip()]


def source_from_uri(uri: str, s3_client: Callable[[], S3Client]) -> ArtifactSource:
    """The registry at `uri`: one location or several separated by commas, each a folder,
    `s3://bucket/prefix`, or `bundled` (the models packaged with Candor, `models/`)."""
    if not (named := locations(uri)):
        raise ManifestError("CANDOR_MODELS_URI names no location")
    sources = [(location, _source_at(location, s3_client)) for location in named]
    return sources[0][1] if len(sources) == 1 else CombinedSource(sources)


def _source_at(location: str, s3_client: Callable[[], S3Client]) -> ArtifactSource:
    if location.startswith("s3://"):
        bucket, _, prefix = location.removeprefix("s3://").partition("/")
        return S3Source(bucket, prefix, s3_client())
    folder = BUNDLED_MODELS if location == BUNDLED else Path(location)
    if not folder.is_dir():  # a misspelt folder would otherwise serve no models, silently
        raise ManifestError(f"CANDOR_MODELS_URI: {location} is not a folder")
    return FolderSource(folder)


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
