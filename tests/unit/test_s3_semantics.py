"""The S3 semantics hook: AWS's 403 for absent keys and refused listings, from the roles' policies.

A fake answers in S3's place as moto does (404 for an absent key); the hook sits on the client's
events either way. The last tests read the real template.yaml.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator
from typing import Any
from urllib.parse import unquote

import boto3
import pytest
from botocore.awsrequest import AWSResponse
from botocore.exceptions import ClientError

from infra import template as tpl
from infra.iam.policies import Policies, function_statements, resolver
from infra.local.invocation import current_function, running
from infra.local.s3_semantics import S3Semantics, attach, installed

BUCKET = "candor-archive"  # the local name of ArchiveBucket


def _role(*statements: dict[str, Any]) -> dict[str, Any]:
    return {
        "Type": "AWS::IAM::Role",
        "Properties": {"Policies": [{"PolicyName": "p", "PolicyDocument": {"Statement": list(statements)}}]},
    }


def _function(role: str) -> dict[str, Any]:
    return {"Type": "AWS::Serverless::Function", "Properties": {"Role": {"Fn::GetAtt": [role, "Arn"]}}}


READ = {"Effect": "Allow", "Action": "s3:GetObject", "Resource": {"Fn::Sub": "${ArchiveBucket.Arn}/*"}}
LIST_RECORDS = {
    "Effect": "Allow",
    "Action": "s3:ListBucket",
    "Resource": {"Fn::GetAtt": ["ArchiveBucket", "Arn"]},
    "Condition": {"StringLike": {"s3:prefix": ["records/*", "digests/*"]}},
}
DOCUMENT: dict[str, Any] = {
    "Resources": {
        "ArchiveBucket": {"Type": "AWS::S3::Bucket", "Properties": {}},
        "ReaderRole": _role(READ),
        "ListerRole": _role(READ, LIST_RECORDS),
        "DeniedRole": _role(
            READ,
            {**LIST_RECORDS, "Condition": {}},
            {"Effect": "Deny", "Action": "s3:List*", "Resource": {"Fn::Sub": "${ArchiveBucket.Arn}"}},
        ),
        "OtherPolicy": {  # a managed policy naming its role gives that role its statements too
            "Type": "AWS::IAM::ManagedPolicy",
            "Properties": {
                "Roles": [{"Ref": "VersionsRole"}],
                "PolicyDocument": {
                    "Statement": [{"Effect": "Allow", "Action": "s3:ListBucketVersions", "Resource": "*"}]
                },
            },
        },
        "VersionsRole": _role(READ),
        "Reader": _function("ReaderRole"),
        "Lister": _function("ListerRole"),
        "Denied": _function("DeniedRole"),
        "Versions": _function("VersionsRole"),
    }
}


class FakeS3:
    """Answers a client's calls in S3's place, as moto does (404 for an absent key), and records them."""

    def __init__(self, client: Any, present: frozenset[str] = frozenset()) -> None:
        self.calls: list[str] = []
        self.present = present  # keys that exist, in any bucket
        client.meta.events.register("before-call.s3", self.answer)

    def answer(self, model: Any, params: dict[str, Any], **_: Any) -> tuple[AWSResponse, dict[str, Any]]:
        self.calls.append(model.name)
        path = unquote(params["url_path"])
        if model.name in {"GetObject", "HeadObject"} and not any(path.endswith(key) for key in self.present):
            code = "NoSuchKey" if model.name == "GetObject" else "404"
            error = {"Error": {"Code": code, "Message": "Not Found"}, "ResponseMetadata": {"HTTPStatusCode": 404}}
            return AWSResponse("https://s3.test", 404, {}, None), error
        return AWSResponse("https://s3.test", 200, {}, None), {"ResponseMetadata": {"HTTPStatusCode": 200}}


def _client() -> Any:
    return boto3.client("s3", region_name="eu-west-1", aws_access_key_id="testing", aws_secret_access_key="testing")


@pytest.fixture
def s3() -> Iterator[tuple[Any, FakeS3]]:
    """An S3 client with the hooks, answered by a FakeS3, the document's semantics installed."""
    client = attach(_client())
    with installed(S3Semantics.from_document(DOCUMENT)):
        yield client, FakeS3(client, present=frozenset({"records/here.json"}))


def _code(error: pytest.ExceptionInfo[ClientError]) -> tuple[str, int]:
    response = error.value.response
    return str(response["Error"]["Code"]), int(response["ResponseMetadata"]["HTTPStatusCode"])


def test_an_absent_key_is_403_access_denied_without_list_bucket(s3):
    client, _ = s3
    with running("Reader"), pytest.raises(ClientError) as error:
        client.get_object(Bucket=BUCKET, Key="records/gone.json")
    assert _code(error) == ("AccessDenied", 403)
    assert not isinstance(error.value, client.exceptions.NoSuchKey)


def test_a_head_of_an_absent_key_is_403_forbidden_without_list_bucket(s3):
    client, _ = s3
    with running("Reader"), pytest.raises(ClientError) as error:
        client.head_object(Bucket=BUCKET, Key="records/gone.json")
    assert _code(error) == ("403", 403)


