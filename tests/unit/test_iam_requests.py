"""SDK calls become the IAM requests AWS's authorization reference documents (infra/iam/actions.py)."""

from infra.iam.actions import iam_requests

R, A = "eu-west-1", "123456789012"


def _one(service, operation, params):
    (request,) = iam_requests(service, operation, params, R, A)
    return request


def test_s3_reads_lists_and_versions():
    assert _one("s3", "HeadObject", {"Bucket": "b", "Key": "k/1"}).action == "s3:GetObject"
    assert _one("s3", "GetObject", {"Bucket": "b", "Key": "k", "VersionId": "v"}).action == "s3:GetObjectVersion"
    listing = _one("s3", "ListObjectsV2", {"Bucket": "b", "Prefix": "digests/"})
    assert (listing.action, listing.resource, dict(listing.context)) == (
        "s3:ListBucket",
        "arn:aws:s3:::b",
        {"s3:prefix": "digests/"},
    )
    deletes = iam_requests(
        "s3", "DeleteObjects", {"Bucket": "b", "Delete": {"Objects": [{"Key": "k", "VersionId": "v"}]}}, R, A
    )
    assert [d.action for d in deletes] == ["s3:DeleteObjectVersion"]


def test_a_locked_put_needs_retention_too_and_carries_its_encryption():
    put, retention = iam_requests(
        "s3",
        "PutObject",
        {
            "Bucket": "b",
            "Key": "k",
            "ServerSideEncryption": "aws:kms",
            "SSEKMSKeyId": "arn:k",
            "ObjectLockMode": "COMPLIANCE",
        },
        R,
        A,
    )
    assert put.context["s3:x-amz-server-side-encryption-aws-kms-key-id"] == "arn:k"
    assert retention.action == "s3:PutObjectRetention"


def test_dynamodb_indexes_transactions_and_updated_attributes():
    query = _one("dynamodb", "Query", {"TableName": "t", "IndexName": "by_day"})
    assert query.resource == f"arn:aws:dynamodb:{R}:{A}:table/t/index/by_day"
    items = iam_requests(
        "dynamodb",
        "TransactWriteItems",
        {"TransactItems": [{"Put": {"TableName": "t"}}, {"ConditionCheck": {"TableName": "u"}}]},
        R,
        A,
    )
    assert [i.action for i in items] == ["dynamodb:PutItem", "dynamodb:ConditionCheckItem"]
    update = _one(
        "dynamodb",
        "UpdateItem",
        {
            "TableName": "t",
            "Key": {"decision_id": {"S": "x"}},
            "UpdateExpression": "SET #k = :k, completed_at = if_not_exists(completed_at, :c)",
            "ConditionExpression": "attribute_exists(decision_id)",
            "ExpressionAttributeNames": {"#k": "completion_key"},
        },
    )
    assert update.context["dynamodb:Attributes"] == ("completed_at", "completion_key", "decision_id")


def test_a_qualified_lambda_invoke_is_authorized_on_the_qualified_arn():
    assert _one("lambda", "Invoke", {"FunctionName": "f", "Qualifier": "live"}).resource.endswith(":function:f:live")
    assert _one("lambda", "Invoke", {"FunctionName": "f"}).resource.endswith(":function:f")


def test_an_unknown_operation_is_reported_unmapped():
    assert not _one("sts", "GetCallerIdentity", {}).mapped
