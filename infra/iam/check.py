"""Evaluate recorded and on-behalf AWS calls against the deployed template's policies with a real IAM evaluator.

    report = check(aws_calls.read("test-output/aws-calls.jsonl"))
    report.denied      # [Decision, ...]: every request IAM would refuse, with why it is made
    report.unused      # [Grant, ...]: granted (function, policy, Sid, action, resource) no allowed request used

The evaluator is `@cloud-copilot/iam-simulate` (npm, pinned in infra/iam/simulator/package-lock.json,
installed by `make iam-simulator` with `npm ci`), run with node: identity policies, resource
policies (key policies with their delegation to IAM, bucket and queue policies), every condition
operator. Each request runs under each parameter set that deploys what it touches: the defaults,
and one with every optional parameter set as docs/deploy.md tells a deployer to fill it, from the
remote resources the calls reached (model endpoints and functions by their unqualified ARN,
secrets by their full ARN, the secrets' customer-managed key).
"""

from __future__ import annotations

import fnmatch
import json
import shutil
import subprocess
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from infra.iam.deployed_policies import ACCOUNT_ID, REGION, DeployedPolicies, arn_of
from infra.iam.on_behalf import OnBehalf, Request

SIMULATOR = Path(__file__).resolve().parent / "simulator"
REMOTE_SECRETS_KEY = f"arn:aws:kms:{REGION}:{ACCOUNT_ID}:key/remote-model-secrets"
# A customer-managed key outside the stack, with KMS's default key policy: the account delegates to IAM.
DEFAULT_KEY_POLICY = {
    "Version": "2012-10-17",
    "Statement": [
        {"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT_ID}:root"}, "Action": "kms:*", "Resource": "*"}
    ],
}


@dataclass(frozen=True)
class Decision:
    request: Request
    parameters: str  # the parameter set's name
    result: str  # Allowed, ImplicitlyDenied, ExplicitlyDenied, Error
    detail: Any = None

    def line(self) -> str:
        who = self.request.function or self.request.service
        context = f" {dict(self.request.context)}" if self.request.context else ""
        return (
            f"{self.result}: {who} {self.request.action} {self.request.resource}{context} "
            f"[{self.parameters}; {self.request.because}]"
        )


@dataclass(frozen=True)
class Grant:
    function: str
    policy: str
    sid: str
    action: str
    resource: str

    def line(self) -> str:
        return f"{self.function}: {self.policy}/{self.sid} {self.action} on {self.resource}"


@dataclass
class Report:
    recorded: int  # distinct recorded requests
    on_behalf: int  # distinct derived requests
    decisions: list[Decision]
    unused: list[Grant]
    unmapped: list[Request]

    @property
    def denied(self) -> list[Decision]:
        return [d for d in self.decisions if d.result != "Allowed"]


def recorded_requests(entries: Iterable[Mapping[str, Any]]) -> list[Request]:
    return [Request(e["action"], e["resource"], dict(e.get("context") or {}), function=e["function"]) for e in entries]


def remote_parameters(requests: Iterable[Request], template_arns: set[str]) -> dict[str, str]:
    """Every optional parameter filled as docs/deploy.md says, with the remote resources the calls reached."""
    models: set[str] = set()
    secrets: set[str] = set()
    webhook_secrets: set[str] = set()
    folders: set[tuple[str, str]] = set()  # (bucket, prefix) of model folders read from a bucket of the deployer's
    for request in requests:
        if request.action == "s3:GetObject" and request.resource.split("/", 1)[0] not in template_arns:
            bucket, _, key = request.resource[len("arn:aws:s3:::") :].partition("/")
            folders.add((bucket, "/".join(key.split("/")[:-2])))  # <prefix>/<model_id>/<file>
        if request.action == "sagemaker:InvokeEndpoint":
            models.add(request.resource)
        elif request.action == "lambda:InvokeFunction":
            models.add(":".join(request.resource.split(":")[:7]))  # the function's ARN, without a qualifier
        elif request.action == "secretsmanager:GetSecretValue" and request.function == "ReviewWebhookFunction":
            webhook_secrets.add(request.resource)  # ReviewWebhookSecretArn, the webhook's own parameter
        elif request.action in {"secretsmanager:GetSecretValue", "ssm:GetParameter"} and (
            request.resource not in template_arns
        ):
            secrets.add(request.resource)
    if len(folders) > 1:
        raise ValueError(f"model folders read from more than one bucket or prefix: {sorted(folders)}")
    if len(webhook_secrets) > 1:
        raise ValueError(f"the review webhook read more than one secret: {sorted(webhook_secrets)}")
    bucket, prefix = next(iter(folders), ("", "models"))
    return {
        "ModelsBucket": bucket,
        "ModelsPrefix": prefix,
        "RemoteModelArns": ",".join(sorted(models)),
        "RemoteModelSecretArns": ",".join(sorted(secrets)),
        "RemoteModelSecretsKeyArn": REMOTE_SECRETS_KEY,
        "ReviewWebhookUrl": "https://hooks.example.com/candor" if webhook_secrets else "",
        "ReviewWebhookSecretArn": next(iter(webhook_secrets), ""),
    }


def _principal(request: Request, deployed: DeployedPolicies) -> str:
    if request.service:
        return request.service
    role = deployed.functions()[str(request.function)]
    return f"arn:aws:sts::{ACCOUNT_ID}:assumed-role/{role}/{request.function}"


