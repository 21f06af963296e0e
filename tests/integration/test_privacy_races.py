"""The privacy officer's writes when two requests interleave, replayed step by step against moto.

`tests/e2e/test_concurrency.py` races real requests over several instances; here one request's
writes are paused at the worst moment while a second request runs whole, so each interleaving
is checked every time.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import fields
from typing import Any

import boto3
import pytest

from functions.domain.seal import seal
from functions.stores.erasure_store import AwsErasureStore
from functions.stores.record_store import archive_key
from tests.support import record_store
from tests.unit.domain.records import sample_envelope, sample_personal


class Paused:
    """An S3 client that runs `meanwhile` once, just before the first call of `operation`."""

    def __init__(self, client: Any, operation: str, meanwhile: Callable[[], object]) -> None:
        self._client, self._operation, self._meanwhile = client, operation, meanwhile

    def __getattr__(self, name: str) -> Any:
        attribute = getattr(self._client, name)
        if name != self._operation or self._meanwhile is None:
            return attribute

        def paused(**kwargs: Any) -> Any:
            meanwhile, self._meanwhile = self._meanwhile, None  # type: ignore[assignment]
            meanwhile()
            return attribute(**kwargs)

        return paused


def erasure_store(env: dict[str, str], s3: Any = None) -> AwsErasureStore:
    places = record_store(env, boto3.client("dynamodb"), s3 or boto3.client("s3"))
    values = {f.name: getattr(places, f.name) for f in fields(places)}
    return AwsErasureStore(**values, idempotency_table=env["CANDOR_IDEMPOTENCY_TABLE"])


@pytest.fixture
def decision(aws_env: dict[str, str]) -> tuple[str, str]:
    personal = sample_personal()
    sealed = seal(sample_envelope(personal), personal)
    record_store(aws_env, boto3.client("dynamodb"), boto3.client("s3")).put(sealed)
    return sealed.envelope.decision_id, archive_key(sealed.envelope)


def state(env: dict[str, str], decision_id: str, key: str) -> tuple[bool, str]:
    item = boto3.client("dynamodb").get_item(
        TableName=env["CANDOR_RECORDS_TABLE"], Key={"decision_id": {"S": decision_id}}, ConsistentRead=True
    )["Item"]
    lock = boto3.client("s3").get_object_legal_hold(Bucket=env["CANDOR_ARCHIVE_BUCKET"], Key=key)
    return item["legal_hold"]["BOOL"], lock["LegalHold"]["Status"]


@pytest.mark.parametrize("first", [True, False])
def test_a_legal_hold_change_overtaken_by_another_leaves_flag_and_lock_on_the_later_one(
    aws_env: dict[str, str], decision: tuple[str, str], first: bool
) -> None:
    decision_id, key = decision
    later = erasure_store(aws_env)
    # The first request has written its flag and is about to set the lock when the second runs whole.
    paused = Paused(
        boto3.client("s3"),
        "put_object_legal_hold",
        lambda: later.set_legal_hold(decision_id, not first, "2026-12-02T10:00:01Z"),
    )
    assert erasure_store(aws_env, paused).set_legal_hold(decision_id, first, "2026-12-02T10:00:00Z")
    assert state(aws_env, decision_id, key) == (not first, "ON" if not first else "OFF")


def test_a_legal_hold_on_an_unknown_decision_is_false_and_writes_nothing(aws_env: dict[str, str]) -> None:
    assert erasure_store(aws_env).set_legal_hold("01NOSUCHDECISION0000000000", True, "2026-12-02T10:00:00Z") is False
    found = boto3.client("dynamodb").get_item(
        TableName=aws_env["CANDOR_RECORDS_TABLE"], Key={"decision_id": {"S": "01NOSUCHDECISION0000000000"}}
    )
    assert "Item" not in found


def test_of_two_interleaved_erasures_only_one_marks_the_record(
    aws_env: dict[str, str], decision: tuple[str, str]
) -> None:
    decision_id, _ = decision
    other: list[bool] = []
    # The first request has read the index (not erased yet) when the second erases the record whole.
    paused = Paused(
        boto3.client("s3"),
        "list_object_versions",
        lambda: other.append(erasure_store(aws_env).erase(decision_id, "2026-12-02T10:00:01Z")),
    )
    assert erasure_store(aws_env, paused).erase(decision_id, "2026-12-02T10:00:00Z") is False
    assert other == [True]
    item = boto3.client("dynamodb").get_item(
        TableName=aws_env["CANDOR_RECORDS_TABLE"], Key={"decision_id": {"S": decision_id}}, ConsistentRead=True
    )["Item"]
    assert item["erasure_status"]["S"] == "erased"
    assert item["erasure_at"]["S"] == "2026-12-02T10:00:01Z"  # the one that said it erased


def test_a_restriction_is_marked_once_and_never_over_an_erasure(
    aws_env: dict[str, str], decision: tuple[str, str]
) -> None:
    decision_id, _ = decision
    store = erasure_store(aws_env)
    assert store.restrict(decision_id, "2026-12-02T10:00:00Z") is True
    assert store.restrict(decision_id, "2026-12-02T10:00:01Z") is False
    assert store.erase(decision_id, "2026-12-02T10:00:02Z") is True  # the obligation ended: erasable now
    assert store.restrict(decision_id, "2026-12-02T10:00:03Z") is False
