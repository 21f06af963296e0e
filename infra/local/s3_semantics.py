"""S3's answers as each function's role would get them in AWS, on moto (which enforces no IAM).

Real S3 answers a GetObject or HeadObject of an absent key with 404 only when the caller may
list the bucket (`s3:ListBucket`); to anyone else it answers **403 AccessDenied** (HEAD: `403
Forbidden`), so as not to tell them what the bucket holds. moto always answers 404. Code tested
on moto that expects `NoSuchKey` then fails in AWS. While `installed(...)`, the functions' own
S3 client (`functions.stores.aws_clients.s3`) answers as AWS would answer the calling function's
role in `template.yaml`:

- GetObject/HeadObject of an absent key in a template bucket: 404 when the role allows
  `s3:ListBucket` on the bucket with `s3:prefix` = the key (so a grant conditioned on
  `StringLike s3:prefix: records/*` covers keys under `records/`), else 403. AWS does not
  document which `s3:prefix` that implicit check carries; this is the generous reading, and
  Candor's code does not depend on it (it lists explicitly where it must know: docs/security.md);
- ListObjects/ListObjectsV2 (`s3:ListBucket`) and ListObjectVersions (`s3:ListBucketVersions`)
  on a template bucket: refused with 403 unless the role allows them, with `s3:prefix` = the
  request's `Prefix` (absent without one).

The calling function is the one `infra.local.invocation.running(...)` names on this thread: the local
gateway, its worker processes (which install these answers with `in_worker`) and the SQS poller
set it around each invocation, tests set it around direct calls. A call no
function is running for is denied whatever it asks, as IAM denies an unknown principal. Clients
built by tests and tools themselves (`boto3.client("s3")`) keep moto's answers: they stand for an
administrator. Buckets outside the template (a models bucket) are left alone: their policies are
not here. Only these S3 answers are emulated; other permissions are asserted on the template.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from botocore.exceptions import ClientError

from infra import template as tpl
from infra.iam.policies import Policies, function_statements, resolver
from infra.local.aws import local_name
from infra.local.invocation import current_function

_REQUEST = "candor_s3_request"  # where the call's own parameters wait for its response (botocore's context)
_LISTS = {
    "ListObjects": "s3:ListBucket",
    "ListObjectsV2": "s3:ListBucket",
    "ListObjectVersions": "s3:ListBucketVersions",
}
_READS = {"GetObject", "HeadObject"}
_ABSENT = {"NoSuchKey", "404", "NotFound"}


class S3Semantics:
    """Which S3 answers each function's role gets, from the template's policies and the local bucket names."""

    def __init__(self, policies: Policies, buckets: Mapping[str, str]) -> None:
        self.policies = policies
        self.buckets = dict(buckets)  # physical name -> logical id, for the template's buckets only

    @classmethod
    def from_template(cls, path: Path | str = tpl.TEMPLATE_PATH) -> S3Semantics:
        return cls.from_document(tpl.load_template(path))

    @classmethod
    def from_document(cls, document: Mapping[str, Any]) -> S3Semantics:
        """From a parsed template, its buckets under their local names (`infra.local.aws.local_name`)."""
        names = {logical_id: local_name(logical_id) for logical_id in tpl.buckets(document)}
        policies = Policies(function_statements(document), resolver(names))
        return cls(policies, {name: logical_id for logical_id, name in names.items()})

    def may(self, function: str | None, action: str, bucket: str, prefix: str | None) -> bool:
        context = {"s3:prefix": prefix} if prefix else {}
        return self.policies.allows(function, action, f"arn:aws:s3:::{bucket}", context)

    def check_list(self, operation: str, params: Mapping[str, Any]) -> None:
        """Refuse a listing the running function's role may not make (raises ClientError 403)."""
        bucket, action = str(params.get("Bucket", "")), _LISTS.get(operation)
        if action is None or bucket not in self.buckets:
            return
        if not self.may(current_function(), action, bucket, params.get("Prefix")):
            raise _denied(operation, code="AccessDenied", message="Access Denied")

    def check_absent(self, operation: str, params: Mapping[str, Any], parsed: Mapping[str, Any]) -> None:
        """Turn moto's 404 for an absent key into AWS's 403 when the running function may not list it."""
        bucket, key = str(params.get("Bucket", "")), str(params.get("Key", ""))
        if operation not in _READS or bucket not in self.buckets:
            return
        if str((parsed.get("Error") or {}).get("Code")) not in _ABSENT:
            return
        if not self.may(current_function(), "s3:ListBucket", bucket, key):
            if operation == "HeadObject":  # a HEAD has no body: botocore reports the status as the code
                raise _denied(operation, code="403", message="Forbidden")
            raise _denied(operation, code="AccessDenied", message="Access Denied")


def _denied(operation: str, *, code: str, message: str) -> ClientError:
    response: Any = {"Error": {"Code": code, "Message": message}, "ResponseMetadata": {"HTTPStatusCode": 403}}
    return ClientError(response, operation)


# The hooks stay on a client once attached (clients are cached per container); they consult the
# innermost installed semantics, and do nothing once none is installed.
_installed: list[S3Semantics] = []


def _before_parameter_build(params: Mapping[str, Any], model: Any, context: dict[str, Any], **_: Any) -> None:
    if not _installed:
        return
    context[_REQUEST] = dict(params)
    _installed[-1].check_list(model.name, params)


def _after_call(parsed: Mapping[str, Any], model: Any, context: Mapping[str, Any], **_: Any) -> None:
    if _installed and _REQUEST in context:
        _installed[-1].check_absent(model.name, context[_REQUEST], parsed)


def attach(client: Any) -> Any:
    """Give an S3 client the hooks (idempotent); returns the client."""
    events = client.meta.events
    # First: a refused listing is refused before anything else looks at the request.
    events.register_first("before-parameter-build.s3", _before_parameter_build, unique_id="candor-s3-semantics")
    for operation in sorted(_READS):
        events.register(f"after-call.s3.{operation}", _after_call, unique_id=f"candor-s3-semantics-{operation}")
    return client


@contextlib.contextmanager
def installed(semantics: S3Semantics | None = None) -> Iterator[S3Semantics]:
    """While inside, every client `functions.stores.aws_clients.s3()` hands out answers as AWS would."""
    from functions.stores import aws_clients

    semantics = semantics or S3Semantics.from_template()
    original = aws_clients.s3

    def s3() -> Any:  # the factory, wrapped: the client it caches, with the hooks
        return attach(original())

    _installed.append(semantics)
    setattr(aws_clients, "s3", s3)  # noqa: B010 - mypy refuses assigning to a function
    try:
        yield semantics
    finally:
        setattr(aws_clients, "s3", original)  # noqa: B010
        _installed.remove(semantics)


def in_worker(template_path: str) -> contextlib.AbstractContextManager[S3Semantics]:
    """The same answers in a worker process of the local stack (`infra.local.lambda_worker` hook)."""
    return installed(S3Semantics.from_template(template_path))
