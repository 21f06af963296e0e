"""End-to-end tier: real HTTP against the local stack (moto server + gateway + the handlers)."""

from __future__ import annotations

from collections.abc import Generator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import pytest
import requests

from infra.local.stack import LocalStack
from infra.template import REPO_ROOT
from infra.training.drifted_model import write_drifted_model
from tests.support import fresh_container


@dataclass
class Client:
    """HTTP client for the local API, plus boto3 views of what was stored."""

    stack: LocalStack
    http: requests.Session

    def call(self, method: str, path: str, role: str | None = "chatbot", **kwargs: Any) -> requests.Response:
        headers = kwargs.pop("headers", {})
        if role:
            headers["Authorization"] = f"Bearer {self.stack.tokens[role]}"
        return self.http.request(method, f"{self.stack.api_url}{path}", headers=headers, timeout=60, **kwargs)

    def decide(self, model_id: str, body: Any, **kwargs: Any) -> requests.Response:
        return self.call("POST", f"/v1/decisions/{model_id}", json=body, **kwargs)

    def aws(self, service: str) -> Any:
        return boto3.client(service, endpoint_url=self.stack.aws_url, region_name=self.stack.env["AWS_DEFAULT_REGION"])

    def stored(self) -> tuple[int, int]:
        """(index items, archive objects): what a request left behind, once its archive copy is written."""
        self.stack.drain()  # the objects follow the answer, from the pending table's stream
        # Every page: a Scan stops at 1 MB and a listing at 1,000 keys, and the suite stores more than that.
        scan = self.aws("dynamodb").get_paginator("scan")
        pages = scan.paginate(TableName=self.stack.env["CANDOR_RECORDS_TABLE"], Select="COUNT")
        listing = self.aws("s3").get_paginator("list_objects_v2")
        objects = listing.paginate(Bucket=self.stack.env["CANDOR_ARCHIVE_BUCKET"], Prefix="records/")
        return sum(page["Count"] for page in pages), sum(page.get("KeyCount", 0) for page in objects)


FUNCTION_LOGS = REPO_ROOT / ".local-stack" / "logs"  # LocalStack.logs_dir: what each function printed
_log_sizes: dict[Path, int] = {}


def pytest_runtest_setup(item: pytest.Item) -> None:
    _log_sizes.clear()
    _log_sizes.update({path: path.stat().st_size for path in FUNCTION_LOGS.glob("*.log")})


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    """A failed test's report shows the warnings and errors the functions logged while it ran (as CI keeps no logs)."""
    report: pytest.TestReport = yield
    if report.failed:
        for path in sorted(FUNCTION_LOGS.glob("*.log")):
            with path.open("rb") as log:
                log.seek(_log_sizes.get(path, 0))
                lines = log.read().decode(errors="replace").splitlines()
            problems = [line for line in lines if '"level":"WARNING"' in line or '"level":"ERROR"' in line]
            if problems:
                report.sections.append((f"{path.stem}: warnings and errors", "\n".join(problems[-20:])))
    return report


@pytest.fixture(scope="package")
def api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Client]:
    fresh_container()
    # One more registry: refund-decision-v2, whose attributions drift from version 1's baseline (test_monitoring).
    registry = tmp_path_factory.mktemp("registry")
    write_drifted_model(registry)
    with LocalStack(models=str(registry)) as stack:
        yield Client(stack, requests.Session())
    fresh_container()


@pytest.fixture
def digests_undone(api):
    """The shared stack as it was: the digests a test writes (here, early: it pretends to be an hour later) are
    deleted after it, so that records made later in this hour are not found in a window digested without them."""
    s3, bucket = api.aws("s3"), api.stack.env["CANDOR_ARCHIVE_BUCKET"]

    def keys() -> set[str]:
        pages = s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix="digests/")
        return {item["Key"] for page in pages for item in page.get("Contents", [])}

    before = keys()
    yield
    for key in keys() - before:  # moto keeps no Object Lock: a test may undo what AWS would keep
        s3.delete_object(Bucket=bucket, Key=key)


@pytest.fixture
def dynamodb_calls() -> Iterator[list[str]]:
    """The DynamoDB operations the functions' own client makes during a test."""
    from functions.stores import aws_clients

    calls: list[str] = []
    client = aws_clients.dynamodb()

    def record(model: Any, **_: Any) -> None:
        calls.append(model.name)

    client.meta.events.register("before-call.dynamodb.*", record, unique_id="test-dynamodb-calls")
    yield calls
    client.meta.events.unregister("before-call.dynamodb.*", unique_id="test-dynamodb-calls")
