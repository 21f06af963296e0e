"""The local resources are the template's resources; the template keeps the promises moto cannot test.

moto does not enforce compliance-mode retention, TTL expiry or IAM (requirements.md, D), so the
last section asserts those properties on template.yaml itself.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import boto3
import pytest
import requests

from infra import template as tpl
from infra.local.aws import local_name
from infra.local.gateway import DEFAULT_TOKENS
from infra.local.stack import LocalStack

TEMPLATE = tpl.template()
TABLES = tpl.tables(TEMPLATE)
BUCKETS = tpl.buckets(TEMPLATE)
TABLE_ENV = {
    "RecordsTable": "CANDOR_RECORDS_TABLE",
    "IdempotencyTable": "CANDOR_IDEMPOTENCY_TABLE",
    "AppealsTable": "CANDOR_APPEALS_TABLE",
    "RollupsTable": "CANDOR_ROLLUPS_TABLE",
    "PendingRecordsTable": "CANDOR_PENDING_TABLE",
}
BUCKET_ENV = {"ArchiveBucket": "CANDOR_ARCHIVE_BUCKET"}


def _sorted_attrs(items: Sequence[Mapping[str, Any]]) -> list[tuple[str, str]]:
    return sorted((a["AttributeName"], a["AttributeType"]) for a in items)


def _gsis(items: Sequence[Mapping[str, Any]]) -> dict[str, tuple[Any, ...]]:
    return {
        g["IndexName"]: (
            [(k["AttributeName"], k["KeyType"]) for k in g["KeySchema"]],
            g["Projection"]["ProjectionType"],
        )
        for g in items
    }


# ------------------------------------------------------------ moto matches template


@pytest.mark.parametrize("logical_id", sorted(TABLES))
def test_tables_match_the_template(aws_env: dict[str, str], logical_id: str) -> None:
    spec = TABLES[logical_id]
    client = boto3.client("dynamodb")
    name = aws_env[TABLE_ENV[logical_id]]
    table = client.describe_table(TableName=name)["Table"]

    assert table["KeySchema"] == spec.key_schema
    assert _sorted_attrs(table["AttributeDefinitions"]) == _sorted_attrs(spec.attribute_definitions)
    assert _gsis(table.get("GlobalSecondaryIndexes", [])) == _gsis(spec.global_secondary_indexes)
    assert table["BillingModeSummary"]["BillingMode"] == spec.billing_mode
    assert table["SSEDescription"]["SSEType"] == "KMS"
    assert table["SSEDescription"]["KMSMasterKeyArn"] == aws_env["CANDOR_KMS_KEY_ID"]

    ttl = client.describe_time_to_live(TableName=name)["TimeToLiveDescription"]
    backups = client.describe_continuous_backups(TableName=name)["ContinuousBackupsDescription"]
    if logical_id == "PendingRecordsTable":  # items live until their archive copy: no TTL, no backups
        assert spec.ttl_attribute is None and not spec.point_in_time_recovery
        assert ttl["TimeToLiveStatus"] == "DISABLED"
        assert backups["PointInTimeRecoveryDescription"]["PointInTimeRecoveryStatus"] == "DISABLED"
    else:
        assert spec.ttl_attribute
        assert (ttl["TimeToLiveStatus"], ttl["AttributeName"]) == ("ENABLED", spec.ttl_attribute)
        assert backups["PointInTimeRecoveryDescription"]["PointInTimeRecoveryStatus"] == "ENABLED"
    stream = table.get("StreamSpecification") or {}
    assert stream.get("StreamViewType") == spec.stream_view_type  # the rollup function's event sources


def test_records_table_has_the_auditor_indexes() -> None:
    # Pinned so a rename in the template is a conscious change (the audit queries use these names).
    assert _gsis(TABLES["RecordsTable"].global_secondary_indexes) == {
        "by_model_day": ([("model_day", "HASH"), ("decided_at", "RANGE")], "ALL"),
        "by_subject": ([("subject_hash", "HASH"), ("decided_at", "RANGE")], "ALL"),
        "by_model_outcome": ([("model_outcome", "HASH"), ("decided_at", "RANGE")], "ALL"),
        "by_day": ([("day", "HASH"), ("decided_at", "RANGE")], "KEYS_ONLY"),
    }
    assert TABLES["RecordsTable"].key_schema == [{"AttributeName": "decision_id", "KeyType": "HASH"}]
    assert TABLES["IdempotencyTable"].key_schema == [{"AttributeName": "id", "KeyType": "HASH"}]


def test_archive_bucket_matches_the_template(aws_env: dict[str, str]) -> None:
    spec = BUCKETS["ArchiveBucket"]
    s3 = boto3.client("s3")
    name = aws_env["CANDOR_ARCHIVE_BUCKET"]

    assert s3.get_bucket_versioning(Bucket=name).get("Status") == ("Enabled" if spec.versioning else None)
    lock = s3.get_object_lock_configuration(Bucket=name)["ObjectLockConfiguration"]
    assert lock["ObjectLockEnabled"] == "Enabled"
    retention = {k: v for k, v in lock["Rule"]["DefaultRetention"].items() if v}  # moto reports Years: 0
    assert retention == spec.default_retention()

    rule = s3.get_bucket_encryption(Bucket=name)["ServerSideEncryptionConfiguration"]["Rules"][0]
    assert rule["ApplyServerSideEncryptionByDefault"]["SSEAlgorithm"] == "aws:kms"
    assert rule["ApplyServerSideEncryptionByDefault"]["KMSMasterKeyID"] == aws_env["CANDOR_KMS_KEY_ID"]
    block = s3.get_public_access_block(Bucket=name)["PublicAccessBlockConfiguration"]
    assert all(block.values())


@pytest.mark.parametrize("logical_id", sorted(tpl.queues(TEMPLATE)))
def test_queues_match_the_template(aws_env: dict[str, str], logical_id: str) -> None:
    spec = tpl.queues(TEMPLATE)[logical_id]
    sqs = boto3.client("sqs")
    url = sqs.get_queue_url(QueueName=local_name(logical_id))["QueueUrl"]
    attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    for name, value in spec.attributes().items():
        assert attributes[name] == value, name
    if spec.dead_letter_queue is None:
        assert "RedrivePolicy" not in attributes
    else:
        redrive = json.loads(attributes["RedrivePolicy"])
        assert redrive["deadLetterTargetArn"].endswith(f":{local_name(spec.dead_letter_queue)}")
        assert redrive["maxReceiveCount"] == spec.max_receive_count


def test_functions_own_queue_variables_are_provisioned(aws_env: dict[str, str]) -> None:
    env = TEMPLATE["Resources"]["DecisionsFunction"]["Properties"]["Environment"]["Variables"]
    assert env["CANDOR_EXPLANATION_QUEUE_URL"] == {"Ref": "ExplanationQueue"}
    assert aws_env["CANDOR_EXPLANATION_QUEUE_URL"].endswith("/candor-explanations")
    boto3.client("sqs").get_queue_attributes(QueueUrl=aws_env["CANDOR_EXPLANATION_QUEUE_URL"])


def test_provision_sets_every_function_variable(aws_env: dict[str, str]) -> None:
    assert set(tpl.function_environment(TEMPLATE)) <= set(aws_env)
    for name in tpl.function_environment(TEMPLATE):
        assert aws_env[name], name
        assert os.environ[name] == aws_env[name]
    assert "AWS_ENDPOINT_URL" not in os.environ  # mock_aws intercepts the default endpoints
    secret = boto3.client("secretsmanager").get_secret_value(SecretId=aws_env["CANDOR_SUBJECT_KEY_SECRET"])
    assert len(secret["SecretString"]) >= 32
    key = boto3.client("kms").describe_key(KeyId=aws_env["CANDOR_KMS_KEY_ID"])["KeyMetadata"]
    assert key["KeySpec"] == "SYMMETRIC_DEFAULT"


def test_records_are_write_once_with_a_conditional_put(aws_env: dict[str, str]) -> None:
    table = boto3.resource("dynamodb").Table(aws_env["CANDOR_RECORDS_TABLE"])
    item = {"decision_id": "d-1", "model_day": "ticket-router#2026-08-03", "decided_at": "2026-08-03T09:00:00Z"}
    table.put_item(Item=item, ConditionExpression="attribute_not_exists(decision_id)")
    with pytest.raises(table.meta.client.exceptions.ConditionalCheckFailedException):
        table.put_item(Item=item, ConditionExpression="attribute_not_exists(decision_id)")
    found = table.query(
        IndexName="by_model_day",
        KeyConditionExpression="model_day = :d AND decided_at BETWEEN :a AND :b",
        ExpressionAttributeValues={":d": "ticket-router#2026-08-03", ":a": "2026-08-03", ":b": "2026-08-04"},
    )
    assert [i["decision_id"] for i in found["Items"]] == ["d-1"]


# -------------------------------------------------------------- the local stack


@pytest.fixture
def stack() -> Iterator[LocalStack]:
    echo = "tests.dummy_handlers.echo"
    with LocalStack(handlers={"DecisionsFunction": echo, "CatalogFunction": echo}) as running:
        yield running


def test_local_stack_serves_the_routes_with_the_provisioned_environment(stack: LocalStack) -> None:
    health = requests.get(f"{stack.api_url}/v1/health", timeout=10)
    assert health.status_code == 200
    env = health.json()["env"]
    assert env["CANDOR_RECORDS_TABLE"] == "candor-records"
    assert env["AWS_ENDPOINT_URL"] == stack.aws_url
    assert env["CANDOR_PUBLIC_BASE_URL"] == stack.api_url

    body = json.dumps({"request_id": "x", "inputs": {"text": "é" * 100_000}}, ensure_ascii=False).encode()
    decided = requests.post(
        f"{stack.api_url}/v1/decisions/ticket-router",
        data=body,
        headers={"Authorization": f"Bearer {DEFAULT_TOKENS['chatbot']}", "Content-Type": "application/json"},
        timeout=10,
    )
    assert decided.status_code == 200
    event = decided.json()["event"]
    assert event["body"].encode() == body
    assert event["requestContext"]["identity"]["userArn"].endswith("assumed-role/candor-chatbot/local")
    assert decided.headers.getlist("X-Multi") if hasattr(decided.headers, "getlist") else True

    unauthenticated = requests.post(f"{stack.api_url}/v1/decisions/ticket-router", data=b"{}", timeout=10)
    assert unauthenticated.status_code == 401
    assert unauthenticated.json()["error"]["code"] == "unauthenticated"
    assert requests.get(f"{stack.api_url}/v1/nope", timeout=10).status_code == 404
    assert requests.get(f"{stack.api_url}/v1/decisions/x", timeout=10).status_code == 405


def test_aws_cli_works_against_the_local_stack(stack: LocalStack) -> None:
    aws = Path(sys.executable).with_name("aws")
    env = {
        "PATH": os.environ.get("PATH", ""),
        "HOME": os.environ.get("HOME", "/tmp"),
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "eu-west-1",
    }

    def cli(*args: str) -> Any:
        done = subprocess.run(
            [str(aws), "--endpoint-url", stack.aws_url, "--output", "json", *args],
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert done.returncode == 0, done.stderr
        return json.loads(done.stdout)

    tables = set(cli("dynamodb", "list-tables")["TableNames"])
    assert {"candor-records", "candor-idempotency", "candor-appeals"} <= tables
    lock = cli("s3api", "get-object-lock-configuration", "--bucket", "candor-archive")
    assert lock["ObjectLockConfiguration"]["Rule"]["DefaultRetention"]["Mode"] == "COMPLIANCE"


def test_the_local_stack_feeds_the_worker_like_an_sqs_event_source_mapping() -> None:
    from tests import dummy_handlers

    dummy_handlers.CALLS.clear()
    worker = "ExplanationWorkerFunction"
    with LocalStack(handlers={worker: "tests.dummy_handlers.sqs_partial"}, preload=False) as stack:
        sqs = boto3.client("sqs", endpoint_url=stack.aws_url, region_name="eu-west-1")
        url = stack.env["CANDOR_EXPLANATION_QUEUE_URL"]
        for body in ("ok", "fail"):
            sqs.send_message(QueueUrl=url, MessageBody=body)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and len([r for e in dummy_handlers.CALLS for r in e["Records"]]) < 2:
            time.sleep(0.1)
        records = [r for e in dummy_handlers.CALLS for r in e["Records"]]
        assert sorted(r["body"] for r in records) == ["fail", "ok"]
        assert all(len(e["Records"]) == 1 for e in dummy_handlers.CALLS)  # the template's BatchSize
        (first, *_) = records
        assert set(first) == {
            "messageId", "receiptHandle", "body", "attributes", "messageAttributes", "md5OfBody",
            "eventSource", "eventSourceARN", "awsRegion",
        }  # fmt: skip
        assert first["eventSource"] == "aws:sqs" and first["eventSourceARN"].endswith(":candor-explanations")
        assert first["attributes"]["ApproximateReceiveCount"] == "1"
        time.sleep(0.5)  # the poller deletes right after the handler returns
        counts = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
        # "ok" was deleted; "fail" was kept, invisible until the visibility timeout brings it back
        assert (counts["ApproximateNumberOfMessages"], counts["ApproximateNumberOfMessagesNotVisible"]) == ("0", "1")
        log = (stack.logs_dir / f"{worker}.log").read_text()
        assert '"message": "batch"' in log


def test_local_stack_restores_the_environment() -> None:
    before = os.environ.get("CANDOR_RECORDS_TABLE")
    with LocalStack(handlers={"CatalogFunction": "tests.dummy_handlers.echo"}, preload=False):
        assert os.environ["CANDOR_RECORDS_TABLE"] == "candor-records"
    assert os.environ.get("CANDOR_RECORDS_TABLE") == before


# ------------------------------------------------------- promises moto can't test


def _function_statements(logical_id: str) -> list[dict[str, Any]]:
    """The statements of the function's own role: its inline policies and the role policies attached to it.

    (FunctionBasePolicy, shared by every role, holds only X-Ray writes and the environment key:
    tests/unit/test_template_security.py pins it.)
    """
    resources = TEMPLATE["Resources"]
    role_ref = resources[logical_id]["Properties"]["Role"]
    role = role_ref["Fn::GetAtt"][0]
    assert role_ref == {"Fn::GetAtt": [role, "Arn"]}
    documents = [p["PolicyDocument"] for p in resources[role]["Properties"].get("Policies", [])]
    documents += [
        r["Properties"]["PolicyDocument"]
        for r in resources.values()
        if r["Type"] == "AWS::IAM::RolePolicy" and r["Properties"]["RoleName"] == {"Ref": role}
    ]
    return [s for d in documents for s in d["Statement"]]


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


@pytest.mark.parametrize(
    "logical_id",
    [
        "DecisionsFunction",
        "CatalogFunction",
        "CustomerFunction",
        "AuditFunction",
        "PrivacyFunction",
        "ReviewFunction",
        "IntegrityFunction",
        "ExplanationWorkerFunction",
    ],
)
def test_function_policies_have_no_wildcards(logical_id: str) -> None:
    for statement in _function_statements(logical_id):
        assert statement["Effect"] == "Allow"
        for action in _as_list(statement["Action"]):
            assert "*" not in action, statement
        for resource in _as_list(statement["Resource"]):
            assert resource != "*", statement


def test_the_record_writer_cannot_rewrite_or_shorten_retention() -> None:
    statements = _function_statements("DecisionsFunction")
    on_records = {
        action
        for s in statements
        for action in _as_list(s["Action"])
        if {"Fn::GetAtt": ["RecordsTable", "Arn"]} in _as_list(s["Resource"])
    }
    assert on_records == {"dynamodb:PutItem"}
    actions = {a for s in statements for a in _as_list(s["Action"])}
    assert not {"s3:PutObjectRetention", "s3:BypassGovernanceRetention", "s3:DeleteObject"} & actions
    assert not {"dynamodb:UpdateItem", "dynamodb:DeleteItem"} & on_records
    archive = [s for s in statements if "s3:PutObject" in _as_list(s["Action"])]
    assert [s["Resource"] for s in archive] == [
        [{"Fn::Sub": "${ArchiveBucket.Arn}/records/*"}, {"Fn::Sub": "${PersonalBucket.Arn}/personal/*"}]
    ]


def test_only_the_personal_bucket_is_erasable() -> None:
    resources = TEMPLATE["Resources"]
    assert resources["ArchiveBucket"]["Properties"]["ObjectLockEnabled"] is True
    assert "ObjectLockConfiguration" not in resources["PersonalBucket"]["Properties"]


def test_archive_retention_is_compliance_with_exactly_one_period() -> None:
    props = TEMPLATE["Resources"]["ArchiveBucket"]["Properties"]
    retention = props["ObjectLockConfiguration"]["Rule"]["DefaultRetention"]
    assert retention["Mode"] == "COMPLIANCE"
    assert len({"Days", "Years"} & set(retention)) == 1
    assert retention.get("Days", 0) >= 183 or retention.get("Years", 0) >= 1  # at least six months
    assert props["VersioningConfiguration"]["Status"] == "Enabled"
    assert all(props["PublicAccessBlockConfiguration"].values())


@pytest.mark.parametrize(
    "logical_id",
    [
        "RecordsTable",
        "IdempotencyTable",
        "AppealsTable",
        "ArchiveBucket",
        "PersonalBucket",
        "AccessLogsBucket",
        "RecordsKey",
        "DigestSigningKey",
        "OperationsKey",
        "SubjectKeySecret",
    ],
)
def test_stateful_resources_are_retained(logical_id: str) -> None:
    resource = TEMPLATE["Resources"][logical_id]
    assert resource["DeletionPolicy"] == resource["UpdateReplacePolicy"] == "Retain"


def test_buckets_deny_plain_http() -> None:
    for policy_id, bucket in [("ArchiveBucketPolicy", "ArchiveBucket"), ("AccessLogsBucketPolicy", "AccessLogsBucket")]:
        policy = TEMPLATE["Resources"][policy_id]["Properties"]
        assert policy["Bucket"] == {"Ref": bucket}
        assert any(
            s["Effect"] == "Deny" and s["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
            for s in policy["PolicyDocument"]["Statement"]
        )


def test_every_route_is_authorized_by_iam_except_health_and_the_customer_api() -> None:
    # CustomerApi has no authorizer: its handler authorizes every request by the link's signed token.
    routes = tpl.routes(TEMPLATE)
    open_routes = sorted((r.api, r.method, r.path) for r in routes if r.auth == "none")
    assert open_routes == [
        ("Api", "GET", "/v1/health"),
        ("CustomerApi", "GET", "/v1/explanations/{decision_id}"),
        ("CustomerApi", "GET", "/v1/explanations/{decision_id}/view"),
        ("CustomerApi", "POST", "/v1/explanations/{decision_id}/appeal"),
    ]
    assert {r.function for r in routes if r.api == "CustomerApi"} == {"CustomerFunction"}
    customer_api = TEMPLATE["Resources"]["CustomerApi"]["Properties"]
    assert "Auth" not in customer_api
    assert customer_api["TracingEnabled"] is True
    assert customer_api["AccessLogSetting"]["DestinationArn"]
    assert "querystring" not in customer_api["AccessLogSetting"]["Format"].lower()  # the token stays out of logs
    throttle = customer_api["MethodSettings"][0]
    assert throttle["ThrottlingRateLimit"] > 0
    assert throttle["ThrottlingBurstLimit"] > 0
    assert throttle["DataTraceEnabled"] is False


def test_customer_links_point_at_the_customer_api() -> None:
    env = TEMPLATE["Resources"]["DecisionsFunction"]["Properties"]["Environment"]["Variables"]
    condition, configured, default = env["CANDOR_PUBLIC_BASE_URL"]["Fn::If"]
    assert condition == "HasPublicBaseUrl"
    assert configured == {"Fn::Sub": "${PublicBaseUrl}"}  # not a Ref: see the comment in template.yaml
    assert "${CustomerApi}" in default["Fn::Sub"]


def test_the_customer_function_reads_records_and_writes_appeals_once() -> None:
    statements = _function_statements("CustomerFunction")
    granted = {
        (action, json.dumps(resource, sort_keys=True))
        for s in statements
        for action in _as_list(s["Action"])
        for resource in _as_list(s["Resource"])
    }

    def ref(value: Any) -> str:
        return json.dumps(value, sort_keys=True)

    assert granted == {
        ("dynamodb:GetItem", ref({"Fn::GetAtt": ["RecordsTable", "Arn"]})),
        ("dynamodb:GetItem", ref({"Fn::GetAtt": ["PendingRecordsTable", "Arn"]})),  # a record not copied yet
        ("dynamodb:GetItem", ref({"Fn::GetAtt": ["AppealsTable", "Arn"]})),
        ("dynamodb:PutItem", ref({"Fn::GetAtt": ["AppealsTable", "Arn"]})),
        ("s3:GetObject", ref({"Fn::Sub": "${ArchiveBucket.Arn}/records/*"})),
        ("s3:GetObject", ref({"Fn::Sub": "${ArchiveBucket.Arn}/completions/*"})),  # deferred explanations
        ("s3:GetObject", ref({"Fn::Sub": "${PersonalBucket.Arn}/personal/*"})),
        ("kms:Decrypt", ref({"Fn::GetAtt": ["RecordsKey", "Arn"]})),
        ("secretsmanager:GetSecretValue", ref({"Ref": "SubjectKeySecret"})),
        ("logs:CreateLogStream", ref({"Fn::GetAtt": ["CustomerFunctionLogGroup", "Arn"]})),
        ("logs:PutLogEvents", ref({"Fn::GetAtt": ["CustomerFunctionLogGroup", "Arn"]})),
    }
    handler = TEMPLATE["Resources"]["CustomerFunction"]
    assert handler["Metadata"]["BuildMethod"] == "makefile"
    assert handler["Properties"]["Runtime"] == "python3.11"


def test_appeals_table_keys_and_index() -> None:
    spec = TABLES["AppealsTable"]
    assert spec.key_schema == [{"AttributeName": "decision_id", "KeyType": "HASH"}]
    assert _gsis(spec.global_secondary_indexes) == {
        "by_model_day": ([("model_day", "HASH"), ("created_at", "RANGE")], "ALL"),
        # Sparse: resolved appeals only, with their sealed review's key and hash (integrity digests).
        "by_resolved_day": ([("resolved_day", "HASH"), ("resolved_at", "RANGE")], "INCLUDE"),
    }
    assert spec.point_in_time_recovery
    assert spec.deletion_protection
    assert spec.billing_mode == "PAY_PER_REQUEST"
    sse = TEMPLATE["Resources"]["AppealsTable"]["Properties"]["SSESpecification"]
    assert sse == {"SSEEnabled": True, "SSEType": "KMS", "KMSMasterKeyId": {"Ref": "RecordsKey"}}


# ------------------------------------------------------------------ integrity digests


def test_the_digest_signing_key_is_provisioned_as_in_the_template(aws_env: dict[str, str]) -> None:
    props = TEMPLATE["Resources"]["DigestSigningKey"]["Properties"]
    key = boto3.client("kms").describe_key(KeyId=aws_env["CANDOR_DIGEST_KEY_ID"])["KeyMetadata"]
    assert (
        (key["KeySpec"], key["KeyUsage"]) == (props["KeySpec"], props["KeyUsage"]) == ("ECC_NIST_P256", "SIGN_VERIFY")
    )
    assert "ECDSA_SHA_256" in key["SigningAlgorithms"]


def test_the_digest_signing_key_is_asymmetric_and_kept() -> None:
    resource = TEMPLATE["Resources"]["DigestSigningKey"]
    assert "EnableKeyRotation" not in resource["Properties"]  # AWS rotates symmetric keys only
    assert resource["DeletionPolicy"] == "Retain"  # old digests must stay verifiable
    env = tpl.function_environment(TEMPLATE)
    assert env["CANDOR_DIGEST_KEY_ID"] == {"Fn::GetAtt": ["DigestSigningKey", "Arn"]}


def test_only_the_integrity_job_may_lengthen_retention() -> None:
    functions = [k for k, r in TEMPLATE["Resources"].items() if r["Type"] == "AWS::Serverless::Function"]
    granted = {
        name: [s for s in _function_statements(name) if "s3:PutObjectRetention" in _as_list(s["Action"])]
        for name in functions
    }
    assert [name for name, statements in granted.items() if statements] == ["IntegrityFunction"]
    (statement,) = granted["IntegrityFunction"]
    assert statement["Resource"] == [
        {"Fn::Sub": "${ArchiveBucket.Arn}/records/*"},
        {"Fn::Sub": "${ArchiveBucket.Arn}/completions/*"},
        {"Fn::Sub": "${ArchiveBucket.Arn}/reviews/*"},  # sealed reviews are kept as long as their decision
        {"Fn::Sub": "${ArchiveBucket.Arn}/digests/*"},
    ]
    every_action = {a for name in functions for s in _function_statements(name) for a in _as_list(s["Action"])}
    assert "s3:BypassGovernanceRetention" not in every_action


def test_the_integrity_job_runs_hourly_writes_only_digests_and_is_watched() -> None:
    resources = TEMPLATE["Resources"]
    props = resources["IntegrityFunction"]["Properties"]
    assert props["Handler"] == "functions.handlers.integrity.lambda_handler"
    assert resources["IntegrityFunction"]["Metadata"]["BuildMethod"] == "makefile"
    (event,) = props["Events"].values()
    assert (event["Type"], event["Properties"]["Schedule"]) == ("Schedule", "rate(1 hour)")
    writes = [s for s in _function_statements("IntegrityFunction") if "s3:PutObject" in _as_list(s["Action"])]
    assert [s["Resource"] for s in writes] == [{"Fn::Sub": "${ArchiveBucket.Arn}/digests/*"}]
    table_actions = {
        a for s in _function_statements("IntegrityFunction") for a in _as_list(s["Action"]) if a.startswith("dynamodb:")
    }
    assert table_actions == {"dynamodb:Query", "dynamodb:BatchGetItem", "dynamodb:Scan"}  # no GetItem: unused
    scans = [
        s["Resource"] for s in _function_statements("IntegrityFunction") if "dynamodb:Scan" in _as_list(s["Action"])
    ]
    assert scans == [{"Fn::GetAtt": ["PendingRecordsTable", "Arn"]}]  # the near-empty pending table, never the records
    alarm = resources["IntegrityFunctionErrorsAlarm"]["Properties"]
    assert alarm["MetricName"] == "Errors"
    assert alarm["Dimensions"] == [{"Name": "FunctionName", "Value": {"Ref": "IntegrityFunction"}}]
    log_group = resources["IntegrityFunctionLogGroup"]["Properties"]
    assert log_group["LogGroupName"] == {"Fn::Sub": "/aws/lambda/${IntegrityFunction}"}
    assert log_group["RetentionInDays"]


def test_the_integrity_job_knows_the_archive_default_retention() -> None:
    from functions.schemas.settings import AuditSettings

    days = TEMPLATE["Resources"]["ArchiveBucket"]["Properties"]["ObjectLockConfiguration"]["Rule"]["DefaultRetention"]
    assert AuditSettings.model_fields["archive_retention_days"].default == days["Days"]
