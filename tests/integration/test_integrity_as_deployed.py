"""The verifier as deployed: S3 answers it as AWS would answer its role (tests/integration/conftest.py).

A read of an absent key is a 403 unless the role may list it. The verifier never reads a digest
the listing does not show (windows the job has not reached are listed undigested, not a 503).
"""

from __future__ import annotations

import json
from datetime import timedelta

from functions.domain.integrity import iso_utc
from infra import template as tpl
from infra.invocation import running
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
    from infra.gateway import make_event

    seed(integrity_env)
    query = {"from": iso_utc(FIRST + timedelta(hours=3)), "to": iso_utc(FIRST + timedelta(hours=4))}
    event = make_event("GET", "/v1/integrity/verify", routes=tpl.routes(), query=query, role="auditor")
    with running("AuditFunction"):
        response = audit.lambda_handler(event, lambda_context("AuditFunction"))
    assert response["statusCode"] == 200, response["body"]
    report = json.loads(response["body"])
    assert report["ok"] is True and report["undigested_windows"] == [query["from"]]
