"""The policies `sam deploy` would create from template.yaml, for one set of parameter values, as plain JSON.

    policies = DeployedPolicies.for_parameters({"RemoteModelArns": "arn:...,arn:..."})
    policies.identity_policies("DecisionsFunction")   # [(name, document), ...] of its execution role
    policies.resource_policy("arn:aws:kms:...:key/RecordsKey")   # the key policy, bucket or queue policy

The template goes through the SAM translator (as `sam deploy` does: SAM policy templates and
`Policies:` lists would be expanded there), then every intrinsic is resolved: Ref, Fn::GetAtt,
Fn::Sub, Fn::Join, Fn::Split, Fn::Select, Fn::If with the template's conditions evaluated for the
given parameters, and AWS::NoValue dropped; resources whose condition is false are left out.
Physical names are those of the local stack (`infra.local.aws.local_name`) in account 123456789012,
region eu-west-1, stack `candor`; KMS keys and secrets, whose local ids are random, get stable
names (`arn_of`) that the recording (`infra/iam/aws_calls.py`) writes for them too.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from typing import Any

from infra import template as tpl
from infra.local.aws import ACCOUNT_ID, REGION, local_name

STACK = "candor"
PSEUDO = {
    "AWS::Region": REGION,
    "AWS::AccountId": ACCOUNT_ID,
    "AWS::Partition": "aws",
    "AWS::StackName": STACK,
    "AWS::URLSuffix": "amazonaws.com",
}
_NO_VALUE = object()
_SUB = re.compile(r"\$\{([^}!][^}]*)\}")


def arn_of(logical_id: str, kind: str | None = None, name: str | None = None) -> str:
    """The ARN a template resource has here (`kind`: its CloudFormation type, looked up when omitted)."""
    kind = kind or tpl.template()["Resources"][logical_id]["Type"]
    local = local_name(logical_id)
    by_kind = {
        "AWS::DynamoDB::Table": f"arn:aws:dynamodb:{REGION}:{ACCOUNT_ID}:table/{local}",
        "AWS::S3::Bucket": f"arn:aws:s3:::{local}",
        "AWS::SQS::Queue": f"arn:aws:sqs:{REGION}:{ACCOUNT_ID}:{local}",
        "AWS::KMS::Key": f"arn:aws:kms:{REGION}:{ACCOUNT_ID}:key/{logical_id}",
        "AWS::SecretsManager::Secret": f"arn:aws:secretsmanager:{REGION}:{ACCOUNT_ID}:secret:{local}-AbCdEf",
        "AWS::IAM::Role": f"arn:aws:iam::{ACCOUNT_ID}:role/{logical_id}",
        "AWS::IAM::ManagedPolicy": f"arn:aws:iam::{ACCOUNT_ID}:policy/{logical_id}",
        "AWS::Logs::LogGroup": f"arn:aws:logs:{REGION}:{ACCOUNT_ID}:log-group:{name or logical_id}:*",
        "AWS::Lambda::Function": f"arn:aws:lambda:{REGION}:{ACCOUNT_ID}:function:{logical_id}",
        "AWS::Events::Rule": f"arn:aws:events:{REGION}:{ACCOUNT_ID}:rule/{logical_id}",
        "AWS::SNS::Topic": f"arn:aws:sns:{REGION}:{ACCOUNT_ID}:{STACK}-{logical_id}-ABCDEF12",  # a generated name
    }
    service = kind.split("::")[1].lower() if kind.count("::") == 2 else "unknown"
    return by_kind.get(kind, f"arn:aws:{service}:{REGION}:{ACCOUNT_ID}:{logical_id}")


def _ref(logical_id: str, kind: str, props: Mapping[str, Any]) -> str:
    """What `Ref` returns for each kind of resource (CloudFormation's documented return values)."""
    if kind in {"AWS::DynamoDB::Table", "AWS::S3::Bucket"}:
        return local_name(logical_id)
    if kind == "AWS::SQS::Queue":
        return f"https://sqs.{REGION}.amazonaws.com/{ACCOUNT_ID}/{local_name(logical_id)}"
    if kind in {"AWS::SecretsManager::Secret", "AWS::IAM::ManagedPolicy", "AWS::SNS::Topic"}:
        return arn_of(logical_id, kind)
    return logical_id  # key ids, role, function and rule names, API ids: the logical id stands in


class _NoManagedPolicies:
    """The translator asks for AWS managed policy names only to expand `Policies: [<name>]`; none here."""

    def load(self) -> dict[str, str]:
        return {}


@cache
def transformed() -> dict[str, Any]:
    """template.yaml through the SAM translator, as `sam deploy` hands it to CloudFormation (intrinsics kept)."""
    import os

    from samtranslator.translator.transform import transform

    document = copy.deepcopy(tpl.load_template())
    for resource in document["Resources"].values():
        if resource["Type"] == "AWS::Serverless::Function":
            props = resource["Properties"]
            # `sam build`/`sam package` would fill these in; the translator only needs them to look real.
            if props.get("PackageType") == "Image":
                props["ImageUri"] = f"{ACCOUNT_ID}.dkr.ecr.{REGION}.amazonaws.com/candor:test"
            else:
                props["CodeUri"] = "s3://candor-build/code.zip"
    saved = os.environ.get("AWS_DEFAULT_REGION")
    os.environ["AWS_DEFAULT_REGION"] = REGION  # the translator builds ARNs for a region
    try:
        return dict(transform(document, {}, _NoManagedPolicies()))
    finally:
        if saved is None:
            os.environ.pop("AWS_DEFAULT_REGION", None)
        else:
            os.environ["AWS_DEFAULT_REGION"] = saved


class _Resolver:
    def __init__(self, document: Mapping[str, Any], parameters: Mapping[str, str]) -> None:
        self.resources = document["Resources"]
        self.conditions = document.get("Conditions") or {}
        self.parameters: dict[str, Any] = {}
        for name, spec in (document.get("Parameters") or {}).items():
            value = str(parameters.get(name, spec.get("Default", "")))
            self.parameters[name] = value.split(",") if spec.get("Type") == "CommaDelimitedList" else value

    def condition(self, name: str) -> bool:
        return bool(self.value(self.conditions[name]))

    def value(self, node: Any) -> Any:
        if isinstance(node, list):
            return [v for v in (self.value(item) for item in node) if v is not _NO_VALUE]
        if not isinstance(node, dict):
            return node
        if len(node) == 1:
            ((name, argument),) = node.items()
            handler = getattr(self, "_" + name.replace("Fn::", "fn_").replace("::", "_"), None)
            if handler is not None and (name.startswith("Fn::") or name in {"Ref", "Condition"}):
                return handler(argument)
        resolved = {k: self.value(v) for k, v in node.items()}
        return {k: v for k, v in resolved.items() if v is not _NO_VALUE}

    def _Ref(self, name: str) -> Any:
        if name == "AWS::NoValue":
            return _NO_VALUE
        if name in PSEUDO:
            return PSEUDO[name]
        if name in self.parameters:
            return self.parameters[name]
        resource = self.resources[name]
        return _ref(name, resource["Type"], resource.get("Properties") or {})

    def _Condition(self, name: str) -> bool:
        return self.condition(name)

    def _fn_GetAtt(self, argument: Any) -> str:
        logical_id, attribute = argument if isinstance(argument, list) else argument.split(".", 1)
        resource = self.resources[logical_id]
        if attribute == "Arn":
            name = self.value((resource.get("Properties") or {}).get("LogGroupName"))
            return arn_of(logical_id, resource["Type"], name if isinstance(name, str) else None)
        if attribute == "QueueName":
            return local_name(logical_id)
        if attribute == "StreamArn":  # a table's stream: the label is the stream's creation time
            return f"{arn_of(logical_id, resource['Type'])}/stream/2026-01-01T00:00:00.000"
        return f"{logical_id}.{attribute}"

    def _fn_Sub(self, argument: Any) -> str:
        text, variables = (argument, {}) if isinstance(argument, str) else (argument[0], self.value(argument[1]))

        def substitute(match: re.Match[str]) -> str:
            name = match.group(1)
            if name in variables:
                return str(variables[name])
            if "." in name:
                return str(self._fn_GetAtt(name))
            return str(self._Ref(name))

        return _SUB.sub(substitute, text).replace("${!", "${")

    def _fn_Join(self, argument: Any) -> str:
        separator, parts = argument
        return str(separator).join(str(p) for p in self.value(parts))

    def _fn_Split(self, argument: Any) -> list[str]:
        separator, text = argument
        return str(self.value(text)).split(separator)

    def _fn_Select(self, argument: Any) -> Any:
        index, items = argument
        return self.value(items)[int(self.value(index))]

    def _fn_If(self, argument: Any) -> Any:
        name, when_true, when_false = argument
        return self.value(when_true if self.condition(name) else when_false)

    def _fn_Equals(self, argument: Any) -> bool:
        left, right = (self.value(a) for a in argument)
        return bool(left == right)

    def _fn_Not(self, argument: Any) -> bool:
        return not self.value(argument[0])

    def _fn_And(self, argument: Any) -> bool:
        return all(self.value(a) for a in argument)

    def _fn_Or(self, argument: Any) -> bool:
        return any(self.value(a) for a in argument)


@dataclass(frozen=True)
class DeployedPolicies:
    """The resolved resources of one deployment: execution roles' policies and resource policies."""

    resources: Mapping[str, Any]  # logical id -> resolved resource, only those the parameters create

    @classmethod
    def for_parameters(cls, parameters: Mapping[str, str] | None = None) -> DeployedPolicies:
        document = transformed()
        resolver = _Resolver(document, parameters or {})
        resources = {
            logical_id: resolver.value(resource)
            for logical_id, resource in document["Resources"].items()
            if "Condition" not in resource or resolver.condition(resource["Condition"])
        }
        return cls(resources)

    def _of_type(self, kind: str) -> dict[str, Mapping[str, Any]]:
        return {k: r.get("Properties") or {} for k, r in self.resources.items() if r["Type"] == kind}

    def functions(self) -> dict[str, str]:
        """Function logical id -> its execution role's logical id."""
        found = {}
        for logical_id, props in self._of_type("AWS::Lambda::Function").items():
            role_arn = str(props.get("Role", ""))
            found[logical_id] = role_arn.rsplit("/", 1)[-1]
        return found

    def identity_policies(self, function: str) -> list[tuple[str, Mapping[str, Any]]]:
        """Every policy on `function`'s role: inline, managed (by ARN or naming the role), AWS::IAM::(Role)Policy."""
        role = self.functions()[function]
        props = self._of_type("AWS::IAM::Role")[role]
        found = [(f"{role}/{p['PolicyName']}", p["PolicyDocument"]) for p in props.get("Policies") or []]
        attached = set(props.get("ManagedPolicyArns") or [])
        for logical_id, policy in self._of_type("AWS::IAM::ManagedPolicy").items():
            if arn_of(logical_id, "AWS::IAM::ManagedPolicy") in attached or role in (policy.get("Roles") or []):
                attached.discard(arn_of(logical_id, "AWS::IAM::ManagedPolicy"))
                found.append((logical_id, policy["PolicyDocument"]))
        for kind in ("AWS::IAM::RolePolicy", "AWS::IAM::Policy"):
            for logical_id, policy in self._of_type(kind).items():
                if policy.get("RoleName") == role or role in (policy.get("Roles") or []):
                    found.append((logical_id, policy["PolicyDocument"]))
        if attached:  # an AWS managed policy: its text is not in the template, so nothing can be proven of it
            raise ValueError(f"{role} names managed policies outside the template: {sorted(attached)}")
        return found

    def resource_policies(self) -> dict[str, Mapping[str, Any]]:
        """Resource ARN -> its policy: key policies, bucket policies, queue policies."""
        found: dict[str, Mapping[str, Any]] = {}
        for logical_id, props in self._of_type("AWS::KMS::Key").items():
            found[arn_of(logical_id, "AWS::KMS::Key")] = props["KeyPolicy"]
        for props in self._of_type("AWS::S3::BucketPolicy").values():
            found[f"arn:aws:s3:::{props['Bucket']}"] = props["PolicyDocument"]
        for props in self._of_type("AWS::SQS::QueuePolicy").values():
            for url in props["Queues"]:
                account, name = str(url).rstrip("/").split("/")[-2:]
                found[f"arn:aws:sqs:{REGION}:{account}:{name}"] = props["PolicyDocument"]
        return found

    def resource_policy(self, resource: str) -> Mapping[str, Any] | None:
        """The policy of the resource an ARN names (an object's ARN: its bucket's)."""
        policies = self.resource_policies()
        if resource.startswith("arn:aws:s3:::"):
            resource = "arn:aws:s3:::" + resource[len("arn:aws:s3:::") :].split("/", 1)[0]
        return policies.get(resource)
