"""Security promises of template.yaml, asserted on the template *after* the SAM transform.

cfn-lint (with the serverless rules) and checkov run in the gate (`make cfn-lint`,
`make template-security`), but neither sees what SAM generates from the short forms: the
methods' authorization lives in the generated OpenAPI body, the roles' statements in generated
IAM resources, the usage plan and stages in generated API Gateway resources. moto does not
enforce IAM or Object Lock (requirements.md, D). So the SAM translator runs here, in process
and offline, and these tests read what CloudFormation would actually be given.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from typing import Any

import pytest

from infra import template as tpl

# ------------------------------------------------------------------------ the transform

# Routes a chatbot backend calls: SigV4 as candor-chatbot *and* an API key of the usage plan.
CHATBOT_ROUTES = {("POST", "/v1/decisions/{model_id}"), ("GET", "/v1/disclosure")}
PUBLIC_ROUTES = {("GET", "/v1/health")}
# X-Ray accepts no resource but "*" for trace writes: the one such grant allowed.
XRAY_WRITES = {"xray:PutTraceSegments", "xray:PutTelemetryRecords"}
# Actions with no resource type: IAM authorises them only on "*" (the Service Authorization Reference).
ONLY_ON_ANY_RESOURCE = XRAY_WRITES | {"dynamodb:ListStreams"}
IDENTITY_POLICY_TYPES = {"AWS::IAM::Role", "AWS::IAM::Policy", "AWS::IAM::ManagedPolicy", "AWS::IAM::RolePolicy"}


class _NoManagedPolicies:
    """The translator asks for AWS managed policy names only to expand `Policies: [<name>]`; none here."""

    def load(self) -> dict[str, str]:
        return {}


@pytest.fixture(scope="module")
def cfn() -> dict[str, Any]:
    """template.yaml through the SAM translator, as `sam deploy` would hand it to CloudFormation."""
    from samtranslator.translator.transform import transform

    document = copy.deepcopy(tpl.load_template())
    for resource in document["Resources"].values():
        if resource["Type"] != "AWS::Serverless::Function":
            continue
        props = resource["Properties"]
        # `sam build`/`sam package` would fill these in; the translator only needs them to look real.
        if props.get("PackageType") == "Image":
            props["ImageUri"] = "123456789012.dkr.ecr.eu-west-1.amazonaws.com/candor:test"
        else:
            props["CodeUri"] = "s3://candor-build/code.zip"
    with pytest.MonkeyPatch.context() as env:
        env.setenv("AWS_DEFAULT_REGION", "eu-west-1")  # the translator builds ARNs for a region
        return transform(document, {}, _NoManagedPolicies())


def _of_type(cfn: dict[str, Any], type_: str) -> dict[str, dict[str, Any]]:
    return {k: r for k, r in cfn["Resources"].items() if r["Type"] == type_}


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _key(value: Any) -> str:
    return json.dumps(value, sort_keys=True)


# ------------------------------------------------------------------------ authorization


def _operations(cfn: dict[str, Any], api: str) -> Iterator[tuple[str, str, dict[str, Any]]]:
    body = cfn["Resources"][api]["Properties"]["Body"]
    for path, operations in body["paths"].items():
        for method, operation in operations.items():
            yield method.upper(), path, operation


def _auth(operation: dict[str, Any]) -> tuple[str, bool]:
    """(authorization type, API key required) as API Gateway imports the operation."""
    schemes = {name for requirement in operation.get("security") or [] for name in requirement}
    authorization = "AWS_IAM" if "AWS_IAM" in schemes else "NONE"
    return authorization, "api_key" in schemes


def test_the_iam_scheme_is_sigv4(cfn: dict[str, Any]) -> None:
    schemes = cfn["Resources"]["Api"]["Properties"]["Body"]["securityDefinitions"]
    assert schemes["AWS_IAM"]["x-amazon-apigateway-authtype"] == "awsSigv4"
    assert schemes["api_key"] == {"type": "apiKey", "name": "x-api-key", "in": "header"}


def test_every_route_of_the_api_is_iam_authorized_but_health(cfn: dict[str, Any]) -> None:
    seen = set()
    for method, path, operation in _operations(cfn, "Api"):
        seen.add((method, path))
        authorization, key_required = _auth(operation)
        if (method, path) in PUBLIC_ROUTES:
            assert (authorization, key_required) == ("NONE", False), path
        else:
            assert authorization == "AWS_IAM", (method, path)
            # Chatbots also present an API key of the usage plan; auditors and privacy officers do not.
            assert key_required == ((method, path) in CHATBOT_ROUTES), (method, path)
    assert seen >= CHATBOT_ROUTES | PUBLIC_ROUTES
    assert ("DELETE", "/v1/subjects/{subject_id}") in seen
    assert ("GET", "/v1/explanations") in seen


def test_customer_api_routes_are_open_only_to_the_token_checking_handler(cfn: dict[str, Any]) -> None:
    operations = list(_operations(cfn, "CustomerApi"))
    assert operations
    for method, path, operation in operations:
        assert _auth(operation) == ("NONE", False), (method, path)
        uri = operation["x-amazon-apigateway-integration"]["uri"]["Fn::Sub"]
        assert "${CustomerFunction.Arn}" in uri, (method, path)  # the handler that checks the link's token
    assert "securityDefinitions" not in cfn["Resources"]["CustomerApi"]["Properties"]["Body"]


def test_only_api_gateway_may_invoke_the_api_functions(cfn: dict[str, Any]) -> None:
    for name, permission in _of_type(cfn, "AWS::Lambda::Permission").items():
        props = permission["Properties"]
        assert props["Action"] == "lambda:InvokeFunction"
        assert props["Principal"] in {"apigateway.amazonaws.com", "events.amazonaws.com"}, name
        assert "SourceArn" in props, name


# ---------------------------------------------------------------- throttling, usage plan


def test_the_usage_plan_throttles_and_caps_the_chatbot_keys(cfn: dict[str, Any]) -> None:
    (plan,) = _of_type(cfn, "AWS::ApiGateway::UsagePlan").values()
    props = plan["Properties"]
    assert props["ApiStages"] == [{"ApiId": {"Ref": "Api"}, "Stage": {"Ref": "ApiprodStage"}}]
    assert props["Throttle"]["RateLimit"] > 0
    assert props["Throttle"]["BurstLimit"] >= props["Throttle"]["RateLimit"]
    assert props["Quota"]["Limit"] > 0
    assert props["Quota"]["Period"] in {"DAY", "WEEK", "MONTH"}
    (key,) = _of_type(cfn, "AWS::ApiGateway::UsagePlanKey").values()
    assert key["Properties"]["UsagePlanId"] == {"Ref": next(iter(_of_type(cfn, "AWS::ApiGateway::UsagePlan")))}


@pytest.mark.parametrize("api", ["Api", "CustomerApi"])
def test_both_stages_throttle_trace_and_log_without_bodies(cfn: dict[str, Any], api: str) -> None:
    (stage,) = [
        s for s in _of_type(cfn, "AWS::ApiGateway::Stage").values() if s["Properties"]["RestApiId"] == {"Ref": api}
    ]
    props = stage["Properties"]
    assert props["TracingEnabled"] is True
    assert props["AccessLogSetting"]["DestinationArn"] == {"Fn::GetAtt": [f"{api}AccessLogGroup", "Arn"]}
    (setting,) = props["MethodSettings"]
    assert (setting["ResourcePath"], setting["HttpMethod"]) == ("/*", "*")  # every method of the stage
    assert setting["ThrottlingRateLimit"] > 0
    assert setting["ThrottlingBurstLimit"] >= setting["ThrottlingRateLimit"]
    assert setting["DataTraceEnabled"] is False  # request bodies hold personal data


# ------------------------------------------------------------------------------- IAM


def _identity_statements(cfn: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    for name, resource in cfn["Resources"].items():
        props = resource["Properties"]
        if resource["Type"] == "AWS::IAM::Role":
            documents = [p["PolicyDocument"] for p in props.get("Policies", [])]
        elif resource["Type"] in IDENTITY_POLICY_TYPES:
            documents = [props["PolicyDocument"]]
        else:
            continue
        for document in documents:
            for statement in document["Statement"]:
                yield name, statement


def test_no_identity_policy_grants_a_wildcard(cfn: dict[str, Any]) -> None:
    statements = list(_identity_statements(cfn))
    assert len(statements) > 20
    for name, statement in statements:
        assert statement["Effect"] == "Allow", name
        assert "NotAction" not in statement and "NotResource" not in statement, name
        actions = _as_list(statement["Action"])
        for action in actions:
            assert "*" not in action, (name, action)
        if "*" in _as_list(statement["Resource"]):
            assert statement["Resource"] == "*" and set(actions) <= ONLY_ON_ANY_RESOURCE, (name, statement)


def test_roles_carry_no_aws_managed_policy(cfn: dict[str, Any]) -> None:
    # AWSLambdaBasicExecutionRole, AWSXrayWriteOnlyAccess, AmazonAPIGatewayPushToCloudWatchLogs all
    # grant on "*"; each role here gets our own, scoped statements instead.
    for name, role in _of_type(cfn, "AWS::IAM::Role").items():
        for arn in role["Properties"].get("ManagedPolicyArns", []):
            assert arn == {"Ref": "FunctionBasePolicy"}, (name, arn)


def test_each_function_has_a_role_of_its_own(cfn: dict[str, Any]) -> None:
    functions = _of_type(cfn, "AWS::Lambda::Function")
    roles = {name: fn["Properties"]["Role"]["Fn::GetAtt"][0] for name, fn in functions.items()}
    assert sorted(roles.values()) == sorted(f"{name}Role" for name in functions)  # distinct, one each
    for role in roles.values():
        trust = cfn["Resources"][role]["Properties"]["AssumeRolePolicyDocument"]["Statement"]
        assert trust == [
            {"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}
        ]
    api_gateway = cfn["Resources"]["ApiGatewayCloudWatchRole"]["Properties"]
    assert api_gateway["AssumeRolePolicyDocument"]["Statement"][0]["Principal"] == {
        "Service": "apigateway.amazonaws.com"
    }


def _grants(cfn: dict[str, Any], role: str) -> set[tuple[str, str]]:
    """(action, resource) pairs of a role: inline policies, role policies on it, managed policies attached."""
    resources = cfn["Resources"]
    props = resources[role]["Properties"]
    documents = [p["PolicyDocument"] for p in props.get("Policies", [])]
    documents += [
        r["Properties"]["PolicyDocument"]
        for r in resources.values()
        if r["Type"] == "AWS::IAM::RolePolicy" and r["Properties"]["RoleName"] == {"Ref": role}
    ]
    documents += [resources[ref["Ref"]]["Properties"]["PolicyDocument"] for ref in props.get("ManagedPolicyArns", [])]
    return {
        (action, _key(resource))
        for document in documents
        for statement in document["Statement"]
        for action in _as_list(statement["Action"])
        for resource in _as_list(statement["Resource"])
    }


def test_the_decision_writer_puts_records_and_nothing_more(cfn: dict[str, Any]) -> None:
    att = lambda logical_id: _key({"Fn::GetAtt": [logical_id, "Arn"]})  # noqa: E731
    sub = lambda text: _key({"Fn::Sub": text})  # noqa: E731
    assert _grants(cfn, "DecisionsFunctionRole") == {
        # write-once audit items: a conditional PutItem, never UpdateItem or DeleteItem
        ("dynamodb:PutItem", att("RecordsTable")),
        # referrals queued for a person (review_policy): a conditional PutItem in the appeals table, nothing else
        ("dynamodb:PutItem", att("AppealsTable")),
        # the sealed record, durable before its archive copy: a conditional PutItem, nothing else
        ("dynamodb:PutItem", att("PendingRecordsTable")),
        # the answer remembered per request_id: a conditional PutItem in the same transaction, nothing else
        ("dynamodb:PutItem", att("IdempotencyTable")),
        # new objects only (a record too large for a pending item): no retention, governance bypass, delete or ACL
        ("s3:PutObject", sub("${ArchiveBucket.Arn}/records/*")),
        ("s3:PutObject", sub("${PersonalBucket.Arn}/personal/*")),
        ("kms:GenerateDataKey", att("RecordsKey")),
        ("kms:Decrypt", att("RecordsKey")),
        ("secretsmanager:GetSecretValue", _key({"Ref": "SubjectKeySecret"})),
        # deferred explanations: a job per pending explanation, on the SSE queue (operations key)
        ("sqs:SendMessage", att("ExplanationQueue")),
        ("kms:GenerateDataKey", att("OperationsKey")),
        ("logs:CreateLogStream", att("DecisionsFunctionLogGroup")),
        ("logs:PutLogEvents", att("DecisionsFunctionLogGroup")),
        ("xray:PutTraceSegments", _key("*")),
        ("xray:PutTelemetryRecords", _key("*")),
        ("kms:Decrypt", att("OperationsKey")),
    }


def test_no_function_may_bypass_governance_or_delete_records(cfn: dict[str, Any]) -> None:
    for role in (f"{name}Role" for name in _of_type(cfn, "AWS::Lambda::Function")):
        grants = _grants(cfn, role)
        actions = {action for action, _ in grants}
        assert "s3:BypassGovernanceRetention" not in actions, role
        assert "s3:PutBucketObjectLockConfiguration" not in actions, role
        if "s3:PutObjectLegalHold" in actions:  # the privacy officer's tool; a hold only ever keeps objects
            assert role == "PrivacyFunctionRole"
        if "s3:PutObjectRetention" in actions:
            assert role == "IntegrityFunctionRole"  # lengthens locks only; compliance mode forbids shortening
        records = _key({"Fn::GetAtt": ["RecordsTable", "Arn"]})
        assert ("dynamodb:DeleteItem", records) not in grants, role
        archive_deletes = {r for a, r in grants if a.startswith("s3:DeleteObject") and "ArchiveBucket" in r}
        assert not archive_deletes, role


@pytest.mark.parametrize("key", ["RecordsKey", "DigestSigningKey", "OperationsKey"])
def test_key_policies_name_their_actions(cfn: dict[str, Any], key: str) -> None:
    for statement in cfn["Resources"][key]["Properties"]["KeyPolicy"]["Statement"]:
        assert statement["Effect"] == "Allow"
        assert statement["Principal"] != "*" and statement["Principal"] != {"AWS": "*"}
        for action in _as_list(statement["Action"]):
            assert "*" not in action, (key, action)
        assert statement["Resource"] == "*"  # in a key policy, "*" means this key and nothing else
        if "Service" in statement["Principal"]:
            assert "Condition" in statement, (key, statement["Sid"])  # bound to this account's resources


@pytest.mark.parametrize("key", ["RecordsKey", "DigestSigningKey"])
def test_no_one_can_delete_or_disable_the_keys_records_depend_on(cfn: dict[str, Any], key: str) -> None:
    actions = {a for s in cfn["Resources"][key]["Properties"]["KeyPolicy"]["Statement"] for a in _as_list(s["Action"])}
    assert not {"kms:ScheduleKeyDeletion", "kms:DisableKey", "kms:DisableKeyRotation"} & actions


def test_resource_policies_allow_only_named_services(cfn: dict[str, Any]) -> None:
    policies = {**_of_type(cfn, "AWS::S3::BucketPolicy"), **_of_type(cfn, "AWS::SQS::QueuePolicy")}
    assert len(policies) == 9  # the failure queues (monitoring, rollups, archive copy) and the review notifications
    for name, policy in policies.items():
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]:
            if statement["Effect"] == "Deny":
                continue  # the TLS-only denials cover every action on purpose
            assert set(statement["Principal"]) == {"Service"}, name
            assert all("*" not in a for a in _as_list(statement["Action"])), name
            assert "Condition" in statement, name


# ------------------------------------------------------------------------- storage


def test_the_archive_is_locked_in_compliance_mode(cfn: dict[str, Any]) -> None:
    props = cfn["Resources"]["ArchiveBucket"]["Properties"]
    assert props["ObjectLockEnabled"] is True
    assert props["ObjectLockConfiguration"]["ObjectLockEnabled"] == "Enabled"
    retention = props["ObjectLockConfiguration"]["Rule"]["DefaultRetention"]
    assert retention["Mode"] == "COMPLIANCE"
    assert len({"Days", "Years"} & set(retention)) == 1  # S3 rejects both, and neither means no default
    assert retention.get("Days", 0) >= 183 or retention.get("Years", 0) >= 1
    assert props["VersioningConfiguration"] == {"Status": "Enabled"}
    assert "LifecycleConfiguration" not in props  # nothing expires the locked versions early


@pytest.mark.parametrize("bucket", ["ArchiveBucket", "PersonalBucket", "AccessLogsBucket"])
def test_buckets_are_private_encrypted_tls_only_and_kept(cfn: dict[str, Any], bucket: str) -> None:
    resource = cfn["Resources"][bucket]
    props = resource["Properties"]
    assert resource["DeletionPolicy"] == resource["UpdateReplacePolicy"] == "Retain"
    assert props["PublicAccessBlockConfiguration"] == {
        "BlockPublicAcls": True,
        "BlockPublicPolicy": True,
        "IgnorePublicAcls": True,
        "RestrictPublicBuckets": True,
    }
    assert props["OwnershipControls"] == {"Rules": [{"ObjectOwnership": "BucketOwnerEnforced"}]}
    assert props["VersioningConfiguration"] == {"Status": "Enabled"}
    assert props["BucketEncryption"]["ServerSideEncryptionConfiguration"]
    if bucket != "AccessLogsBucket":  # the log destination itself (checkov skip CKV_AWS_18 says why)
        assert props["LoggingConfiguration"]["DestinationBucketName"] == {"Ref": "AccessLogsBucket"}
        sse = props["BucketEncryption"]["ServerSideEncryptionConfiguration"][0]["ServerSideEncryptionByDefault"]
        assert sse == {"SSEAlgorithm": "aws:kms", "KMSMasterKeyID": {"Fn::GetAtt": ["RecordsKey", "Arn"]}}
    (policy,) = [
        p for p in _of_type(cfn, "AWS::S3::BucketPolicy").values() if p["Properties"]["Bucket"] == {"Ref": bucket}
    ]
    assert {
        "Effect": "Deny",
        "Principal": "*",
        "Action": "s3:*",
        "Resource": [{"Fn::GetAtt": [bucket, "Arn"]}, {"Fn::Sub": f"${{{bucket}.Arn}}/*"}],
        "Condition": {"Bool": {"aws:SecureTransport": "false"}},
    } in [{k: v for k, v in s.items() if k != "Sid"} for s in policy["Properties"]["PolicyDocument"]["Statement"]]


def test_tables_have_pitr_deletion_protection_cmk_and_are_kept(cfn: dict[str, Any]) -> None:
    tables = _of_type(cfn, "AWS::DynamoDB::Table")
    assert set(tables) == {"RecordsTable", "IdempotencyTable", "AppealsTable", "RollupsTable", "PendingRecordsTable"}
    for name, table in tables.items():
        props = table["Properties"]
        assert table["DeletionPolicy"] == table["UpdateReplacePolicy"] == "Retain", name
        assert props["DeletionProtectionEnabled"] is True, name
        if name != "PendingRecordsTable":  # below: no backups of items that live seconds
            assert props["PointInTimeRecoverySpecification"] == {"PointInTimeRecoveryEnabled": True}, name
        assert props["SSESpecification"] == {
            "SSEEnabled": True,
            "SSEType": "KMS",
            "KMSMasterKeyId": {"Ref": "RecordsKey"},
        }


def test_stateful_resources_are_all_retained(cfn: dict[str, Any]) -> None:
    stateful = {"AWS::DynamoDB::Table", "AWS::S3::Bucket", "AWS::KMS::Key", "AWS::SecretsManager::Secret"}
    found = {name: r for name, r in cfn["Resources"].items() if r["Type"] in stateful}
    assert len(found) == 12
    for name, resource in found.items():
        assert resource.get("DeletionPolicy") == resource.get("UpdateReplacePolicy") == "Retain", name


def test_symmetric_keys_rotate(cfn: dict[str, Any]) -> None:
    for name, key in _of_type(cfn, "AWS::KMS::Key").items():
        props = key["Properties"]
        if props["KeySpec"] == "SYMMETRIC_DEFAULT":
            assert props["EnableKeyRotation"] is True, name
        else:  # AWS cannot rotate asymmetric keys (the digest signing key; checkov skip CKV_AWS_7)
            assert "EnableKeyRotation" not in props, name


# ---------------------------------------------------------------- functions and logs


def test_functions_are_traced_bounded_and_encrypted(cfn: dict[str, Any]) -> None:
    functions = _of_type(cfn, "AWS::Lambda::Function")
    assert len(functions) == 12
    for name, function in functions.items():
        props = function["Properties"]
        assert props["TracingConfig"] == {"Mode": "Active"}, name
        assert 1 <= props["ReservedConcurrentExecutions"] <= 100, name
        assert props["KmsKeyArn"] == {"Fn::GetAtt": ["OperationsKey", "Arn"]}, name
        assert props["Runtime" if "Runtime" in props else "PackageType"] in {"python3.11", "Image"}, name
    assert functions["IntegrityFunction"]["Properties"]["ReservedConcurrentExecutions"] == 1
    assert functions["MonitoringFunction"]["Properties"]["ReservedConcurrentExecutions"] == 1  # one chain


def test_every_log_group_expires_and_is_encrypted(cfn: dict[str, Any]) -> None:
    groups = _of_type(cfn, "AWS::Logs::LogGroup")
    for name, group in groups.items():
        assert group["Properties"]["RetentionInDays"] == {"Ref": "LogRetentionDays"}, name
        assert group["Properties"]["KmsKeyId"] == {"Fn::GetAtt": ["OperationsKey", "Arn"]}, name
    named = {_key(g["Properties"].get("LogGroupName")) for g in groups.values()}
    for function in _of_type(cfn, "AWS::Lambda::Function"):
        assert _key({"Fn::Sub": f"/aws/lambda/${{{function}}}"}) in named, function
    for api in ("Api", "CustomerApi"):  # else API Gateway creates them itself, kept forever
        assert _key({"Fn::Sub": f"API-Gateway-Execution-Logs_${{{api}}}/prod"}) in named, api


@pytest.mark.parametrize("job", ["Integrity", "Monitoring"])
def test_failed_scheduled_runs_land_in_a_queue(cfn: dict[str, Any], job: str) -> None:
    queue = {"Fn::GetAtt": [f"{job}FailureQueue", "Arn"]}
    configs = _of_type(cfn, "AWS::Lambda::EventInvokeConfig").values()
    (config,) = [c for c in configs if c["Properties"]["FunctionName"] == {"Ref": f"{job}Function"}]
    assert config["Properties"]["DestinationConfig"]["OnFailure"]["Destination"] == queue
    rules = _of_type(cfn, "AWS::Events::Rule")
    (target,) = rules[f"{job}FunctionHourly"]["Properties"]["Targets"]
    assert target["DeadLetterConfig"] == {"Arn": queue}
    assert ("sqs:SendMessage", _key(queue)) in _grants(cfn, f"{job}FunctionRole")
    assert cfn["Resources"][f"{job}FailureQueue"]["Properties"]["KmsMasterKeyId"] == {"Ref": "OperationsKey"}


def test_bucket_listings_are_few_and_scoped_to_their_prefixes(cfn: dict[str, Any]) -> None:
    # S3 answers a read of an absent key 404 only to a role that may list it (403 otherwise), so a
    # listing is granted where a function must tell "not there" from "refused", and only there
    # (docs/security.md): never the personal bucket's keys, nor the erasure receipts'.
    listings: dict[str, tuple[Any, set[str]]] = {}
    for name, statement in _identity_statements(cfn):
        actions = set(_as_list(statement["Action"]))
        if not actions & {"s3:ListBucket", "s3:ListBucketVersions"}:
            continue
        if actions == {"s3:ListBucketVersions"}:  # erasure deletes every version of one personal part
            assert (name, statement["Resource"]) == ("PrivacyFunctionRole", {"Fn::GetAtt": ["PersonalBucket", "Arn"]})
            continue
        assert actions == {"s3:ListBucket"}, (name, statement)
        assert set(statement["Condition"]) == {"StringLike"}, (name, statement)
        prefixes = {
            p if isinstance(p, str) else _key(p) for p in _as_list(statement["Condition"]["StringLike"]["s3:prefix"])
        }
        listings[name] = (statement["Resource"], prefixes)
    archive = {"Fn::GetAtt": ["ArchiveBucket", "Arn"]}
    assert listings == {
        "IntegrityFunctionRole": (archive, {"digests/*"}),  # the newest digest, where the chain goes on
        # undigested windows, deleted envelopes and sealed reviews
        "AuditFunctionRole": (archive, {"digests/*", "records/*", "reviews/*", "monitoring/*"}),  # + model reports
        "MonitoringFunctionRole": (archive, {"monitoring/*"}),  # the newest report, where its chain goes on
        # The functions that read models list the deploy-time model folders (the registry finds them so).
        "ModelsBucketReadPolicy": (
            {"Fn::Sub": "arn:${AWS::Partition}:s3:::${ModelsBucket}"},
            {_key({"Fn::Sub": "${ModelsPrefix}/*"})},
        ),
    }


def test_the_explanation_worker_completes_records_and_nothing_more(cfn: dict[str, Any]) -> None:
    att = lambda logical_id: _key({"Fn::GetAtt": [logical_id, "Arn"]})  # noqa: E731
    sub = lambda text: _key({"Fn::Sub": text})  # noqa: E731
    assert _grants(cfn, "ExplanationWorkerFunctionRole") == {
        ("sqs:ReceiveMessage", att("ExplanationQueue")),
        ("sqs:DeleteMessage", att("ExplanationQueue")),
        ("sqs:GetQueueAttributes", att("ExplanationQueue")),
        ("dynamodb:GetItem", att("RecordsTable")),
        ("dynamodb:GetItem", att("PendingRecordsTable")),  # a record not copied to the archive yet
        ("dynamodb:UpdateItem", att("RecordsTable")),  # conditioned below: completion attributes only
        ("s3:GetObject", sub("${ArchiveBucket.Arn}/records/*")),
        ("s3:GetObject", sub("${ArchiveBucket.Arn}/completions/*")),
        ("s3:GetObject", sub("${PersonalBucket.Arn}/personal/*")),
        ("s3:PutObject", sub("${ArchiveBucket.Arn}/completions/*")),  # never records/*: envelopes stay as sealed
        ("kms:GenerateDataKey", att("RecordsKey")),
        ("kms:Decrypt", att("RecordsKey")),
        ("logs:CreateLogStream", att("ExplanationWorkerFunctionLogGroup")),
        ("logs:PutLogEvents", att("ExplanationWorkerFunctionLogGroup")),
        ("xray:PutTraceSegments", _key("*")),
        ("xray:PutTelemetryRecords", _key("*")),
        ("kms:Decrypt", att("OperationsKey")),
    }
    (policy,) = cfn["Resources"]["ExplanationWorkerFunctionRole"]["Properties"]["Policies"]
    (update,) = [s for s in policy["PolicyDocument"]["Statement"] if s["Action"] == "dynamodb:UpdateItem"]
    assert update["Condition"] == {
        "ForAllValues:StringEquals": {
            "dynamodb:Attributes": [
                "decision_id",
                "completion_key",
                "completion_sha256",
                "completed_at",
                "explanation_status",
                "attributions",
            ]
        }
    }


def test_the_worker_takes_jobs_from_an_encrypted_queue_with_a_dead_letter_queue(cfn: dict[str, Any]) -> None:
    resources = cfn["Resources"]
    (mapping,) = (
        m
        for m in _of_type(cfn, "AWS::Lambda::EventSourceMapping").values()
        if m["Properties"]["FunctionName"] == {"Ref": "ExplanationWorkerFunction"}
    )
    props = mapping["Properties"]
    assert props["EventSourceArn"] == {"Fn::GetAtt": ["ExplanationQueue", "Arn"]}
    assert props["FunctionResponseTypes"] == ["ReportBatchItemFailures"]  # only failed jobs come back
    assert 1 <= props["BatchSize"] <= 10
    worker = resources["ExplanationWorkerFunction"]["Properties"]
    assert props["ScalingConfig"]["MaximumConcurrency"] <= worker["ReservedConcurrentExecutions"]

    queue = resources["ExplanationQueue"]["Properties"]
    assert queue["VisibilityTimeout"] >= 6 * worker["Timeout"]  # AWS's advice for Lambda event sources
    assert queue["RedrivePolicy"] == {
        "deadLetterTargetArn": {"Fn::GetAtt": ["ExplanationDeadLetterQueue", "Arn"]},
        "maxReceiveCount": 5,
    }
    for name in ("ExplanationQueue", "ExplanationDeadLetterQueue"):
        assert resources[name]["Properties"]["KmsMasterKeyId"] == {"Ref": "OperationsKey"}, name
    dead_letters = resources["ExplanationDeadLetterQueue"]["Properties"]
    assert dead_letters["MessageRetentionPeriod"] > queue["MessageRetentionPeriod"]  # a job outlives its move

    decisions = resources["DecisionsFunction"]["Properties"]
    assert decisions["Environment"]["Variables"]["CANDOR_EXPLANATION_QUEUE_URL"] == {"Ref": "ExplanationQueue"}
    # The same image as the decisions function (the model libraries and loaders), another entry point.
    assert worker["PackageType"] == "Image"
    source = tpl.load_template()["Resources"]
    build = {"Dockerfile", "DockerContext", "DockerTag"}
    worker_build, decisions_build = (
        {k: v for k, v in source[f]["Metadata"].items() if k in build}
        for f in ("ExplanationWorkerFunction", "DecisionsFunction")
    )
    assert worker_build == decisions_build and set(worker_build) == build
    assert worker["ImageConfig"]["Command"] == ["functions.handlers.explanation_worker.lambda_handler"]


# ------------------------------------------------------------------------------ alarms


def _alarms(cfn: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {name: a["Properties"] for name, a in _of_type(cfn, "AWS::CloudWatch::Alarm").items()}


def test_every_alarm_notifies_the_encrypted_topic(cfn: dict[str, Any]) -> None:
    alarms = _alarms(cfn)
    assert len(alarms) >= 5
    for name, alarm in alarms.items():
        assert alarm["AlarmActions"] == [{"Ref": "AlarmTopic"}], name
    assert cfn["Resources"]["AlarmTopic"]["Properties"]["KmsMasterKeyId"] == {"Ref": "OperationsKey"}


@pytest.mark.parametrize("api", ["Api", "CustomerApi"])
def test_5xx_of_each_api_is_alarmed(cfn: dict[str, Any], api: str) -> None:
    name = cfn["Resources"][api]["Properties"]["Name"]
    dimensions = [
        a["Dimensions"]
        for a in _alarms(cfn).values()
        if a.get("Namespace") == "AWS/ApiGateway" and a.get("MetricName") == "5XXError"
    ]
    assert [{"Name": "ApiName", "Value": name}, {"Name": "Stage", "Value": "prod"}] in dimensions


def test_throttles_of_every_function_are_alarmed(cfn: dict[str, Any]) -> None:
    watched = {
        m["MetricStat"]["Metric"]["Dimensions"][0]["Value"]["Ref"]
        for a in _alarms(cfn).values()
        for m in a.get("Metrics", [])
        if "MetricStat" in m and m["MetricStat"]["Metric"]["MetricName"] == "Throttles"
    }
    assert watched == set(_of_type(cfn, "AWS::Lambda::Function"))


def test_queue_depth_and_integrity_failures_are_alarmed(cfn: dict[str, Any]) -> None:
    alarms = list(_alarms(cfn).values())
    for queue in _of_type(cfn, "AWS::SQS::Queue"):
        # Dead-letter ends alarm on any message; the work queues on their oldest message's age (jobs are normal there).
        work_queues = ("ExplanationQueue", "ReviewNotificationQueue")
        metric = "ApproximateAgeOfOldestMessage" if queue in work_queues else "ApproximateNumberOfMessagesVisible"
        assert any(
            a.get("MetricName") == metric
            and a["Dimensions"] == [{"Name": "QueueName", "Value": {"Fn::GetAtt": [queue, "QueueName"]}}]
            for a in alarms
        ), queue
    assert any(
        a.get("MetricName") == "Errors"
        and a["Dimensions"] == [{"Name": "FunctionName", "Value": {"Ref": "IntegrityFunction"}}]
        for a in alarms
    )


# ------------------------------------------------------------------ tool suppressions


def test_every_checkov_skip_is_justified() -> None:
    # checkov reads `Metadata.checkov.skip` on the template as written; each skip says why.
    skips = [
        (name, skip)
        for name, resource in tpl.load_template()["Resources"].items()
        for skip in ((resource.get("Metadata") or {}).get("checkov") or {}).get("skip", [])
    ]
    assert skips
    for name, skip in skips:
        assert skip["id"].startswith("CKV_AWS_"), name
        assert len(skip.get("comment", "").split()) >= 8, (name, skip["id"])  # a reason, not a shrug
    # No blanket or suppressed-everywhere checks: each function states its own.
    assert {skip["id"] for _, skip in skips} == {
        "CKV_AWS_7", "CKV_AWS_18", "CKV_AWS_116", "CKV_AWS_117", "CKV_AWS_120",
        "CKV_AWS_28",  # PendingRecordsTable only: no PITR of items that live seconds and hold erasable data
    }  # fmt: skip
    assert [name for name, skip in skips if skip["id"] == "CKV_AWS_28"] == ["PendingRecordsTable"]


def test_remote_models_are_callable_only_when_named_at_deploy_time(cfn):
    policies = _of_type(cfn, "AWS::IAM::ManagedPolicy")
    for name, condition, actions in [
        ("RemoteModelsPolicy", "HasRemoteModels", {"sagemaker:InvokeEndpoint", "lambda:InvokeFunction"}),
        ("RemoteModelSecretsPolicy", "HasRemoteModelSecrets", {"secretsmanager:GetSecretValue", "ssm:GetParameter"}),
    ]:
        policy = policies[name]
        assert policy["Condition"] == condition  # no models named: no permission at all
        roles = {_key(role) for role in policy["Properties"]["Roles"]}
        assert roles == {_key({"Ref": "DecisionsFunctionRole"}), _key({"Ref": "ExplanationWorkerFunctionRole"})}
        # (RemoteModelsPolicy's second statement: the listed functions' versions and aliases, <arn>:*.)
        statement = policy["Properties"]["PolicyDocument"]["Statement"][0]
        assert set(statement["Action"]) == actions and "*" not in _key(statement["Resource"])


def test_the_rollup_function_reads_both_streams_with_retries_bisection_and_an_alarmed_failure_queue(
    cfn: dict[str, Any],
) -> None:
    resources = cfn["Resources"]
    mappings = {
        m["Properties"]["EventSourceArn"]["Fn::GetAtt"][0]: m["Properties"]
        for m in _of_type(cfn, "AWS::Lambda::EventSourceMapping").values()
        if m["Properties"]["FunctionName"] == {"Ref": "RollupFunction"}
    }
    assert set(mappings) == {"RecordsTable", "AppealsTable"}
    for props in mappings.values():
        assert props["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
        assert props["BisectBatchOnFunctionError"] is True
        assert props["MaximumRetryAttempts"] > 0 and props["MaximumRecordAgeInSeconds"] <= 86400
        assert props["DestinationConfig"]["OnFailure"]["Destination"] == {"Fn::GetAtt": ["RollupFailureQueue", "Arn"]}
        assert props["FilterCriteria"]["Filters"]
    assert resources["RecordsTable"]["Properties"]["StreamSpecification"] == {"StreamViewType": "NEW_AND_OLD_IMAGES"}
    assert resources["RollupFailureQueue"]["Properties"]["KmsMasterKeyId"] == {"Ref": "OperationsKey"}
    alarm = resources["RollupFailureQueueDepthAlarm"]["Properties"]
    assert alarm["Dimensions"][0]["Value"] == {"Fn::GetAtt": ["RollupFailureQueue", "QueueName"]}
    assert resources["RollupIteratorAgeAlarm"]["Properties"]["MetricName"] == "IteratorAge"
    # The role: the two streams, the rollups table (Put of markers, ADDs), nothing of the records themselves.
    statements = resources["RollupFunctionRole"]["Properties"]["Policies"][0]["PolicyDocument"]["Statement"]
    granted = {a for s in statements for a in _as_list(s["Action"])}
    assert granted == {
        "dynamodb:DescribeStream", "dynamodb:GetRecords", "dynamodb:GetShardIterator", "dynamodb:ListStreams",
        "dynamodb:PutItem", "dynamodb:UpdateItem", "kms:Decrypt", "kms:GenerateDataKey", "sqs:SendMessage",
    }  # fmt: skip
    writes = next(s for s in statements if s["Sid"] == "CountOnce")
    assert writes["Resource"] == {"Fn::GetAtt": ["RollupsTable", "Arn"]}


def test_the_pending_table_keeps_no_personal_data_longer_than_the_copy(cfn: dict[str, Any]) -> None:
    props = cfn["Resources"]["PendingRecordsTable"]["Properties"]
    assert props["StreamSpecification"] == {"StreamViewType": "KEYS_ONLY"}  # no item images in the stream
    assert "PointInTimeRecoverySpecification" not in props  # no backups: an erased part must not be restorable
    assert "TimeToLiveSpecification" not in props  # a pending item never vanishes uncopied
    assert props["SSESpecification"]["KMSMasterKeyId"] == {"Ref": "RecordsKey"}


def test_the_archive_copier_reads_its_stream_with_retries_bisection_and_an_alarmed_failure_queue(
    cfn: dict[str, Any],
) -> None:
    att = lambda logical_id: _key({"Fn::GetAtt": [logical_id, "Arn"]})  # noqa: E731
    sub = lambda text: _key({"Fn::Sub": text})  # noqa: E731
    resources = cfn["Resources"]
    (props,) = (
        m["Properties"]
        for m in _of_type(cfn, "AWS::Lambda::EventSourceMapping").values()
        if m["Properties"]["FunctionName"] == {"Ref": "ArchiveCopyFunction"}
    )
    assert props["EventSourceArn"] == {"Fn::GetAtt": ["PendingRecordsTable", "StreamArn"]}
    assert props["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    assert props["BisectBatchOnFunctionError"] is True
    assert props["MaximumRetryAttempts"] > 0 and props["MaximumRecordAgeInSeconds"] <= 86400
    assert props["DestinationConfig"]["OnFailure"]["Destination"] == {"Fn::GetAtt": ["ArchiveCopyFailureQueue", "Arn"]}
    alarm = resources["ArchiveCopyFailureQueueDepthAlarm"]["Properties"]
    assert alarm["Dimensions"][0]["Value"] == {"Fn::GetAtt": ["ArchiveCopyFailureQueue", "QueueName"]}
    assert resources["ArchiveCopyIteratorAgeAlarm"]["Properties"]["MetricName"] == "IteratorAge"
    assert _grants(cfn, "ArchiveCopyFunctionRole") == {
        ("dynamodb:DescribeStream", _key({"Fn::GetAtt": ["PendingRecordsTable", "StreamArn"]})),
        ("dynamodb:GetRecords", _key({"Fn::GetAtt": ["PendingRecordsTable", "StreamArn"]})),
        ("dynamodb:GetShardIterator", _key({"Fn::GetAtt": ["PendingRecordsTable", "StreamArn"]})),
        ("dynamodb:ListStreams", _key("*")),
        ("dynamodb:GetItem", att("PendingRecordsTable")),
        ("dynamodb:DeleteItem", att("PendingRecordsTable")),
        # new objects only, compared on a redelivery; no retention, legal-hold or archive delete
        ("s3:PutObject", sub("${ArchiveBucket.Arn}/records/*")),
        ("s3:PutObject", sub("${PersonalBucket.Arn}/personal/*")),
        ("s3:GetObject", sub("${ArchiveBucket.Arn}/records/*")),
        ("s3:GetObject", sub("${PersonalBucket.Arn}/personal/*")),
        ("s3:DeleteObjectVersion", sub("${PersonalBucket.Arn}/personal/*")),  # the copy an erasure raced
        ("kms:GenerateDataKey", att("RecordsKey")),
        ("kms:Decrypt", att("RecordsKey")),
        ("sqs:SendMessage", att("ArchiveCopyFailureQueue")),
        ("kms:GenerateDataKey", att("OperationsKey")),
        ("kms:Decrypt", att("OperationsKey")),
        ("logs:CreateLogStream", att("ArchiveCopyFunctionLogGroup")),
        ("logs:PutLogEvents", att("ArchiveCopyFunctionLogGroup")),
        ("xray:PutTraceSegments", _key("*")),
        ("xray:PutTelemetryRecords", _key("*")),
    }


def test_the_review_webhook_is_off_by_default_and_fed_by_an_encrypted_queue(cfn: dict[str, Any]) -> None:
    resources = cfn["Resources"]
    (mapping,) = (
        m
        for m in _of_type(cfn, "AWS::Lambda::EventSourceMapping").values()
        if m["Properties"]["FunctionName"] == {"Ref": "ReviewWebhookFunction"}
    )
    assert mapping["Properties"]["EventSourceArn"] == {"Fn::GetAtt": ["ReviewNotificationQueue", "Arn"]}
    assert mapping["Properties"]["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    webhook = resources["ReviewWebhookFunction"]["Properties"]
    queue = resources["ReviewNotificationQueue"]["Properties"]
    assert queue["VisibilityTimeout"] >= 6 * webhook["Timeout"]
    assert queue["RedrivePolicy"]["deadLetterTargetArn"] == {"Fn::GetAtt": ["ReviewNotificationDeadLetterQueue", "Arn"]}
    for name in ("ReviewNotificationQueue", "ReviewNotificationDeadLetterQueue"):
        assert resources[name]["Properties"]["KmsMasterKeyId"] == {"Ref": "OperationsKey"}, name
    # Off unless the operator names a URL: the review function then gets no queue to send to.
    variables = resources["ReviewFunction"]["Properties"]["Environment"]["Variables"]
    assert variables["CANDOR_REVIEW_NOTIFICATION_QUEUE_URL"] == {
        "Fn::If": ["HasReviewWebhook", {"Ref": "ReviewNotificationQueue"}, ""]
    }
    assert cfn["Parameters"]["ReviewWebhookUrl"]["Default"] == ""
    # The signing secret is readable by the webhook function only, and only once it is named.
    secret_policy = resources["ReviewWebhookSecretPolicy"]
    assert secret_policy["Condition"] == "HasReviewWebhookSecret"
    assert secret_policy["Properties"]["Roles"] == [{"Ref": "ReviewWebhookFunctionRole"}]
