"""moto as the local AWS endpoint, and the resources of `template.yaml` created in it with boto3.

`provision()` reads the tables, buckets and queues from the template (never a second copy of
their schema), so the local stack cannot drift from what `sam deploy` creates. moto does not enforce
compliance-mode retention, TTL expiry, IAM or queue encryption; those properties are asserted on the
template.
"""

from __future__ import annotations

import json
import logging
import secrets
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import boto3

from infra import template as tpl

if TYPE_CHECKING:
    from moto.server import ThreadedMotoServer

REGION = "eu-west-1"
ACCOUNT_ID = "123456789012"  # moto's default account
DUMMY_CREDENTIALS = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}

# Deterministic physical names for the template's logical ids.
LOCAL_NAMES: Mapping[str, str] = {
    "RecordsTable": "candor-records",
    "IdempotencyTable": "candor-idempotency",
    "AppealsTable": "candor-appeals",
    "RollupsTable": "candor-rollups",
    "PendingRecordsTable": "candor-pending-records",
    "ArchiveBucket": "candor-archive",
    "PersonalBucket": "candor-personal",
    "AccessLogsBucket": "candor-access-logs",
    "SubjectKeySecret": "candor/subject-key",
    "RecordsKey": "alias/candor-records",
    "DigestSigningKey": "alias/candor-digests",
    "ExplanationQueue": "candor-explanations",
    "ExplanationDeadLetterQueue": "candor-explanations-dlq",
    "IntegrityFailureQueue": "candor-integrity-failures",
    "RollupFailureQueue": "candor-rollup-failures",
}


@dataclass
class MotoEndpoint:
    """A moto server running in a thread of this process."""

    server: ThreadedMotoServer
    url: str

    def stop(self) -> None:
        """Shut the server down and wait for its thread."""
        self.server.stop()


def start_moto(port: int = 0, host: str = "127.0.0.1", *, quiet: bool = True) -> MotoEndpoint:
    """Start moto's `ThreadedMotoServer` on host:port (0 = an ephemeral port) and return its URL."""
    from moto.server import ThreadedMotoServer

    if quiet:
        # werkzeug logs one line per AWS call; keep the terminal for the gateway's own lines.
        logging.getLogger("werkzeug").setLevel(logging.WARNING)

    from infra.local.moto_transactions import serialise_dynamodb_requests

    serialise_dynamodb_requests()
    server = ThreadedMotoServer(ip_address=host, port=port, verbose=False)
    server.start()
    bound_host, bound_port = server.get_host_and_port()
    endpoint = MotoEndpoint(server=server, url=f"http://{bound_host}:{bound_port}")
    reset_moto(endpoint.url)
    return endpoint


def reset_moto(url: str) -> None:
    """Empty every moto backend. moto's servers (and `mock_aws`) in one process share the same state,
    so a new local stack starts by clearing what an earlier one left."""
    reset = urllib.request.Request(f"{url}/moto-api/reset", method="POST")  # noqa: S310 - our own http URL
    with urllib.request.urlopen(reset, timeout=10) as response:  # noqa: S310
        response.read()


def local_name(logical_id: str) -> str:
    """The physical name a template resource gets locally."""
    return LOCAL_NAMES.get(logical_id, f"candor-{logical_id.lower()}")


