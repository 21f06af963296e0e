"""What IAM authorizes for one AWS SDK call: its actions, resource ARNs and condition keys.

    iam_requests("s3", "PutObject", {"Bucket": "b", "Key": "k", ...}, region, account)
    -> [IamRequest(action="s3:PutObject", resource="arn:aws:s3:::b/k", context={...})]

Each supported operation maps to what the service's authorization reference documents: a
GetObject with a VersionId is `s3:GetObjectVersion`, a HeadObject is `s3:GetObject`, a listing is
`s3:ListBucket` on the bucket with `s3:prefix`, a Query on an index is authorized on
`table/<name>/index/<index>`, a TransactWriteItems is one PutItem/UpdateItem/DeleteItem/
ConditionCheckItem per item, a Lambda Invoke with a Qualifier is authorized on the qualified ARN.
An operation this module does not know maps to `<service>:<Operation>` on `*` with `mapped=False`,
which the IAM check reports as an error: a new kind of call must be taught here, not guessed.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlparse


@dataclass(frozen=True)
class IamRequest:
    """One authorization request: what IAM evaluates for (part of) an SDK call."""

    action: str
    resource: str
    context: Mapping[str, str | tuple[str, ...]] = field(default_factory=dict)
    mapped: bool = True

    def key(self) -> tuple[str, str, tuple[tuple[str, Any], ...]]:
        return self.action, self.resource, tuple(sorted(self.context.items()))


_FUNCTION_OR_VALUE = re.compile(r"[A-Za-z_]\w*\s*\(|:\w+|\.#?\w+")  # f(...), :values, .nested
_TOKEN = re.compile(r"#?[A-Za-z_]\w*")
_KEYWORDS = {"SET", "REMOVE", "ADD", "DELETE", "AND", "OR", "NOT", "BETWEEN", "IN"}


def _table(region: str, account: str, name: str) -> str:
    if name.startswith("arn:"):
        return name
    return f"arn:aws:dynamodb:{region}:{account}:table/{name}"


def _updated_attributes(params: Mapping[str, Any]) -> tuple[str, ...]:
    """`dynamodb:Attributes` of an update: the key's attributes and every top-level one its expressions name."""
    names = dict(params.get("ExpressionAttributeNames") or {})
    found = {str(name) for name in (params.get("Key") or {})}
    found.update(str(name) for name in (params.get("AttributeUpdates") or {}))
    for expression in (params.get("UpdateExpression"), params.get("ConditionExpression")):
        for token in _TOKEN.findall(_FUNCTION_OR_VALUE.sub(" ", str(expression or ""))):
            if token.upper() in _KEYWORDS:
                continue
            found.add(str(names.get(token, token)))
    return tuple(sorted(found))


def _dynamodb(operation: str, params: Mapping[str, Any], region: str, account: str) -> list[IamRequest]:
    if operation in {"BatchGetItem", "BatchWriteItem"}:
        return [
            IamRequest(f"dynamodb:{operation}", _table(region, account, t)) for t in (params.get("RequestItems") or {})
        ]
    if operation in {"TransactWriteItems", "TransactGetItems"}:
        kinds = {
            "Put": "PutItem",
            "Update": "UpdateItem",
            "Delete": "DeleteItem",
            "ConditionCheck": "ConditionCheckItem",
        }
        kinds["Get"] = "GetItem"
        found = []
        for item in params.get("TransactItems") or []:
            for kind, body in item.items():
                context = {"dynamodb:Attributes": _updated_attributes(body)} if kind == "Update" else {}
                found.append(IamRequest(f"dynamodb:{kinds[kind]}", _table(region, account, body["TableName"]), context))
        return found
    table = str(params.get("TableName", "*"))
    resource = _table(region, account, table)
    if params.get("IndexName"):
        resource = f"{resource}/index/{params['IndexName']}"
    context = {"dynamodb:Attributes": _updated_attributes(params)} if operation == "UpdateItem" else {}
    return [IamRequest(f"dynamodb:{operation}", resource, context)]


_S3_OBJECT_ACTIONS = {
    "GetObject": "s3:GetObject",
    "HeadObject": "s3:GetObject",
    "PutObject": "s3:PutObject",
    "DeleteObject": "s3:DeleteObject",
    "PutObjectRetention": "s3:PutObjectRetention",
    "GetObjectRetention": "s3:GetObjectRetention",
    "PutObjectLegalHold": "s3:PutObjectLegalHold",
    "GetObjectLegalHold": "s3:GetObjectLegalHold",
}
# With a VersionId these act on one version: a different action (GetObjectVersion, DeleteObjectVersion ...).
_S3_VERSIONED = {"GetObject", "HeadObject", "DeleteObject", "GetObjectRetention", "GetObjectLegalHold"}
_S3_BUCKET_ACTIONS = {
    "ListObjects": "s3:ListBucket",
    "ListObjectsV2": "s3:ListBucket",
    "ListObjectVersions": "s3:ListBucketVersions",
}


