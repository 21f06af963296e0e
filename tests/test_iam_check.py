"""IAM, checked on every run: each AWS call the functions made in this session, and each call AWS makes
on their behalf, is allowed by the deployed template's policies (docs/security.md, "IAM, checked").

Runs last (tests/conftest.py orders it), over what the integration and end-to-end tests recorded
in `test-output/aws-calls.jsonl`; the evaluator is `@cloud-copilot/iam-simulate` (`make iam-simulator`).
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from infra.iam import aws_calls
from infra.iam import check as iam_check
from infra.iam.deployed_policies import ACCOUNT_ID, REGION, DeployedPolicies, arn_of
from infra.iam.on_behalf import Request
from tests.conftest import RECORDING, WHOLE_SUITE, recording

# Granted but unused by the tests, each for a reason: (policy, action, part of the resource) -> why.
ACCEPTED_UNUSED = {
    # One list parameter names endpoints and functions alike, so each ARN gets both actions (and the
    # versions-and-aliases statement adds <arn>:* to endpoints too): the other action matches no real call.
    ("RemoteModelsPolicy", "sagemaker:InvokeEndpoint", ":function:"): "RemoteModelArns mixes endpoints and functions",
    ("RemoteModelsPolicy", "lambda:InvokeFunction", ":endpoint/"): "RemoteModelArns mixes endpoints and functions",
    # Likewise secrets and SSM parameters share RemoteModelSecretArns.
    ("RemoteModelSecretsPolicy", "secretsmanager:GetSecretValue", ":parameter/"): "one list for secrets and parameters",
    ("RemoteModelSecretsPolicy", "ssm:GetParameter", ":secret:"): "one list for secrets and parameters",
    # Every function that loads models may read the deployer's model folders; the tests read them as the catalog.
    ("ModelsBucketReadPolicy", "s3:", ""): "the registry is read alike by every function that loads models",
    # The subject key is cached per container; locally all functions share one process, so the first
    # function to need it records the read (and the key's Decrypt), and the others reuse it.
    ("PrivacyFunctionRole/privacy", "secretsmanager:GetSecretValue", ":secret:"): "one cache for all functions locally",
    ("PrivacyFunctionRole/privacy", "kms:Decrypt", "key/RecordsKey"): "the subject key's Decrypt, cached as above",
    # DynamoDB uses the rollups table's and the streams' key for the caller; infra/iam/on_behalf.py does not
    # derive DynamoDB's own KMS calls yet (docs/security.md, limits).
    ("RollupFunctionRole/rollups", "kms:", "key/RecordsKey"): "DynamoDB's use of the table key, not derived",
    # The reviewer reads a deferred explanation's completion like the customer page does; the review tests'
    # decisions are explained before the answer.
    ("ReviewFunctionRole/review", "s3:GetObject", "/completions/"): "deferred explanations: not staged for reviews",
    # A worker reads the completion back when another wrote it first (IfNoneMatch lost): a race no test stages.
    ("ExplanationWorkerFunctionRole/explanation-worker", "s3:GetObject", "/completions/"): "read after a lost race",
    # The decision path writes no object any more; a record too large for one DynamoDB item (docs/records.md)
    # still is, and no end-to-end test sends a 390 KB input (tests/integration/test_archive_copy.py does).
    ("DecisionsFunctionRole/decisions", "s3:PutObject", "/records/"): "a record too large for a pending item",
    ("DecisionsFunctionRole/decisions", "s3:PutObject", "/personal/"): "a record too large for a pending item",
    # ...and so is the data key S3 asks for on its SSE-KMS writes (DynamoDB's own use of the table key for the
    # transaction is not derived: infra/iam/on_behalf.py).
    ("DecisionsFunctionRole/decisions", "kms:GenerateDataKey", "key/RecordsKey"): "SSE-KMS of the large-record path",
    # The copier reads an object only on a redelivery that finds it written (412), and deletes a personal
    # version only when an erasure raced the copy: staged by the integration tests; end to end, by chance.
    ("ArchiveCopyFunctionRole/archive-copy", "s3:GetObject", ""): "a redelivered copy: integration tests only",
    ("ArchiveCopyFunctionRole/archive-copy", "s3:DeleteObjectVersion", ""): "an erasure racing the copy",
    # Whether a reader finds a record before its copy is a matter of timing on the local stack (the copier
    # is quick); the customer and audit functions are made to (tests/e2e/test_archive_copy.py), these two not.
    ("ReviewFunctionRole/review", "dynamodb:GetItem", "table/candor-pending"): "read before the copy: timing",
    ("ExplanationWorkerFunctionRole/explanation-worker", "dynamodb:GetItem", "table/candor-pending"): "timing",
}


def _say(request: pytest.FixtureRequest, line: str) -> None:
    reporter = request.config.pluginmanager.get_plugin("terminalreporter")
    capture = request.config.pluginmanager.get_plugin("capturemanager")
    if reporter is not None and capture is not None:
        with capture.global_and_fixture_disabled():  # shown even when pytest captures output
            reporter.write_line(line)


@pytest.fixture(scope="module")
def report(request: pytest.FixtureRequest) -> iam_check.Report:
    entries = aws_calls.read(recording())
    if not entries:
        pytest.skip("no function made an AWS call in this session: run the whole suite (plain `pytest`)")
    result = iam_check.check(entries)
    summary = {
        "recorded_requests": result.recorded,
        "on_behalf_requests": result.on_behalf,
        "simulations": len(result.decisions),
        "denied": [d.line() for d in result.denied],
        "unused_grants": [g.line() for g in result.unused],
    }
    (RECORDING.parent / "iam-check.json").write_text(json.dumps(summary, indent=2), encoding="utf-8")
    _say(
        request,
        f"\nIAM check: {result.recorded} distinct recorded requests + {result.on_behalf} on the functions' behalf, "
        f"{len(result.decisions)} simulations, {len(result.denied)} denied, {len(result.unused)} grants unused "
        f"(test-output/iam-check.json)",
    )
    return result


def test_every_call_is_allowed_by_the_deployed_policies(report: iam_check.Report) -> None:
    assert not report.unmapped, "calls infra/iam/actions.py cannot map to IAM yet:\n" + "\n".join(
        f"{r.function} {r.action}" for r in report.unmapped
    )
    assert not report.denied, f"{len(report.denied)} denied:\n" + "\n".join(d.line() for d in report.denied)


def test_the_whole_suite_reaches_every_kind_of_call(report: iam_check.Report, request: pytest.FixtureRequest) -> None:
    if not request.config.stash.get(WHOLE_SUITE, False):
        pytest.skip("coverage is asserted when the integration and e2e tiers ran in this session")
    recorded = [d.request for d in report.decisions if d.request.because == "recorded"]
    lambda_invokes = {r.resource for r in recorded if r.action == "lambda:InvokeFunction"}
    assert report.recorded >= 200
    assert any(r.action == "sagemaker:InvokeEndpoint" for r in recorded)
    assert any(arn.count(":") == 6 for arn in lambda_invokes), "a Lambda model without a qualifier"
    assert any(arn.count(":") == 7 for arn in lambda_invokes), "a Lambda model with a qualifier"
    assert any(r.action == "secretsmanager:GetSecretValue" and "refund-model" in r.resource for r in recorded)
    assert any(r.action == "kms:Decrypt" and r.resource == iam_check.REMOTE_SECRETS_KEY for r in _derived(report))
    functions = {r.function for r in recorded}
    assert functions >= set(DeployedPolicies.for_parameters({}).functions()) - {"CatalogFunction"}


def _derived(report: iam_check.Report) -> list[Request]:
    return [d.request for d in report.decisions if d.request.because != "recorded"]


def test_every_unused_grant_is_accepted_with_a_reason(report: iam_check.Report) -> None:
    """Least privilege, measured: a grant no allowed call used is removed, or accepted here with its reason."""
    unexplained = [
        g
        for g in report.unused
        if not any(
            g.policy == policy and g.action.startswith(action) and part in g.resource
            for policy, action, part in ACCEPTED_UNUSED
        )
    ]
    assert not unexplained, "granted, never used:\n" + "\n".join(g.line() for g in unexplained)


# ------------------------------------------------------------------ what must stay refused


def _archive(key: str) -> str:
    return f"{arn_of('ArchiveBucket', 'AWS::S3::Bucket')}/{key}"


_TABLE = arn_of("RecordsTable", "AWS::DynamoDB::Table")
_REFUSED: list[tuple[str, str, str, dict[str, Any]]] = [
    # The decision writer can neither delete, nor shorten or re-lock, what it wrote.
    ("DecisionsFunction", "s3:DeleteObject", _archive("records/m/x.json"), {}),
    ("DecisionsFunction", "s3:DeleteObjectVersion", _archive("records/m/x.json"), {}),
    ("DecisionsFunction", "s3:PutObjectRetention", _archive("records/m/x.json"), {}),
    ("DecisionsFunction", "s3:BypassGovernanceRetention", _archive("records/m/x.json"), {}),
    ("DecisionsFunction", "s3:PutObjectLegalHold", _archive("records/m/x.json"), {}),
    ("DecisionsFunction", "dynamodb:UpdateItem", _TABLE, {}),
    ("DecisionsFunction", "dynamodb:DeleteItem", _TABLE, {}),
    ("DecisionsFunction", "kms:Encrypt", arn_of("RecordsKey", "AWS::KMS::Key"), {}),
    # It queues referrals in the appeals table and nothing more: no reading, changing or deleting appeals.
    ("DecisionsFunction", "dynamodb:GetItem", arn_of("AppealsTable", "AWS::DynamoDB::Table"), {}),
    ("DecisionsFunction", "dynamodb:UpdateItem", arn_of("AppealsTable", "AWS::DynamoDB::Table"), {}),
    ("DecisionsFunction", "dynamodb:DeleteItem", arn_of("AppealsTable", "AWS::DynamoDB::Table"), {}),
    # Auditors read; they write nothing.
    ("AuditFunction", "dynamodb:PutItem", _TABLE, {}),
    ("AuditFunction", "dynamodb:UpdateItem", _TABLE, {}),
    ("AuditFunction", "dynamodb:PutItem", arn_of("AppealsTable", "AWS::DynamoDB::Table"), {}),
    ("AuditFunction", "s3:PutObject", _archive("records/m/x.json"), {}),
    ("AuditFunction", "s3:DeleteObject", _archive("digests/x.json"), {}),
    ("AuditFunction", "kms:Sign", arn_of("DigestSigningKey", "AWS::KMS::Key"), {}),
    ("AuditFunction", "dynamodb:Query", _TABLE, {}),  # indexes only, never the base table
    # The customer function reads one record by its id; it cannot list or query anything.
    ("CustomerFunction", "s3:ListBucket", arn_of("ArchiveBucket", "AWS::S3::Bucket"), {"s3:prefix": "records/"}),
    ("CustomerFunction", "s3:ListBucket", arn_of("PersonalBucket", "AWS::S3::Bucket"), {"s3:prefix": "personal/"}),
    ("CustomerFunction", "dynamodb:Query", f"{_TABLE}/index/by_subject", {}),
    ("CustomerFunction", "dynamodb:Scan", _TABLE, {}),
    # Erasure deletes personal parts' versions, never the sealed envelopes.
    ("PrivacyFunction", "s3:DeleteObjectVersion", _archive("records/m/x.json"), {}),
    ("PrivacyFunction", "s3:PutObjectRetention", _archive("records/m/x.json"), {}),
    # The integrity job reads digests and the index, not the records' contents.
    ("IntegrityFunction", "s3:GetObject", _archive("records/m/x.json"), {}),
    ("IntegrityFunction", "s3:ListBucket", arn_of("ArchiveBucket", "AWS::S3::Bucket"), {"s3:prefix": "records/"}),
]


def test_what_must_stay_refused_is_refused() -> None:
    requests = [
        Request(action, resource, context, function=function) for function, action, resource, context in _REFUSED
    ]
    decisions = iam_check.simulate(requests, DeployedPolicies.for_parameters({}), "defaults")
    allowed = [d.line() for d in decisions if d.result == "Allowed"]
    assert not allowed, "\n".join(allowed)


def test_a_qualified_lambda_model_and_a_customer_key_are_granted_only_when_named() -> None:
    function = f"arn:aws:lambda:{REGION}:{ACCOUNT_ID}:function:refund-model"
    secret = f"arn:aws:secretsmanager:{REGION}:{ACCOUNT_ID}:secret:candor/refund-model-token-AbCdEf"
    parameters = {"RemoteModelArns": function, "RemoteModelSecretArns": secret}
    via_secrets = {"kms:ViaService": f"secretsmanager.{REGION}.amazonaws.com", "kms:CallerAccount": ACCOUNT_ID}
    requests = [
        Request("lambda:InvokeFunction", f"{function}:live", function="DecisionsFunction"),
        Request("lambda:InvokeFunction", f"{function}-other", function="DecisionsFunction"),
        Request("kms:Decrypt", iam_check.REMOTE_SECRETS_KEY, via_secrets, function="DecisionsFunction"),
        Request("kms:Decrypt", iam_check.REMOTE_SECRETS_KEY, {}, function="DecisionsFunction"),  # not through a service
    ]
    without_key = iam_check.simulate(requests, DeployedPolicies.for_parameters(parameters), "no key")
    with_key = {**parameters, "RemoteModelSecretsKeyArn": iam_check.REMOTE_SECRETS_KEY}
    keyed = iam_check.simulate(requests, DeployedPolicies.for_parameters(with_key), "customer key")
    assert [d.result == "Allowed" for d in without_key] == [True, False, False, False]
    assert [d.result == "Allowed" for d in keyed] == [True, False, True, False]