def _session() -> boto3.Session:
    return boto3.Session(
        aws_access_key_id=DUMMY_CREDENTIALS["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=DUMMY_CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
        region_name=REGION,
    )


def session_client(service: str, endpoint_url: str | None) -> Any:
    """A client of the local account (dummy credentials, the local region) at `endpoint_url`."""
    return _session().client(service, endpoint_url=endpoint_url)  # type: ignore[call-overload]


def _create_table(client: Any, name: str, spec: tpl.TableSpec, kms_key_arn: str) -> None:
    kwargs: dict[str, Any] = {
        "TableName": name,
        "KeySchema": spec.key_schema,
        "AttributeDefinitions": spec.attribute_definitions,
        "BillingMode": spec.billing_mode,
        "SSESpecification": {"Enabled": True, "SSEType": "KMS", "KMSMasterKeyId": kms_key_arn},
        "DeletionProtectionEnabled": spec.deletion_protection,
    }
    if spec.global_secondary_indexes:
        kwargs["GlobalSecondaryIndexes"] = spec.global_secondary_indexes
    if spec.stream_view_type:
        kwargs["StreamSpecification"] = {"StreamEnabled": True, "StreamViewType": spec.stream_view_type}
    client.create_table(**kwargs)
    client.get_waiter("table_exists").wait(TableName=name, WaiterConfig={"Delay": 0.05, "MaxAttempts": 100})
    if spec.ttl_attribute:
        client.update_time_to_live(
            TableName=name, TimeToLiveSpecification={"Enabled": True, "AttributeName": spec.ttl_attribute}
        )
    if spec.point_in_time_recovery:
        client.update_continuous_backups(
            TableName=name, PointInTimeRecoverySpecification={"PointInTimeRecoveryEnabled": True}
        )


def _create_bucket(client: Any, name: str, spec: tpl.BucketSpec, kms_key_arn: str) -> None:
    client.create_bucket(
        Bucket=name,
        CreateBucketConfiguration={"LocationConstraint": REGION},
        ObjectLockEnabledForBucket=spec.object_lock_enabled,
    )
    if spec.versioning:
        client.put_bucket_versioning(Bucket=name, VersioningConfiguration={"Status": "Enabled"})
    retention = spec.default_retention()
    if retention is not None:
        client.put_object_lock_configuration(
            Bucket=name,
            ObjectLockConfiguration={"ObjectLockEnabled": "Enabled", "Rule": {"DefaultRetention": retention}},
        )
    if spec.sse_algorithm == "aws:kms":
        encryption = {"SSEAlgorithm": "aws:kms", "KMSMasterKeyID": kms_key_arn}
        client.put_bucket_encryption(
            Bucket=name,
            ServerSideEncryptionConfiguration={
                "Rules": [{"ApplyServerSideEncryptionByDefault": encryption, "BucketKeyEnabled": True}]
            },
        )
    elif spec.sse_algorithm:
        client.put_bucket_encryption(
            Bucket=name,
            ServerSideEncryptionConfiguration={
                "Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": spec.sse_algorithm}}]
            },
        )
    client.put_public_access_block(
        Bucket=name,
        PublicAccessBlockConfiguration={
            "BlockPublicAcls": True,
            "IgnorePublicAcls": True,
            "BlockPublicPolicy": True,
            "RestrictPublicBuckets": True,
        },
    )


def _create_queues(client: Any, document: Mapping[str, Any]) -> tuple[dict[str, str], dict[str, str]]:
    """The template's queues with their timeouts and redrive policies: (logical id -> URL, logical id -> ARN)."""
    urls: dict[str, str] = {}
    arns: dict[str, str] = {}
    for logical_id, spec in tpl.queues(document).items():  # dead-letter targets first
        attributes = spec.attributes()
        if spec.dead_letter_queue is not None:
            redrive = {"deadLetterTargetArn": arns[spec.dead_letter_queue], "maxReceiveCount": spec.max_receive_count}
            attributes["RedrivePolicy"] = json.dumps(redrive)
        urls[logical_id] = client.create_queue(QueueName=local_name(logical_id), Attributes=attributes)["QueueUrl"]
        arns[logical_id] = client.get_queue_attributes(QueueUrl=urls[logical_id], AttributeNames=["QueueArn"])[
            "Attributes"
        ]["QueueArn"]
    return urls, arns


def _create_signing_keys(client: Any, document: Mapping[str, Any]) -> dict[str, str]:
    """The template's asymmetric keys (the integrity digests' signing key), with its key spec and usage."""
    created: dict[str, str] = {}
    for logical_id, resource in document["Resources"].items():
        props = resource.get("Properties") or {}
        if resource.get("Type") != "AWS::KMS::Key" or props.get("KeyUsage") != "SIGN_VERIFY":
            continue
        arn = client.create_key(
            Description=f"Candor {logical_id} (local)", KeySpec=props["KeySpec"], KeyUsage="SIGN_VERIFY"
        )["KeyMetadata"]["Arn"]
        client.create_alias(
            AliasName=LOCAL_NAMES.get(logical_id, f"alias/candor-{logical_id.lower()}"), TargetKeyId=arn
        )
        created[logical_id] = arn
    return created