def simulate(requests: list[Request], deployed: DeployedPolicies, name: str) -> list[Decision]:
    """Run iam-simulate over `requests` under one deployment; one Decision per request."""
    node = shutil.which("node")
    if node is None or not (SIMULATOR / "node_modules" / "@cloud-copilot" / "iam-simulate").is_dir():
        raise RuntimeError(
            "the IAM simulator is not installed: run `make iam-simulator` (npm ci in infra/iam/simulator)"
        )
    policies: dict[str, Any] = {}
    resource_policies = {**deployed.resource_policies(), REMOTE_SECRETS_KEY: DEFAULT_KEY_POLICY}
    for arn, document in resource_policies.items():
        policies[f"resource:{arn}"] = document
    identity: dict[str, list[str]] = {}
    for function in deployed.functions():
        identity[function] = []
        for policy_name, document in deployed.identity_policies(function):
            policies[policy_name] = document
            identity[function].append(policy_name)
    batch = []
    for request in requests:
        owner = _resource_owner(request.resource, resource_policies)
        batch.append(
            {
                "principal": _principal(request, deployed),
                "action": request.action,
                "resource": request.resource,
                "account": ACCOUNT_ID,
                "context": {k: list(v) if isinstance(v, list | tuple) else str(v) for k, v in request.context.items()},
                "identity": identity[str(request.function)] if request.function else [],
                "resourcePolicy": f"resource:{owner}" if owner else None,
            }
        )
    completed = subprocess.run(  # noqa: S603 - our own script, input on stdin
        [node, str(SIMULATOR / "simulate.mjs")],
        input=json.dumps({"policies": policies, "requests": batch}),
        capture_output=True,
        text=True,
        check=True,
        cwd=SIMULATOR,
    )
    answers = json.loads(completed.stdout)
    return [Decision(r, name, a["result"], a.get("detail")) for r, a in zip(requests, answers, strict=True)]


def _resource_owner(resource: str, policies: Mapping[str, Any]) -> str | None:
    if resource.startswith("arn:aws:s3:::"):
        bucket = "arn:aws:s3:::" + resource[len("arn:aws:s3:::") :].split("/", 1)[0]
        return bucket if bucket in policies else None
    return resource if resource in policies else None


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def unused_grants(deployed: DeployedPolicies, allowed: Iterable[Request]) -> list[Grant]:
    """Each (action, resource) an Allow statement grants that no allowed request of a role holding it used.

    A managed policy on several roles (the remote models' to the decisions function and the worker) is
    one grant: it is used when any of its roles used it.
    """
    by_function: dict[str, list[Request]] = {}
    for request in allowed:
        if request.function:
            by_function.setdefault(request.function, []).append(request)
    holders: dict[str, list[str]] = {}
    documents: dict[str, Mapping[str, Any]] = {}
    for function in sorted(deployed.functions()):
        for policy_name, document in deployed.identity_policies(function):
            holders.setdefault(policy_name, []).append(function)
            documents[policy_name] = document
    unused = []
    for policy_name, document in documents.items():
        used = [r for function in holders[policy_name] for r in by_function.get(function, [])]
        for statement in _as_list(document.get("Statement") or []):
            if statement.get("Effect") != "Allow":
                continue
            for action in _as_list(statement.get("Action") or []):
                for resource in _as_list(statement.get("Resource") or []):
                    if not any(
                        fnmatch.fnmatchcase(r.action.lower(), str(action).lower())
                        and fnmatch.fnmatchcase(r.resource, str(resource))
                        for r in used
                    ):
                        who = "+".join(holders[policy_name])
                        unused.append(Grant(who, policy_name, str(statement.get("Sid", "")), action, resource))
    return unused


def check(entries: Iterable[Mapping[str, Any]]) -> Report:
    """Simulate every recorded request and every on-behalf one under each parameter set that applies."""
    defaults = DeployedPolicies.for_parameters({})
    # Unit tests of the hooks run stand-in functions ("Reader", ...): only the template's have a role.
    entries = [e for e in entries if e["function"] in defaults.functions()]
    recorded = recorded_requests(entries)
    unmapped = [r for e, r in zip(entries, recorded, strict=True) if not e.get("mapped", True)]
    template_arns = {arn_of(logical_id, r["Type"]) for logical_id, r in defaults.resources.items()}
    parameters = remote_parameters(recorded, template_arns)
    remote = DeployedPolicies.for_parameters(parameters)
    # Under the defaults: what touches only the stack's own resources (no remote model, secret or models bucket).
    remote_secrets = {*parameters["RemoteModelSecretArns"].split(","), parameters["ReviewWebhookSecretArn"]} - {""}
    everywhere = [
        r
        for r in recorded
        if r.action not in {"sagemaker:InvokeEndpoint", "lambda:InvokeFunction"}
        and r.resource not in remote_secrets
        and not (r.resource.startswith("arn:aws:s3:::") and r.resource.split("/", 1)[0] not in template_arns)
    ]
    derived_defaults = OnBehalf(defaults, {}).derive(everywhere)
    derived_remote = OnBehalf(remote, parameters).derive(recorded)
    decisions = simulate([*everywhere, *derived_defaults], defaults, "defaults")
    decisions += simulate([*recorded, *derived_remote], remote, "remote models, secrets under a customer key")
    allowed = [d.request for d in decisions if d.result == "Allowed" and d.parameters != "defaults"]
    return Report(
        recorded=len(recorded),
        on_behalf=len({r.key() for r in [*derived_defaults, *derived_remote]}),
        decisions=decisions,
        unused=unused_grants(remote, allowed),
        unmapped=unmapped,
    )