def _s3(operation: str, params: Mapping[str, Any]) -> list[IamRequest]:
    bucket = str(params.get("Bucket", "*"))
    if operation in _S3_BUCKET_ACTIONS:
        prefix = {"s3:prefix": str(params["Prefix"])} if params.get("Prefix") is not None else {}
        return [IamRequest(_S3_BUCKET_ACTIONS[operation], f"arn:aws:s3:::{bucket}", prefix)]
    if operation == "DeleteObjects":
        found = []
        for entry in (params.get("Delete") or {}).get("Objects") or []:
            found.extend(_s3("DeleteObject", {"Bucket": bucket, **entry}))
        return found
    if operation not in _S3_OBJECT_ACTIONS:
        return [IamRequest(f"s3:{operation}", "*", mapped=False)]
    action = _S3_OBJECT_ACTIONS[operation]
    if operation in _S3_VERSIONED and params.get("VersionId"):
        action = action.replace("Object", "ObjectVersion", 1)
    resource = f"arn:aws:s3:::{bucket}/{params.get('Key', '')}"
    context: dict[str, str | tuple[str, ...]] = {}
    if operation == "PutObject":
        if params.get("ServerSideEncryption"):
            context["s3:x-amz-server-side-encryption"] = str(params["ServerSideEncryption"])
        if params.get("SSEKMSKeyId"):
            context["s3:x-amz-server-side-encryption-aws-kms-key-id"] = str(params["SSEKMSKeyId"])
        if params.get("ObjectLockMode"):
            context["s3:object-lock-mode"] = str(params["ObjectLockMode"])
    found = [IamRequest(action, resource, context)]
    if operation == "PutObject" and (params.get("ObjectLockMode") or params.get("ObjectLockRetainUntilDate")):
        found.append(IamRequest("s3:PutObjectRetention", resource))  # S3 requires both to lock on write
    if operation == "PutObject" and params.get("ObjectLockLegalHoldStatus"):
        found.append(IamRequest("s3:PutObjectLegalHold", resource))
    if operation in {"PutObjectRetention", "DeleteObject"} and params.get("BypassGovernanceRetention"):
        found.append(IamRequest("s3:BypassGovernanceRetention", resource))
    return found


def kms_key_arn(key_id: str, region: str, account: str) -> str:
    """The ARN IAM authorizes for a KeyId given as an ARN, a key id or an alias (aliases resolve to their key)."""
    if key_id.startswith("arn:"):
        return key_id
    if key_id.startswith("alias/"):
        return f"arn:aws:kms:{region}:{account}:{key_id}"
    return f"arn:aws:kms:{region}:{account}:key/{key_id}"


def _kms(operation: str, params: Mapping[str, Any], region: str, account: str) -> list[IamRequest]:
    context: dict[str, str | tuple[str, ...]] = {
        f"kms:EncryptionContext:{k}": str(v) for k, v in (params.get("EncryptionContext") or {}).items()
    }
    if params.get("SigningAlgorithm"):
        context["kms:SigningAlgorithm"] = str(params["SigningAlgorithm"])
    key = str(params.get("KeyId", "*"))
    return [IamRequest(f"kms:{operation}", kms_key_arn(key, region, account) if key != "*" else "*", context)]


def queue_arn(url: str) -> str:
    """`https://sqs.<region>.amazonaws.com/<account>/<name>` (or a local endpoint's) as the queue's ARN."""
    parts = urlparse(url)
    account, name = parts.path.strip("/").split("/")[-2:]
    host = parts.hostname or ""
    region = host.split(".")[1] if host.startswith("sqs.") else "eu-west-1"
    return f"arn:aws:sqs:{region}:{account}:{name}"


def _lambda(operation: str, params: Mapping[str, Any], region: str, account: str) -> list[IamRequest]:
    if operation not in {"Invoke", "InvokeAsync", "InvokeWithResponseStream"}:
        return [IamRequest(f"lambda:{operation}", "*", mapped=False)]
    name = str(params.get("FunctionName", ""))
    arn = name if name.startswith("arn:") else f"arn:aws:lambda:{region}:{account}:function:{name}"
    if params.get("Qualifier") and arn.count(":") == 6:  # an unqualified function ARN has 7 parts
        arn = f"{arn}:{params['Qualifier']}"
    return [IamRequest("lambda:InvokeFunction", arn)]


def _secret_arn(secret_id: str, region: str, account: str) -> str:
    # IAM authorizes a secret by its full ARN (name plus AWS's 6-character suffix); asked by name, "-??????" stands in.
    return (
        secret_id
        if secret_id.startswith("arn:")
        else f"arn:aws:secretsmanager:{region}:{account}:secret:{secret_id}-??????"
    )


def iam_requests(
    service: str, operation: str, params: Mapping[str, Any], region: str, account: str
) -> list[IamRequest]:
    """The authorization requests one SDK call makes (botocore's service id, operation name and parameters)."""
    if service == "dynamodb":
        return _dynamodb(operation, params, region, account)
    if service == "s3":
        return _s3(operation, params)
    if service == "kms":
        return _kms(operation, params, region, account)
    if service == "sqs" and "QueueUrl" in params:
        return [IamRequest(f"sqs:{operation}", queue_arn(str(params["QueueUrl"])))]
    if service == "sqs" and operation == "GetQueueUrl":
        return [IamRequest("sqs:GetQueueUrl", f"arn:aws:sqs:{region}:{account}:{params.get('QueueName', '')}")]
    if service == "lambda":
        return _lambda(operation, params, region, account)
    if service == "sagemaker-runtime" and "EndpointName" in params:
        action = {"InvokeEndpoint": "InvokeEndpoint"}.get(operation, operation)
        endpoint = str(params["EndpointName"]).lower()  # SageMaker ARNs are lower case
        return [IamRequest(f"sagemaker:{action}", f"arn:aws:sagemaker:{region}:{account}:endpoint/{endpoint}")]
    if service == "secretsmanager" and "SecretId" in params:
        return [IamRequest(f"secretsmanager:{operation}", _secret_arn(str(params["SecretId"]), region, account))]
    if service == "ssm" and "Name" in params:
        name = str(params["Name"])
        resource = name if name.startswith("arn:") else f"arn:aws:ssm:{region}:{account}:parameter/{name.lstrip('/')}"
        return [IamRequest(f"ssm:{operation}", resource)]
    return [IamRequest(f"{service}:{operation}", "*", mapped=False)]
