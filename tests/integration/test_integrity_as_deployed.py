"""The verifier as deployed: S3 answers it as AWS would answer its role (tests/integration/conftest.py).

A read of an absent key is a 403 unless the role may list it. The verifier never reads a digest
the listing does not show (windows the job has not reached are listed undigested, not a 503), and
asks a listing whether an unreadable archived envelope is there at all (a deleted one is `missing`;
a refused read stays a failure).
"""

from __future__ import annotations

import copy
import json
from datetime import timedelta

import boto3
import pytest

from functions.domain.errors import DependencyUnavailable
from functions.domain.integrity import iso_utc
from functions.stores.record_store import archive_key
from infra import template as tpl
from infra.local.invocation import running
from infra.local.s3_semantics import S3Semantics, installed
from tests.integration.test_integrity import FIRST, NOW, integrity_env, seed, verify
from tests.support import lambda_context

__all__ = ["integrity_env"]  # the fixture, shared with test_integrity


def test_windows_the_job_has_not_reached_yet_are_listed_undigested(integrity_env: dict[str, str]) -> None:
    seed(integrity_env)  # 10:00 to 12:00 digested
    later = NOW + timedelta(hours=1)  # 14:10: 13:00 closed at 14:05, the hourly job has not run since
    report = verify(FIRST - timedelta(hours=1), FIRST + timedelta(hours=5), now=later)
    assert report.ok, report
    assert report.windows_checked == 3
    # 09:00 comes before the first digest (08:00, its first link, has none either: the listing says so,
    # and neither is read); 14:00 is still open.
    assert report.undigested_windows == [iso_utc(FIRST + timedelta(hours=h)) for h in (-1, 3, 4)]


def test_the_verify_route_answers_200_for_windows_not_digested_yet(integrity_env: dict[str, str]) -> None:
    from functions.handlers import audit
    from infra.local.gateway import make_event

    seed(integrity_env)
    query = {"from": iso_utc(FIRST + timedelta(hours=3)), "to": iso_utc(FIRST + timedelta(hours=4))}
    event = make_event("GET", "/v1/integrity/verify", routes=tpl.routes(), query=query, role="auditor")
    with running("AuditFunction"):
        response = audit.lambda_handler(event, lambda_context("AuditFunction"))
    assert response["statusCode"] == 200, response["body"]
    report = json.loads(response["body"])
    assert report["ok"] is True and report["undigested_windows"] == [query["from"]]


def test_a_deleted_archived_envelope_is_reported_missing(integrity_env: dict[str, str]) -> None:
    records = seed(integrity_env)
    gone = records[2]
    # moto lets a test delete a locked object (a delete marker); in AWS, Object Lock refuses it.
    boto3.client("s3").delete_object(Bucket=integrity_env["CANDOR_ARCHIVE_BUCKET"], Key=archive_key(gone.envelope))
    report = verify()
    assert not report.ok
    assert [(f.decision_id, f.detail) for f in report.missing] == [
        (gone.envelope.decision_id, "archived envelope missing")
    ]
    assert not report.altered and not report.broken_chain


def test_without_its_list_grant_the_verifier_reports_a_failure_not_a_deletion(integrity_env: dict[str, str]) -> None:
    records = seed(integrity_env)
    boto3.client("s3").delete_object(
        Bucket=integrity_env["CANDOR_ARCHIVE_BUCKET"], Key=archive_key(records[2].envelope)
    )
    document = copy.deepcopy(tpl.load_template())
    statements = document["Resources"]["AuditFunctionRole"]["Properties"]["Policies"][0]["PolicyDocument"]
    listing = next(s for s in statements["Statement"] if s["Sid"] == "ListDigestsAndRecords")
    listing["Condition"]["StringLike"]["s3:prefix"] = ["digests/*"]  # the template without records/*
    with installed(S3Semantics.from_document(document)), pytest.raises(DependencyUnavailable, match="archive"):
        verify()  # a 403 is never taken for "not there"
