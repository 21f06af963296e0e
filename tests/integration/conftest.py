"""Integration fixtures: the resources of template.yaml inside moto's in-process `mock_aws`.

    def test_something(aws_env):                     # env vars set, resources created
        table = boto3.resource("dynamodb").Table(aws_env["CANDOR_RECORDS_TABLE"])

`aws_env` maps every variable of `Globals.Function.Environment` (plus region and dummy
credentials) to the local resources; it is also in `os.environ` for the test's duration.
Do not run a `LocalStack` at the same time in the same process: moto's server and `mock_aws`
share one set of backends, and `mock_aws` resets them.

The functions' own S3 client (`functions.stores.aws_clients.s3()`) answers as AWS would answer
the calling function's role (`infra/local/s3_semantics.py`): a read of an absent key is a 403 unless
the role may list it. Function code called directly runs as the function named with
`infra.local.invocation.running("AuditFunction")`; outside any, it is refused what needs a permission.
Clients the tests build themselves (`boto3.client("s3")`) keep moto's answers.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator

import pytest
from moto import mock_aws

from infra.local.aws import DUMMY_CREDENTIALS, REGION, provision
from infra.local.s3_semantics import S3Semantics, installed
from tests.support import fresh_container

PUBLIC_BASE_URL = "https://candor.test"


@functools.cache
def _semantics() -> S3Semantics:
    return S3Semantics.from_template()  # the template does not change during a run


@pytest.fixture
def aws_env(monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, str]]:
    """moto `mock_aws` with the template's key, secret, tables and buckets; their env vars set."""
    # Nothing may reach a real account or a leftover endpoint from the developer's shell.
    for name in ("AWS_ENDPOINT_URL", "AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    for name, value in {**DUMMY_CREDENTIALS, "AWS_DEFAULT_REGION": REGION, "AWS_REGION": REGION}.items():
        monkeypatch.setenv(name, value)
    with mock_aws(), installed(_semantics()):
        env = provision(None, public_base_url=PUBLIC_BASE_URL)
        for name, value in env.items():
            monkeypatch.setenv(name, value)
        fresh_container()
        yield env
    fresh_container()
