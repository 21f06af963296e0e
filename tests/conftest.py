"""Session-wide: every AWS call a function makes in any test is recorded for the IAM check.

`infra/iam/aws_calls.py` hooks every botocore client; calls made while a function runs
(`infra.local.invocation.running`: the local gateway, the SQS poller, tests that call function code)
are appended to `test-output/aws-calls.jsonl`, started afresh each session. `tests/test_iam_check.py`
runs last and evaluates them against the template's policies.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from infra.iam import aws_calls
from infra.template import REPO_ROOT

RECORDING = REPO_ROOT / "test-output" / "aws-calls.jsonl"
IAM_CHECK = "tests/test_iam_check.py"


def recording() -> Path:
    """This session's recording: CANDOR_AWS_CALLS if set (e.g. to keep parallel runs apart), else RECORDING."""
    return Path(os.environ.get(aws_calls.ENV_VAR) or RECORDING)


def pytest_configure(config: pytest.Config) -> None:
    path = recording()
    path.parent.mkdir(parents=True, exist_ok=True)
    if not os.environ.get("CANDOR_AWS_CALLS_KEEP"):  # set it to check an earlier recording (make demo's, say)
        path.unlink(missing_ok=True)
    os.environ[aws_calls.ENV_VAR] = str(path)
    aws_calls.install()


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """The IAM check after every test that records (it reads what they recorded)."""
    items.sort(key=lambda item: item.nodeid.startswith(IAM_CHECK))
    tiers = {item.nodeid.split("/")[1] for item in items if item.nodeid.count("/") >= 2}
    config.stash[WHOLE_SUITE] = {"integration", "e2e"} <= tiers


WHOLE_SUITE = pytest.StashKey[bool]()