def test_list_bucket_on_the_keys_prefix_keeps_the_404(s3):
    client, _ = s3
    with running("Lister"):
        with pytest.raises(client.exceptions.NoSuchKey):
            client.get_object(Bucket=BUCKET, Key="records/gone.json")
        with pytest.raises(ClientError) as error:
            client.head_object(Bucket=BUCKET, Key="digests/2026/01/01/00.json")
    assert _code(error) == ("404", 404)


def test_list_bucket_conditioned_on_another_prefix_does_not_cover_the_key(s3):
    client, _ = s3
    with running("Lister"), pytest.raises(ClientError) as error:
        client.get_object(Bucket=BUCKET, Key="erasures/gone.json")
    assert _code(error) == ("AccessDenied", 403)


def test_a_call_no_function_is_running_for_is_denied(s3):
    client, _ = s3
    assert current_function() is None
    with pytest.raises(ClientError) as error:
        client.get_object(Bucket=BUCKET, Key="records/gone.json")
    assert _code(error) == ("AccessDenied", 403)


def test_objects_that_exist_and_buckets_outside_the_template_are_left_alone(s3):
    client, _ = s3
    with running("Reader"):
        client.get_object(Bucket=BUCKET, Key="records/here.json")
        with pytest.raises(client.exceptions.NoSuchKey):
            client.get_object(Bucket="acme-models", Key="registry/gone.json")


def test_listings_need_the_permission_with_the_requests_prefix(s3):
    client, fake = s3
    with running("Lister"):
        client.list_objects_v2(Bucket=BUCKET, Prefix="digests/")
        for prefix in ("personal/", ""):  # another prefix, and none at all (s3:prefix absent)
            with pytest.raises(ClientError) as error:
                client.list_objects_v2(Bucket=BUCKET, Prefix=prefix)
            assert _code(error) == ("AccessDenied", 403)
    with running("Reader"), pytest.raises(ClientError):
        client.list_objects_v2(Bucket=BUCKET, Prefix="digests/")
    assert fake.calls == ["ListObjectsV2"]  # the refused listings never reached S3


def test_an_explicit_deny_wins_and_versions_need_their_own_action(s3):
    client, _ = s3
    with running("Denied"), pytest.raises(ClientError) as error:
        client.get_object(Bucket=BUCKET, Key="records/gone.json")
    assert _code(error) == ("AccessDenied", 403)
    with running("Versions"):
        client.list_object_versions(Bucket=BUCKET, Prefix="personal/x.json")
        with pytest.raises(ClientError):
            client.list_objects_v2(Bucket=BUCKET, Prefix="personal/x.json")  # ListBucketVersions is not ListBucket


def test_without_an_installed_semantics_the_hooks_do_nothing():
    client = attach(_client())
    FakeS3(client)
    with running("Reader"), pytest.raises(client.exceptions.NoSuchKey):
        client.get_object(Bucket=BUCKET, Key="records/gone.json")


def test_installing_wraps_the_functions_client_factory_and_restores_it():
    from functions.stores import aws_clients

    original = aws_clients.s3
    with installed(S3Semantics.from_document(DOCUMENT)):
        assert aws_clients.s3 is not original
    assert aws_clients.s3 is original


def test_unsupported_policy_elements_err_towards_refusing():
    statements = {
        "F": [
            {
                "Effect": "Allow",
                "Action": "s3:ListBucket",
                "Resource": "*",
                "Condition": {"IpAddress": {"aws:SourceIp": "10.0.0.0/8"}},
            }
        ],
        "G": [
            {"Effect": "Allow", "Action": "s3:ListBucket", "Resource": "*"},
            {"Effect": "Deny", "NotAction": "s3:GetObject", "Resource": "*"},
        ],
    }
    policies = Policies(statements, resolver({}))
    assert not policies.allows("F", "s3:ListBucket", f"arn:aws:s3:::{BUCKET}")
    assert not policies.allows("G", "s3:ListBucket", f"arn:aws:s3:::{BUCKET}")


# ------------------------------------------------------------------------- the real template


def _real() -> S3Semantics:
    return S3Semantics.from_template()


def test_the_template_lets_no_function_list_the_personal_bucket():
    semantics = _real()
    for function in function_statements(tpl.load_template()):
        assert not semantics.may(function, "s3:ListBucket", "candor-personal", "personal/x.json"), function


def test_granting_list_bucket_in_the_template_changes_the_answer():
    document = copy.deepcopy(tpl.load_template())
    before = S3Semantics.from_document(document)
    assert not before.may("CustomerFunction", "s3:ListBucket", BUCKET, "records/x.json")
    role = document["Resources"]["CustomerFunctionRole"]["Properties"]["Policies"][0]["PolicyDocument"]
    role["Statement"].append({**LIST_RECORDS, "Resource": {"Fn::GetAtt": ["ArchiveBucket", "Arn"]}})
    after = S3Semantics.from_document(document)
    assert after.may("CustomerFunction", "s3:ListBucket", BUCKET, "records/x.json")
    assert not after.may("CustomerFunction", "s3:ListBucket", BUCKET, "erasures/x.json")
