"""Image functions: the Dockerfile named in their Metadata, emulated by `infra.artifacts.dockerfile`.

The artifact is the image's file tree (`<root>/var/task`...), without the base image. Cached Docker-like,
per instruction (the text of each instruction and the content of what it copies), with the tree after
each `pip install` kept as a layer, so a change to `functions/` re-copies the code onto the installed
dependencies instead of installing them again.
"""

from __future__ import annotations

import functools
import json
import os
import subprocess
from pathlib import Path

from infra import template as tpl
from infra.artifacts import cache
from infra.artifacts import dockerfile as docker
from infra.artifacts.artifact import Artifact, BuildError
from infra.artifacts.distributions import installed_distributions


def _image_step_keys(plan: docker.ImagePlan, context: Path, architecture: str) -> list[str]:
    """Docker-like cache keys: each step's key covers every step before it and what it copies."""
    rules = docker.dockerignore(context)
    key = cache.key_of("image-v1", plan.base_name, json.dumps(plan.base.glibc), architecture)
    keys: list[str] = []
    for step in plan.steps:
        copied = ""
        for action in step.actions:
            if isinstance(action, docker.Copy):
                files = [f for source in action.sources for f in docker.context_files(context, source, rules)]
                copied += cache.digest_files(files, context.resolve())
        key = cache.key_of(key, step.instruction.text, copied)
        keys.append(key)
    return keys


def _run_step(root: Path, context: Path, step: docker.PlannedStep, plan: docker.ImagePlan, architecture: str) -> None:
    for action in step.actions:
        if isinstance(action, docker.Copy):
            docker.copy_into(root, context, action)
        elif isinstance(action, docker.PipInstall):
            docker.pip_install(root, action, architecture, plan.base.glibc)
        elif isinstance(action, docker.CompileAll):
            docker.compile_all(root, action)
        # SystemPackages: the image's own libraries (libgomp...) are this machine's here.


def _save_layer(root: Path, layer: Path) -> dict[str, object]:
    cache.link_tree(root, layer)
    return {"recipe": "the image's tree after a pip install"}


def build_image(spec: tpl.FunctionSpec) -> Artifact:
    context = (tpl.REPO_ROOT / (spec.docker_context or ".")).resolve()
    dockerfile = context / (spec.dockerfile or "Dockerfile")
    try:
        plan = docker.plan(dockerfile)
    except docker.UnsupportedDockerfile as error:
        raise BuildError(f"{dockerfile.relative_to(tpl.REPO_ROOT)}: {error}") from error
    keys = _image_step_keys(plan, context, spec.architecture)
    installs = [i for i, step in enumerate(plan.steps) if any(isinstance(a, docker.PipInstall) for a in step.actions)]

    def build(directory: Path) -> dict[str, object]:
        root = directory
        start = 0
        for index in reversed(installs):
            layer, record = cache.entry("layer", keys[index])
            if record.exists() and layer.is_dir():
                cache.link_tree(layer, root)
                os.utime(record)
                start = index + 1
                break
        for index in range(start, len(plan.steps)):
            try:
                _run_step(root, context, plan.steps[index], plan, spec.architecture)
            except (RuntimeError, subprocess.CalledProcessError) as error:
                where = f"{dockerfile.relative_to(tpl.REPO_ROOT)}:{plan.steps[index].instruction.line}"
                raise BuildError(f"{where} {plan.steps[index].instruction.keyword}: {error}") from error
            if index in installs:
                cache.cached("layer", keys[index], functools.partial(_save_layer, root))
        return {
            "recipe": f"{dockerfile.relative_to(tpl.REPO_ROOT)} on {plan.base_name}",
            "system_packages": [
                p for s in plan.steps for a in s.actions if isinstance(a, docker.SystemPackages) for p in a.packages
            ],
        }

    root, details, cached = cache.cached("image", keys[-1], build)
    task_root = plan.env.get("LAMBDA_TASK_ROOT", "/var/task")
    # `python -m <client>` imports from its working directory; AWS's python images from LAMBDA_TASK_ROOT.
    code = docker.host_path(root, plan.workdir if plan.entrypoint_module else task_root)
    site = plan.site_packages()
    runtime_paths = (docker.host_path(root, site),) if site and docker.host_path(root, site).is_dir() else ()
    if plan.python is None:
        raise BuildError(f"{dockerfile.relative_to(tpl.REPO_ROOT)}: the image has no Python")
    return Artifact(
        function=spec.logical_id,
        kind="image",
        recipe=str(details["recipe"]),
        root=root,
        code=code,
        runtime_paths=runtime_paths,
        handler=spec.handler,
        python=plan.python,
        entrypoint_module=plan.entrypoint_module,
        key=keys[-1],
        cached=cached,
        build_seconds=float(str(details["build_seconds"])),
        distributions=installed_distributions(code, *runtime_paths),
    )
