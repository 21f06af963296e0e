"""Integration fixtures: the resources of template.yaml inside moto's in-process `mock_aws`.

    def test_something(aws_env):                     # env vars set, resources created
        table = boto3.resource("dynamodb").Table(aws_env["CANDOR_RECORDS_TABLE"])

`aws_env` maps every variable of `Globals.Function.Environment` (plus region and dummy
credentials) to the local resources; it is also in `os.environ` for the test's duration.
Do not run a `LocalStack` at the same time in the same process: moto's server and `mock_aws`
share one set of backends, and `mock_aws` resets them.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from moto import mock_aws

from infra.local_aws import DUMMY_CREDENTIALS, REGION, provision
from tests.support import fresh_container

PUBLIC_BASE_URL = "https://candor.test"


@pytest.fixture
def aws_env(monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, str]]:
    """moto `mock_aws` with the template's key, secret, tables and buckets; their env vars set."""
    # Nothing may reach a real account or a leftover endpoint from the developer's shell.
    for name in ("AWS_ENDPOINT_URL", "AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    for name, value in {**DUMMY_CREDENTIALS, "AWS_DEFAULT_REGION": REGION, "AWS_REGION": REGION}.items():
        monkeypatch.setenv(name, value)
    with mock_aws():
        env = provision(None, public_base_url=PUBLIC_BASE_URL)
        for name, value in env.items():
            monkeypatch.setenv(name, value)
        fresh_container()
        yield env
    fresh_container()
