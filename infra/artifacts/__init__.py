"""Each function's deployment artifact, built here the way `sam build` builds it, without Docker.

    python -m infra.artifacts [--function LogicalId ...] [--out bench-results/artifact-sizes.json]

- Zip functions with `Metadata.BuildMethod: makefile` (`infra.artifacts.zips`): `make build-<LogicalId>`
  with `ARTIFACTS_DIR` set, as `sam build` runs it (the artifact is that directory), beside the AWS SDK
  Lambda's Python runtime provides.
- Image functions (`infra.artifacts.images`): the Dockerfile named in their Metadata, emulated by
  `infra.artifacts.dockerfile`: its COPY lines from the context (`.dockerignore` applied), its
  `pip install` for the base image's platform, its compileall. The artifact is the image's file tree
  (`<root>/var/task`...); the base image itself is not part of it.

Builds are cached (`infra.artifacts.cache`) under `$CANDOR_BUILD_DIR/artifacts` (default
`~/.cache/candor/artifacts`: outside the repository, which `sam build` copies whole for every makefile
function), keyed by a hash of their inputs: for a make target, its commands as `make -n` prints them and
the files of the repository folders those commands name; for an image, Docker-like per instruction (the
text of each instruction and the content of what it copies), with the tree after each `pip install` kept
as a layer, so a change to `functions/` re-copies the code onto the installed dependencies instead of
installing them again. Entries are hard-linked from their layer, and the least recently used beyond a few
per kind are deleted.

The rest, by concern:
- `infra.artifacts.artifact`: `Artifact` (what a function runs from), `BuildError`, `Size`.
- `infra.artifacts.distributions`: the distributions an artifact holds, the locks pin, and the
  dev-only and heavy ones that must stay out of an artifact.
- `infra.artifacts.sizes`: sizes against Lambda's limits, as a report.
- `infra.artifacts.invoke`: runs a handler from an artifact in a fresh interpreter.
"""

from __future__ import annotations

import dataclasses

from infra import template as tpl
from infra.artifacts.artifact import Artifact, BuildError
from infra.artifacts.images import build_image
from infra.artifacts.zips import build_makefile

# The package's entry points.
__all__ = ["Artifact", "BuildError", "build"]


def build(logical_id: str, dockerfile: str | None = None) -> Artifact:
    """The function's artifact as `sam build` makes it (from the cache when its inputs are unchanged).

    `dockerfile`: an image function built from another Dockerfile of its context than its Metadata names
    (the decisions function's exact image, infra/decisions-exact.Dockerfile).
    """
    spec = tpl.functions()[logical_id]
    if dockerfile is not None:
        if spec.package_type != "Image":
            raise BuildError(f"{logical_id} is not an image function: it has no Dockerfile to replace")
        spec = dataclasses.replace(spec, dockerfile=dockerfile)
    if spec.package_type == "Image":
        return build_image(spec)
    if spec.build_method == "makefile":
        return build_makefile(spec)
    raise BuildError(f"{logical_id}: only BuildMethod makefile and container images are emulated")