def provision(
    endpoint_url: str | None,
    *,
    template_path: Path | str = tpl.TEMPLATE_PATH,
    public_base_url: str = "",
) -> dict[str, str]:
    """Create the template's keys, secret, tables, buckets and queues at `endpoint_url`; return the functions' env.

    `endpoint_url=None` talks to whatever boto3 would reach by default, which under moto's
    `mock_aws` is the in-process mock. The returned mapping holds every variable of
    `Globals.Function.Environment` (resolved to the local resources) plus the region,
    dummy credentials and, when given, `AWS_ENDPOINT_URL`.
    """
    document = tpl.load_template(template_path)
    session = _session()
    kms = session.client("kms", endpoint_url=endpoint_url)
    secretsmanager = session.client("secretsmanager", endpoint_url=endpoint_url)
    dynamodb = session.client("dynamodb", endpoint_url=endpoint_url)
    s3 = session.client("s3", endpoint_url=endpoint_url)
    sqs = session.client("sqs", endpoint_url=endpoint_url)

    key_arn = kms.create_key(
        Description="Candor records (local)", KeySpec="SYMMETRIC_DEFAULT", KeyUsage="ENCRYPT_DECRYPT"
    )["KeyMetadata"]["Arn"]
    kms.enable_key_rotation(KeyId=key_arn)
    kms.create_alias(AliasName=LOCAL_NAMES["RecordsKey"], TargetKeyId=key_arn)

    secret_arn = secretsmanager.create_secret(
        Name=LOCAL_NAMES["SubjectKeySecret"], SecretString=secrets.token_urlsafe(48), KmsKeyId=key_arn
    )["ARN"]

    physical: dict[str, str] = {"RecordsKey": key_arn, "SubjectKeySecret": secret_arn}
    physical.update(_create_signing_keys(kms, document))
    for logical_id, table_spec in tpl.tables(document).items():
        name = LOCAL_NAMES.get(logical_id, f"candor-{logical_id.lower()}")
        _create_table(dynamodb, name, table_spec, key_arn)
        physical[logical_id] = name
    for logical_id, bucket_spec in tpl.buckets(document).items():
        name = LOCAL_NAMES.get(logical_id, f"candor-{logical_id.lower()}")
        _create_bucket(s3, name, bucket_spec, key_arn)
        physical[logical_id] = name

    queue_urls, _ = _create_queues(sqs, document)
    physical.update(queue_urls)  # a queue's Ref is its URL

    env: dict[str, str] = {}
    for var, value in tpl.function_environment(document).items():
        env[var] = _resolve(value, physical, document, public_base_url)
    # Functions' own variables that name a provisioned resource (CANDOR_EXPLANATION_QUEUE_URL); the
    # rest (the decisions function's customer-link base) are the Globals' again, resolved above.
    for variables in tpl.own_environment(document).values():
        for var, value in variables.items():
            if isinstance(value, dict) and value.get("Ref") in physical:
                env[var] = physical[value["Ref"]]
    env.update(DUMMY_CREDENTIALS)
    env["AWS_DEFAULT_REGION"] = REGION
    env["AWS_REGION"] = REGION
    if endpoint_url:
        env["AWS_ENDPOINT_URL"] = endpoint_url
    return env


def _resolve(value: Any, physical: Mapping[str, str], document: Mapping[str, Any], public_base_url: str) -> str:
    """Resolve the few intrinsic forms the Globals use: literals, Ref and GetAtt <resource>.Arn."""
    if isinstance(value, str | int | float | bool):
        return str(value)
    if isinstance(value, dict) and "Ref" in value:
        name = value["Ref"]
        if name == "PublicBaseUrl":
            return public_base_url
        if name in physical:
            return physical[name]
        default = tpl.parameter_default(name, document)
        if default is not None:
            return default
    if isinstance(value, dict) and "Fn::If" in value:
        condition, when_true, when_false = value["Fn::If"]
        chosen = when_true if tpl.condition_holds(condition, document) else when_false
        return _resolve(chosen, physical, document, public_base_url)
    if isinstance(value, dict) and "Fn::GetAtt" in value:
        resource, attribute = value["Fn::GetAtt"]
        if attribute == "Arn" and resource in physical and physical[resource].startswith("arn:"):
            return physical[resource]
    raise ValueError(f"cannot resolve {value!r} locally; teach infra.local.aws._resolve about it")
