"""Read `template.yaml`: the single source of the tables, buckets and routes the local stack recreates.

CloudFormation short tags (`!Ref`, `!Sub`, `!GetAtt`, ...) are kept as their long, unresolved
forms (`{"Ref": ...}`, `{"Fn::Sub": ...}`), so the template can be inspected without AWS.

Build recipe for `CatalogFunction` (`Metadata.BuildMethod: makefile`; `sam build` runs
`make build-CatalogFunction` in the CodeUri directory with ARTIFACTS_DIR set). The catalog imports
neither shap nor numpy, so it ships as a small zip; wheels are pinned to Lambda's platform so a
build on macOS or ARM still gets linux x86_64 pydantic-core (recipe lines start with a tab):

    build-CatalogFunction:
        python -m pip install --quiet --target "$(ARTIFACTS_DIR)" \
            --platform manylinux2014_x86_64 --implementation cp --python-version 3.11 --only-binary=:all: \
            "aws-lambda-powertools[tracer]>=3.4" "pydantic>=2.9" "pydantic-settings>=2.5" "babel>=2.14"
        mkdir -p "$(ARTIFACTS_DIR)/functions" && cp -R functions/. "$(ARTIFACTS_DIR)/functions/"
        cp -R models "$(ARTIFACTS_DIR)/models"
        find "$(ARTIFACTS_DIR)" -name __pycache__ -prune -exec rm -rf {} +
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

import yaml

REPO_ROOT = Path(__file__).resolve().parent.parent
TEMPLATE_PATH = REPO_ROOT / "template.yaml"

_SCALAR_TAGS = (
    "Base64",
    "Cidr",
    "FindInMap",
    "GetAZs",
    "ImportValue",
    "Join",
    "Select",
    "Split",
    "Sub",
    "Transform",
    "And",
    "Equals",
    "If",
    "Not",
    "Or",
    "Condition",
    "ToJsonString",
    "Length",
)


class CloudFormationLoader(yaml.SafeLoader):
    """A safe YAML loader that reads CloudFormation short tags into their unresolved long form."""


def _construct_node(loader: yaml.SafeLoader, node: yaml.Node) -> Any:
    if isinstance(node, yaml.ScalarNode):
        return loader.construct_scalar(node)
    if isinstance(node, yaml.SequenceNode):
        return loader.construct_sequence(node, deep=True)
    if isinstance(node, yaml.MappingNode):
        return loader.construct_mapping(node, deep=True)
    raise yaml.constructor.ConstructorError(None, None, f"unexpected node {node!r}", node.start_mark)


def _construct_ref(loader: yaml.SafeLoader, node: yaml.Node) -> dict[str, Any]:
    return {"Ref": _construct_node(loader, node)}


def _construct_get_att(loader: yaml.SafeLoader, node: yaml.Node) -> dict[str, Any]:
    value = _construct_node(loader, node)
    if isinstance(value, str):
        # `!GetAtt Resource.Attribute` (the attribute itself may contain dots).
        resource, _, attribute = value.partition(".")
        value = [resource, attribute]
    return {"Fn::GetAtt": value}


def _make_fn_constructor(name: str) -> Any:
    key = "Condition" if name == "Condition" else f"Fn::{name}"

    def construct(loader: yaml.SafeLoader, node: yaml.Node) -> dict[str, Any]:
        return {key: _construct_node(loader, node)}

    return construct


CloudFormationLoader.add_constructor("!Ref", _construct_ref)
CloudFormationLoader.add_constructor("!GetAtt", _construct_get_att)
for _tag in _SCALAR_TAGS:
    CloudFormationLoader.add_constructor(f"!{_tag}", _make_fn_constructor(_tag))


def load_template(path: Path | str = TEMPLATE_PATH) -> dict[str, Any]:
    """Parse a CloudFormation/SAM template, keeping intrinsic functions unresolved."""
    with open(path, encoding="utf-8") as stream:
        document = yaml.load(stream, Loader=CloudFormationLoader)  # noqa: S506 - a SafeLoader subclass
    if not isinstance(document, dict) or "Resources" not in document:
        raise ValueError(f"{path} is not a CloudFormation template")
    return document


@lru_cache(maxsize=8)
def _cached_template(path: str) -> dict[str, Any]:
    return load_template(path)


def template(path: Path | str = TEMPLATE_PATH) -> dict[str, Any]:
    """The parsed template, cached per path (treat it as read-only)."""
    return _cached_template(str(Path(path).resolve()))


# --------------------------------------------------------------------------- tables


@dataclass(frozen=True)
class TableSpec:
    """What a DynamoDB table in the template looks like, in `CreateTable` terms."""

    logical_id: str
    key_schema: list[dict[str, str]]
    attribute_definitions: list[dict[str, str]]
    global_secondary_indexes: list[dict[str, Any]]
    billing_mode: str
    ttl_attribute: str | None
    point_in_time_recovery: bool
    deletion_protection: bool
    stream_view_type: str | None = None  # StreamSpecification.StreamViewType; None: no stream


def tables(tpl: Mapping[str, Any] | None = None) -> dict[str, TableSpec]:
    """Every `AWS::DynamoDB::Table`, by logical id."""
    tpl = tpl if tpl is not None else template()
    found: dict[str, TableSpec] = {}
    for logical_id, resource in tpl["Resources"].items():
        if resource.get("Type") != "AWS::DynamoDB::Table":
            continue
        props = resource.get("Properties", {})
        ttl = props.get("TimeToLiveSpecification") or {}
        found[logical_id] = TableSpec(
            logical_id=logical_id,
            key_schema=[dict(k) for k in props["KeySchema"]],
            attribute_definitions=[dict(a) for a in props["AttributeDefinitions"]],
            global_secondary_indexes=[
                {
                    "IndexName": gsi["IndexName"],
                    "KeySchema": [dict(k) for k in gsi["KeySchema"]],
                    "Projection": dict(gsi["Projection"]),
                }
                for gsi in props.get("GlobalSecondaryIndexes", [])
            ],
            billing_mode=props.get("BillingMode", "PROVISIONED"),
            ttl_attribute=ttl.get("AttributeName") if ttl.get("Enabled") else None,
            point_in_time_recovery=bool(
                (props.get("PointInTimeRecoverySpecification") or {}).get("PointInTimeRecoveryEnabled")
            ),
            deletion_protection=bool(props.get("DeletionProtectionEnabled")),
            stream_view_type=(props.get("StreamSpecification") or {}).get("StreamViewType"),
        )
    return found


# -------------------------------------------------------------------------- buckets


@dataclass(frozen=True)
class BucketSpec:
    """What an `AWS::S3::Bucket` in the template promises about versioning and Object Lock."""

    logical_id: str
    versioning: bool
    object_lock_enabled: bool
    retention_mode: str | None = None
    retention_days: int | None = None
    retention_years: int | None = None
    sse_algorithm: str | None = None

    def default_retention(self) -> dict[str, Any] | None:
        """The `DefaultRetention` block in S3 API terms, or None without Object Lock."""
        if not self.object_lock_enabled or self.retention_mode is None:
            return None
        rule: dict[str, Any] = {"Mode": self.retention_mode}
        if self.retention_days is not None:
            rule["Days"] = self.retention_days
        if self.retention_years is not None:
            rule["Years"] = self.retention_years
        return rule


def buckets(tpl: Mapping[str, Any] | None = None) -> dict[str, BucketSpec]:
    """Every `AWS::S3::Bucket`, by logical id."""
    tpl = tpl if tpl is not None else template()
    found: dict[str, BucketSpec] = {}
    for logical_id, resource in tpl["Resources"].items():
        if resource.get("Type") != "AWS::S3::Bucket":
            continue
        props = resource.get("Properties", {})
        lock = props.get("ObjectLockConfiguration") or {}
        retention = (lock.get("Rule") or {}).get("DefaultRetention") or {}
        sse_rules = (props.get("BucketEncryption") or {}).get("ServerSideEncryptionConfiguration") or [{}]
        found[logical_id] = BucketSpec(
            logical_id=logical_id,
            versioning=(props.get("VersioningConfiguration") or {}).get("Status") == "Enabled",
            object_lock_enabled=bool(props.get("ObjectLockEnabled")) and lock.get("ObjectLockEnabled") == "Enabled",
            retention_mode=retention.get("Mode"),
            retention_days=int(retention["Days"]) if "Days" in retention else None,
            retention_years=int(retention["Years"]) if "Years" in retention else None,
            sse_algorithm=(sse_rules[0].get("ServerSideEncryptionByDefault") or {}).get("SSEAlgorithm"),
        )
    return found


# --------------------------------------------------------------------------- routes

Auth = Literal["none", "iam"]


@dataclass(frozen=True)
class Route:
    """One API Gateway method: who serves it and how it is authorized."""

    method: str  # upper case: GET, POST, ...
    path: str  # resource path with placeholders, e.g. /v1/decisions/{model_id}
    function: str  # logical id of the serverless function
    handler: str  # dotted path, e.g. functions.handlers.decisions.lambda_handler
    auth: Auth
    api_key_required: bool
    timeout_s: int = 3
    memory_mb: int = 128
    event_name: str = field(default="", compare=False)
    api: str = ""  # logical id of the AWS::Serverless::Api it belongs to


def _function_properties(tpl: Mapping[str, Any], props: Mapping[str, Any]) -> dict[str, Any]:
    merged = dict((tpl.get("Globals") or {}).get("Function") or {})
    merged.update(props)
    return merged


def _handler_of(logical_id: str, props: Mapping[str, Any]) -> str:
    if props.get("PackageType") == "Image":
        command = (props.get("ImageConfig") or {}).get("Command") or []
        if not command:
            raise ValueError(f"{logical_id}: image function without ImageConfig.Command")
        return str(command[0])
    if "Handler" not in props:
        raise ValueError(f"{logical_id}: zip function without Handler")
    return str(props["Handler"])


def routes(tpl: Mapping[str, Any] | None = None) -> list[Route]:
    """Every `Type: Api` event of every serverless function, sorted by path then method."""
    tpl = tpl if tpl is not None else template()
    resources = tpl["Resources"]
    found: list[Route] = []
    for logical_id, resource in resources.items():
        if resource.get("Type") != "AWS::Serverless::Function":
            continue
        props = _function_properties(tpl, resource.get("Properties", {}))
        handler = _handler_of(logical_id, props)
        for event_name, event in (props.get("Events") or {}).items():
            if event.get("Type") != "Api":
                continue
            event_props = event.get("Properties", {})
            api_auth: Mapping[str, Any] = {}
            api_ref = event_props.get("RestApiId")
            api_id = ""
            if isinstance(api_ref, dict) and "Ref" in api_ref:
                api_id = str(api_ref["Ref"])
                api_auth = (resources.get(api_id, {}).get("Properties") or {}).get("Auth") or {}
            event_auth = event_props.get("Auth") or {}
            authorizer = event_auth.get("Authorizer", api_auth.get("DefaultAuthorizer", "NONE"))
            found.append(
                Route(
                    method=str(event_props["Method"]).upper(),
                    path=str(event_props["Path"]),
                    function=logical_id,
                    handler=handler,
                    auth="none" if authorizer == "NONE" else "iam",
                    api_key_required=bool(event_auth.get("ApiKeyRequired", api_auth.get("ApiKeyRequired", False))),
                    timeout_s=int(props.get("Timeout", 3)),
                    memory_mb=int(props.get("MemorySize", 128)),
                    event_name=event_name,
                    api=api_id,
                )
            )
    return sorted(found, key=lambda r: (r.path, r.method, r.api))


# ---------------------------------------------------------------------- environment


def function_environment(tpl: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """`Globals.Function.Environment.Variables`, unresolved (literals stay strings, refs stay dicts)."""
    tpl = tpl if tpl is not None else template()
    globals_fn = (tpl.get("Globals") or {}).get("Function") or {}
    return dict((globals_fn.get("Environment") or {}).get("Variables") or {})


def parameter_default(name: str, tpl: Mapping[str, Any] | None = None) -> str | None:
    """The default of a template parameter, as a string, or None."""
    tpl = tpl if tpl is not None else template()
    param = (tpl.get("Parameters") or {}).get(name) or {}
    default = param.get("Default")
    return None if default is None else str(default)


def condition_holds(name: str, tpl: Mapping[str, Any] | None = None) -> bool:
    """A template condition evaluated with every parameter at its default, as the local stack deploys it.

    Knows the forms the template's conditions use: Fn::Not, Fn::Equals, Fn::Join and Ref of a parameter.
    """
    tpl = tpl if tpl is not None else template()

    def value(node: Any) -> Any:
        if isinstance(node, dict) and "Ref" in node:
            return parameter_default(node["Ref"], tpl) or ""
        if isinstance(node, dict) and "Fn::Join" in node:
            separator, parts = node["Fn::Join"]
            parts = value(parts)
            return separator.join(parts.split(",") if isinstance(parts, str) else [value(p) for p in parts])
        if isinstance(node, dict) and "Fn::Equals" in node:
            left, right = node["Fn::Equals"]
            return value(left) == value(right)
        if isinstance(node, dict) and "Fn::Not" in node:
            return not value(node["Fn::Not"][0])
        if isinstance(node, dict) and "Condition" in node:
            return condition_holds(node["Condition"], tpl)
        if isinstance(node, str):
            return node
        raise ValueError(f"cannot evaluate {node!r} locally; teach infra.template.condition_holds about it")

    return bool(value(tpl["Conditions"][name]))


# --------------------------------------------------------------------------- queues


@dataclass(frozen=True)
class QueueSpec:
    """What an `AWS::SQS::Queue` in the template sets, in `CreateQueue` terms (KMS is not reproduced locally)."""

    logical_id: str
    visibility_timeout: int | None
    delay_seconds: int | None
    message_retention_period: int | None
    dead_letter_queue: str | None  # logical id of the redrive target
    max_receive_count: int | None

    def attributes(self) -> dict[str, str]:
        """The plain attributes (the redrive policy needs the target's ARN, resolved by the caller)."""
        found = {
            "VisibilityTimeout": self.visibility_timeout,
            "DelaySeconds": self.delay_seconds,
            "MessageRetentionPeriod": self.message_retention_period,
        }
        return {name: str(value) for name, value in found.items() if value is not None}


def queues(tpl: Mapping[str, Any] | None = None) -> dict[str, QueueSpec]:
    """Every `AWS::SQS::Queue`, by logical id; dead-letter targets before the queues that use them."""
    tpl = tpl if tpl is not None else template()
    found: dict[str, QueueSpec] = {}
    for logical_id, resource in tpl["Resources"].items():
        if resource.get("Type") != "AWS::SQS::Queue":
            continue
        props = resource.get("Properties") or {}
        redrive = props.get("RedrivePolicy") or {}
        target = redrive.get("deadLetterTargetArn")
        found[logical_id] = QueueSpec(
            logical_id=logical_id,
            visibility_timeout=_int_or_none(props.get("VisibilityTimeout")),
            delay_seconds=_int_or_none(props.get("DelaySeconds")),
            message_retention_period=_int_or_none(props.get("MessageRetentionPeriod")),
            dead_letter_queue=target["Fn::GetAtt"][0] if isinstance(target, dict) and "Fn::GetAtt" in target else None,
            max_receive_count=_int_or_none(redrive.get("maxReceiveCount")),
        )
    return dict(sorted(found.items(), key=lambda item: item[1].dead_letter_queue is not None))


def _int_or_none(value: Any) -> int | None:
    return None if value is None else int(value)


@dataclass(frozen=True)
class QueueSubscription:
    """One `Type: SQS` event of a serverless function: Lambda's event source mapping."""

    function: str
    handler: str
    queue: str  # logical id
    batch_size: int
    report_batch_item_failures: bool
    timeout_s: int
    memory_mb: int
    filters: tuple[str, ...] = ()  # FilterCriteria's patterns (JSON text): `infra.local.event_filters`


def queue_subscriptions(tpl: Mapping[str, Any] | None = None) -> list[QueueSubscription]:
    """Every `Type: SQS` event of every serverless function."""
    tpl = tpl if tpl is not None else template()
    found: list[QueueSubscription] = []
    for logical_id, resource in tpl["Resources"].items():
        if resource.get("Type") != "AWS::Serverless::Function":
            continue
        props = _function_properties(tpl, resource.get("Properties", {}))
        for event in (props.get("Events") or {}).values():
            if event.get("Type") != "SQS":
                continue
            event_props = event.get("Properties", {})
            found.append(
                QueueSubscription(
                    function=logical_id,
                    handler=_handler_of(logical_id, props),
                    queue=str(event_props["Queue"]["Fn::GetAtt"][0]),
                    batch_size=int(event_props.get("BatchSize", 10)),
                    report_batch_item_failures="ReportBatchItemFailures"
                    in (event_props.get("FunctionResponseTypes") or []),
                    timeout_s=int(props.get("Timeout", 3)),
                    memory_mb=int(props.get("MemorySize", 128)),
                    filters=_filter_patterns(event_props),
                )
            )
    return found


def _filter_patterns(event_props: Mapping[str, Any]) -> tuple[str, ...]:
    """An event's `FilterCriteria.Filters[*].Pattern`, as written (a JSON string each)."""
    filters = (event_props.get("FilterCriteria") or {}).get("Filters") or []
    patterns = tuple(f.get("Pattern") for f in filters)
    if not all(isinstance(p, str) for p in patterns):
        raise ValueError(f"FilterCriteria patterns must be plain JSON strings: {filters!r}")
    return patterns


@dataclass(frozen=True)
class StreamSubscription:
    """One `Type: DynamoDB` event of a serverless function: Lambda's stream event source mapping."""

    function: str
    handler: str
    table: str  # logical id of the table whose stream it reads
    batch_size: int
    report_batch_item_failures: bool
    maximum_retry_attempts: int
    failure_destination: str | None  # logical id of the on-failure queue
    timeout_s: int
    memory_mb: int
    filters: tuple[str, ...] = ()  # FilterCriteria's patterns (JSON text): `infra.local.event_filters`


def stream_subscriptions(tpl: Mapping[str, Any] | None = None) -> list[StreamSubscription]:
    """Every `Type: DynamoDB` event of every serverless function."""
    tpl = tpl if tpl is not None else template()
    found: list[StreamSubscription] = []
    for logical_id, resource in tpl["Resources"].items():
        if resource.get("Type") != "AWS::Serverless::Function":
            continue
        props = _function_properties(tpl, resource.get("Properties", {}))
        for event in (props.get("Events") or {}).values():
            if event.get("Type") != "DynamoDB":
                continue
            event_props = event.get("Properties", {})
            destination = ((event_props.get("DestinationConfig") or {}).get("OnFailure") or {}).get("Destination")
            found.append(
                StreamSubscription(
                    function=logical_id,
                    handler=_handler_of(logical_id, props),
                    table=str(event_props["Stream"]["Fn::GetAtt"][0]),
                    batch_size=int(event_props.get("BatchSize", 100)),
                    report_batch_item_failures="ReportBatchItemFailures"
                    in (event_props.get("FunctionResponseTypes") or []),
                    maximum_retry_attempts=int(event_props.get("MaximumRetryAttempts", -1)),
                    failure_destination=str(destination["Fn::GetAtt"][0]) if destination else None,
                    timeout_s=int(props.get("Timeout", 3)),
                    memory_mb=int(props.get("MemorySize", 128)),
                    filters=_filter_patterns(event_props),
                )
            )
    return found


def own_environment(tpl: Mapping[str, Any] | None = None) -> dict[str, dict[str, Any]]:
    """Each serverless function's own `Environment.Variables` (beyond the Globals), unresolved, by logical id."""
    tpl = tpl if tpl is not None else template()
    return {
        logical_id: dict(((resource.get("Properties") or {}).get("Environment") or {}).get("Variables") or {})
        for logical_id, resource in tpl["Resources"].items()
        if resource.get("Type") == "AWS::Serverless::Function"
    }


# ------------------------------------------------------------------------ functions


@dataclass(frozen=True)
class FunctionSpec:
    """How `sam build` builds one serverless function, and what Lambda runs from it."""

    logical_id: str
    package_type: Literal["Zip", "Image"]
    handler: str  # dotted path; for an image, ImageConfig.Command[0] (it overrides the Dockerfile's CMD)
    timeout_s: int
    memory_mb: int
    architecture: str = "x86_64"  # Architectures[0]: x86_64 or arm64
    runtime: str | None = None  # zip: python3.11
    build_method: str | None = None  # zip: Metadata.BuildMethod (makefile: `make build-<LogicalId>`)
    code_uri: str | None = None  # zip: the directory `sam build` copies and runs make in
    dockerfile: str | None = None  # image: Metadata.Dockerfile, relative to the context
    docker_context: str | None = None  # image: Metadata.DockerContext


def functions(tpl: Mapping[str, Any] | None = None) -> dict[str, FunctionSpec]:
    """Every `AWS::Serverless::Function`, by logical id, with its build recipe (Globals merged)."""
    tpl = tpl if tpl is not None else template()
    found: dict[str, FunctionSpec] = {}
    for logical_id, resource in tpl["Resources"].items():
        if resource.get("Type") != "AWS::Serverless::Function":
            continue
        props = _function_properties(tpl, resource.get("Properties", {}))
        metadata = resource.get("Metadata") or {}
        image = props.get("PackageType") == "Image"
        found[logical_id] = FunctionSpec(
            logical_id=logical_id,
            package_type="Image" if image else "Zip",
            handler=_handler_of(logical_id, props),
            timeout_s=int(props.get("Timeout", 3)),
            memory_mb=int(props.get("MemorySize", 128)),
            architecture=str((props.get("Architectures") or ["x86_64"])[0]),
            runtime=None if image else str(props.get("Runtime")),
            build_method=None if image else metadata.get("BuildMethod"),
            code_uri=None if image else str(props.get("CodeUri", ".")),
            dockerfile=str(metadata["Dockerfile"]) if image else None,
            docker_context=str(metadata.get("DockerContext", ".")) if image else None,
        )
    return found
