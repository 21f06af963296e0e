"""Record every AWS call the functions make, as IAM would see it, attributed to the calling function.

    with recording("test-output/aws-calls.jsonl"):   # or CANDOR_AWS_CALLS=<file> and install()
        ...  # each call made inside `infra.local.invocation.running("DecisionsFunction")` is appended

A botocore `before-parameter-build` hook on every client created while installed (the functions'
own clients, the adapters' ...) turns each call into its IAM
requests (`infra/iam/actions.py`: action, resource ARN, the condition keys that matter) and, when
a function is running on the thread (`infra.local.invocation`), appends one JSON line per distinct
request to the recording file. Calls made for no function (a test's own clients, provisioning,
the SQS poller standing in for Lambda's event source) are not recorded: they are not the
function's role at work; what AWS does on a function's behalf is derived in `infra/iam/on_behalf.py`.

Local physical ids that differ from a deployment's in form only (moto's random key ids and
secret suffixes) are written as the names `infra.iam.deployed_policies` gives the template's
resources, so the IAM check compares like with like.

Several processes may record into one file: each appends whole lines with one `os.write` on an
O_APPEND descriptor, and keeps its own set of what it has already written. A gateway worker
process needs only `install()` at start-up with CANDOR_AWS_CALLS in its environment, and to run
each invocation inside `running(function)`.
"""

from __future__ import annotations

import contextlib
import functools
import json
import os
import threading
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from botocore.client import ClientCreator

from infra import template as tpl
from infra.iam import deployed_policies as deployed
from infra.iam.actions import IamRequest, iam_requests
from infra.local.aws import ACCOUNT_ID, LOCAL_NAMES
from infra.local.invocation import current_function

ENV_VAR = "CANDOR_AWS_CALLS"

_lock = threading.Lock()
_seen: set[tuple[Any, ...]] = set()
_original_create_client = ClientCreator.create_client


def _destination() -> str | None:
    return os.environ.get(ENV_VAR) or None


@contextlib.contextmanager
def recording(path: Path | str) -> Iterator[Path]:
    """Record into `path` (appended to) while inside; restores the previous destination after."""
    previous = os.environ.get(ENV_VAR)
    os.environ[ENV_VAR] = str(path)
    install()
    try:
        yield Path(path)
    finally:
        if previous is None:
            os.environ.pop(ENV_VAR, None)
        else:
            os.environ[ENV_VAR] = previous


def install() -> None:
    """Hook every botocore client created from now on in this process (idempotent)."""
    if getattr(ClientCreator.create_client, "_candor_recording", False):
        return

    def create_client(self: ClientCreator, *args: Any, **kwargs: Any) -> Any:
        client = _original_create_client(self, *args, **kwargs)
        attach(client)
        return client

    create_client._candor_recording = True  # type: ignore[attr-defined]
    ClientCreator.create_client = create_client  # type: ignore[method-assign]


@contextlib.contextmanager
def in_worker(template_path: str) -> Iterator[None]:
    """The same recording in a worker process of the local stack (an `infra.local.lambda_worker` hook).

    The worker inherits CANDOR_AWS_CALLS from the process that spawned it, and appends to the same file.
    """
    install()
    yield


def attach(client: Any) -> Any:
    """Give one client the recording hook (idempotent); returns the client."""
    region = client.meta.region_name or "eu-west-1"

    def record(params: Mapping[str, Any], model: Any, **_: Any) -> None:
        function = current_function()
        destination = _destination()
        if function is None or destination is None:
            return
        service = model.service_model.service_name
        requests = iam_requests(service, model.name, params, region, ACCOUNT_ID)
        _write(destination, function, service, model.name, [_canonical(r) for r in requests])

    client.meta.events.register("before-parameter-build", record, unique_id="candor-aws-calls")
    return client


def _write(destination: str, function: str, service: str, operation: str, requests: list[IamRequest]) -> None:
    lines = []
    with _lock:
        for request in requests:
            key = (destination, function, operation, *request.key())
            if key in _seen:
                continue
            _seen.add(key)
            entry = {
                "function": function,
                "service": service,
                "operation": operation,
                "action": request.action,
                "resource": request.resource,
                "context": {k: list(v) if isinstance(v, tuple) else v for k, v in request.context.items()},
                "mapped": request.mapped,
            }
            lines.append(json.dumps(entry, sort_keys=True) + "\n")
    if lines:
        descriptor = os.open(destination, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            os.write(descriptor, "".join(lines).encode())
        finally:
            os.close(descriptor)


def read(path: Path | str) -> list[dict[str, Any]]:
    """The distinct requests recorded in `path` (several processes' lines merged)."""
    found: dict[str, dict[str, Any]] = {}
    if Path(path).exists():
        for line in Path(path).read_text(encoding="utf-8").splitlines():
            if line.strip():
                entry = json.loads(line)
                entry.pop("operation", None)  # distinct by what IAM sees: one request may come from two operations
                found[json.dumps(entry, sort_keys=True)] = entry
    return list(found.values())


# --------------------------------------------------------------- local ids -> deployed names


def _physical_ids() -> dict[str, str]:
    """Local identifiers of the template's keys and secrets (from the functions' environment) -> deployed ARNs."""
    return _physical_ids_for(tuple(sorted((k, v) for k, v in os.environ.items() if k.startswith("CANDOR_"))))


@functools.lru_cache(maxsize=16)
def _physical_ids_for(environment: tuple[tuple[str, str], ...]) -> dict[str, str]:
    del environment  # the cache key: the same environment names the same local resources
    document = tpl.template()
    kinds = {"AWS::KMS::Key", "AWS::SecretsManager::Secret"}
    resources = document["Resources"]
    found: dict[str, str] = {}
    for variable, value in tpl.function_environment(document).items():
        logical_id = (value.get("Ref") or (value.get("Fn::GetAtt") or [None])[0]) if isinstance(value, dict) else None
        local = os.environ.get(variable)
        if isinstance(logical_id, str) and logical_id in resources and resources[logical_id]["Type"] in kinds and local:
            canonical = deployed.arn_of(logical_id)
            found[local] = canonical
            if resources[logical_id]["Type"] == "AWS::KMS::Key":
                found[local.rsplit("/", 1)[-1]] = canonical  # the bare key id
    for logical_id, name in LOCAL_NAMES.items():
        if name.startswith("alias/"):
            found[name] = found[f"arn:aws:kms:{deployed.REGION}:{ACCOUNT_ID}:{name}"] = deployed.arn_of(logical_id)
    return found


def _canonical(request: IamRequest) -> IamRequest:
    ids = _physical_ids()
    resource = ids.get(request.resource, request.resource)
    if resource.endswith("-??????"):  # a secret asked for by name: the deployed secret of that name
        named = [canonical for local, canonical in ids.items() if local.startswith(resource[: -len("??????")])]
        resource = named[0] if named else resource.replace("-??????", "-AbCdEf")  # every secret ARN has 6 more
    context = {k: ids.get(v, v) if isinstance(v, str) else v for k, v in request.context.items()}
    return IamRequest(request.action, resource, context, request.mapped)
