"""What each function's role in `template.yaml` allows, evaluated the way IAM does, for the local stack.

moto does not enforce IAM. Where an answer of AWS depends on the caller's permissions even when
the call itself is allowed (S3 answers a read of an absent key with 404 only to a caller that may
list the bucket, 403 to anyone else), the local stack asks this module, so that the tests see
what the deployed functions would see, and a grant added to or removed from the template
changes what they see.

The subset of IAM evaluated: identity policies only (a role's inline policies, `AWS::IAM::RolePolicy`
resources on it, customer managed policies it names or that name it); `Action` and `Resource`
with `*`/`?` wildcards; an explicit `Deny` overrides any `Allow`; conditions with the `String*`
operators (and their `IfExists` forms) on the request's context keys. Anything else in a
statement that could match (NotAction, NotResource, another condition operator) makes an Allow
not apply and a Deny apply, so an unsupported policy errs towards refusing. Resources created
only under a template condition (`Condition:` on the resource, e.g. the remote models' policies)
are left out: they exist only with some parameters set.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

Statement = Mapping[str, Any]
Context = Mapping[str, str]

_SUB_VARIABLE = re.compile(r"\$\{([^}!][^}]*)\}")


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _documents(resources: Mapping[str, Any], role: str) -> list[Mapping[str, Any]]:
    """Every identity policy document on `role` (a logical id)."""
    props = resources[role].get("Properties") or {}
    found = [p["PolicyDocument"] for p in props.get("Policies") or []]
    named = {ref["Ref"] for ref in props.get("ManagedPolicyArns") or [] if isinstance(ref, dict) and "Ref" in ref}
    for logical_id, resource in resources.items():
        if "Condition" in resource:
            continue
        kind, rprops = resource.get("Type"), resource.get("Properties") or {}
        on_role = kind == "AWS::IAM::RolePolicy" and rprops.get("RoleName") == {"Ref": role}
        attached = kind == "AWS::IAM::ManagedPolicy" and (
            logical_id in named or {"Ref": role} in (rprops.get("Roles") or [])
        )
        if on_role or attached:
            found.append(rprops["PolicyDocument"])
    return found


def function_statements(document: Mapping[str, Any]) -> dict[str, list[Statement]]:
    """Function logical id -> the statements of its execution role (`Role: !GetAtt <Role>.Arn`).

    A function without such a role gets no statements: SAM would generate one from `Policies`,
    which this template does not use, and nothing granted is what an unknown role can be proven to have.
    """
    resources = document["Resources"]
    found: dict[str, list[Statement]] = {}
    for logical_id, resource in resources.items():
        if resource.get("Type") != "AWS::Serverless::Function":
            continue
        role = (resource.get("Properties") or {}).get("Role")
        statements: list[Statement] = []
        if isinstance(role, dict) and "Fn::GetAtt" in role and role["Fn::GetAtt"][0] in resources:
            for policy in _documents(resources, role["Fn::GetAtt"][0]):
                statements.extend(_as_list(policy.get("Statement") or []))
        found[logical_id] = statements
    return found


def resolver(names: Mapping[str, str], *, partition: str = "aws") -> Callable[[Any], str | None]:
    """Turns a statement's `Resource` entry into an ARN pattern, given physical names by logical id.

    Only S3 buckets are resolved (`!GetAtt Bucket.Arn`, `!Sub ${Bucket.Arn}/...`, `${Bucket}`);
    any other resource resolves to None and matches nothing, which is right for the S3 questions asked.
    """

    def bucket_arn(logical_id: str) -> str | None:
        return f"arn:{partition}:s3:::{names[logical_id]}" if logical_id in names else None

    def resolve(value: Any) -> str | None:
        if isinstance(value, str):
            return value
        if isinstance(value, dict) and "Fn::GetAtt" in value:
            resource, attribute = value["Fn::GetAtt"]
            return bucket_arn(resource) if attribute == "Arn" else None
        if isinstance(value, dict) and isinstance(value.get("Fn::Sub"), str):
            unresolved = False

            def substitute(match: re.Match[str]) -> str:
                nonlocal unresolved
                name = match.group(1)
                if name == "AWS::Partition":
                    return partition
                target, _, attribute = name.partition(".")
                if attribute == "Arn" and (arn := bucket_arn(target)):
                    return arn
                if not attribute and target in names:
                    return names[target]
                unresolved = True
                return ""

            text = _SUB_VARIABLE.sub(substitute, value["Fn::Sub"])
            return None if unresolved else text
        return None

    return resolve


def _glob(pattern: str, value: str, *, case_sensitive: bool = True) -> bool:
    # IAM wildcards: * (any run of characters, "/" included) and ?; nothing else is special.
    translated = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    return re.fullmatch(translated, value, 0 if case_sensitive else re.IGNORECASE) is not None


_STRING_OPERATORS: dict[str, Callable[[str, str], bool]] = {
    "StringEquals": lambda pattern, value: pattern == value,
    "StringNotEquals": lambda pattern, value: pattern != value,
    "StringEqualsIgnoreCase": lambda pattern, value: pattern.lower() == value.lower(),
    "StringLike": lambda pattern, value: _glob(pattern, value),
    "StringNotLike": lambda pattern, value: not _glob(pattern, value),
}


def _condition_holds(operator: str, key: str, expected: Any, context: Context) -> bool | None:
    """Whether one condition holds; None when the operator is not one this module evaluates."""
    base, if_exists = (operator[: -len("IfExists")], True) if operator.endswith("IfExists") else (operator, False)
    test = _STRING_OPERATORS.get(base)
    if test is None:
        return None
    if key not in context:
        return if_exists  # a key the request does not carry fails the condition, unless ...IfExists
    patterns = [str(p) for p in _as_list(expected)]
    negated = base.startswith("StringNot")
    # Several values: any may match (for the negated operators: none may match).
    results = [test(p, context[key]) for p in patterns]
    return all(results) if negated else any(results)


def _conditions(statement: Statement, context: Context) -> bool | None:
    holds: bool | None = True
    for operator, pairs in (statement.get("Condition") or {}).items():
        for key, expected in pairs.items():
            result = _condition_holds(operator, key, expected, context)
            if result is None:
                return None
            holds = holds and result
    return holds


@dataclass(frozen=True)
class Policies:
    """The template's function roles, asked `allows(function, action, arn, context)`."""

    statements: Mapping[str, list[Statement]]
    resolve: Callable[[Any], str | None]

    def allows(self, function: str | None, action: str, resource: str, context: Context | None = None) -> bool:
        """IAM's answer for one request by `function`'s role (None: an unknown caller, denied)."""
        allowed = False
        for statement in self.statements.get(function or "", []):
            applies = self._applies(statement, action, resource, context or {})
            if statement.get("Effect") == "Deny" and applies is not False:
                return False  # an explicit Deny wins; one we cannot evaluate is taken to apply
            if statement.get("Effect") == "Allow" and applies is True:
                allowed = True
        return allowed

    def _applies(self, statement: Statement, action: str, resource: str, context: Context) -> bool | None:
        if "NotAction" in statement or "NotResource" in statement:
            return None
        actions = [str(a) for a in _as_list(statement.get("Action") or [])]
        if not any(_glob(a, action, case_sensitive=False) for a in actions):
            return False
        patterns = [self.resolve(r) for r in _as_list(statement.get("Resource") or [])]
        if not any(p is not None and _glob(p, resource) for p in patterns):
            return False
        return _conditions(statement, context)
