"""Integrity digests against moto: written, signed with KMS, chained, verified; every tampering is caught.

Records go through the real `AwsRecordStore.put`; digests through the real job. moto does not
enforce compliance-mode retention (it would let us delete a locked object), which is what lets
these tests tamper at all: in AWS, Object Lock refuses most of these mutations outright, and the
digests catch the rest (a new object version, index edits, a key with too much power).
"""

from __future__ import annotations

import base64
import itertools
import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

import boto3
import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from functions.domain.integrity import DigestRun, IntegrityReport, Windowing, iso_utc
from functions.domain.seal import canonical_json, seal, sha256_hex
from functions.integrity_service import IntegrityService, build_integrity_service
from functions.schemas.record import ExplanationRecord, Retention
from functions.schemas.settings import AuditSettings
from functions.stores.digest_store import digest_key
from functions.stores.integrity_records import AwsRecordSource
from functions.stores.record_store import AwsRecordStore, archive_key
from infra import template as tpl
from infra.local.invocation import running
from tests.support import lambda_context
from tests.support import record_store as support_record_store
from tests.unit.domain.records import sample_envelope, sample_personal

FIRST = datetime(2026, 11, 27, 10, tzinfo=UTC)
NOW = FIRST + timedelta(hours=3, minutes=10)  # windows 10:00, 11:00 and 12:00 are closed
WINDOWS = [FIRST + timedelta(hours=h) for h in range(3)]


def make_record(n: int, decided_at: datetime, *, consequential: bool = False) -> ExplanationRecord:
    personal = sample_personal()
    delete_after = (decided_at.date() + timedelta(days=3 * 365 if consequential else 183)).isoformat()
    envelope = sample_envelope(personal).model_copy(
        update={
            "decision_id": f"01JF{n:022d}",
            "request_id": f"chat-{n}",
            "decided_at": decided_at.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
            "retention": Retention(
                retention_class="consequential" if consequential else "standard", delete_after=delete_after
            ),
        }
    )
    return seal(envelope, personal)


def record_store(env: dict[str, str]) -> AwsRecordStore:
    return support_record_store(env, boto3.client("dynamodb"), boto3.client("s3"))


def service() -> IntegrityService:
    return build_integrity_service(AuditSettings())  # from the provisioned environment


def write_due(now: datetime) -> DigestRun:
    with running("IntegrityFunction"):  # the scheduled job, with its role's S3 answers
        return service().write_due(now)


def verify(start: datetime = FIRST, end: datetime = FIRST + timedelta(hours=3), now: datetime = NOW) -> IntegrityReport:
    with running("AuditFunction"):  # GET /v1/integrity/verify
        return service().verify(start, end, now=now)


def seed(env: dict[str, str], *, completed: bool = False) -> list[ExplanationRecord]:
    """Two records per window, one of them consequential, then the job digests the three windows.

    `completed`: the consequential record gets a deferred explanation's completion first.
    """
    records = [
        make_record(n, window + timedelta(minutes=7 + 40 * (n % 2)), consequential=n == 3)
        for n, window in enumerate(w for w in WINDOWS for _ in range(2))
    ]
    store = record_store(env)
    for record in records:
        store.put(record)
    if completed:
        _store_completion_of(env, records[3])
    run = write_due(NOW)
    assert run.windows_written == [iso_utc(w) for w in WINDOWS]
    return records


@pytest.fixture
def integrity_env(aws_env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    monkeypatch.setenv("CANDOR_DIGEST_FIRST_WINDOW", iso_utc(FIRST))
    return aws_env


# -------------------------------------------------------------------------- the job


def test_digests_are_written_signed_chained_and_verify(integrity_env: dict[str, str]) -> None:
    records = seed(integrity_env)
    s3 = boto3.client("s3")
    bucket = integrity_env["CANDOR_ARCHIVE_BUCKET"]

    stored = [json.loads(s3.get_object(Bucket=bucket, Key=digest_key(w))["Body"].read()) for w in WINDOWS]
    assert digest_key(WINDOWS[0]) == "digests/2026/11/27/10.json"
    first = stored[0]["digest"]
    assert first["previous_digest_sha256"] is None
    assert first["records"] == sorted(
        ({"decision_id": r.envelope.decision_id, "content_sha256": r.content_sha256} for r in records[:2]),
        key=lambda e: e["decision_id"],
    )
    assert first["signing_key_id"] == integrity_env["CANDOR_DIGEST_KEY_ID"]
    assert (first["window_start"], first["window_end"]) == ("2026-11-27T10:00:00Z", "2026-11-27T11:00:00Z")
    for before, after in itertools.pairwise(stored):
        assert after["digest"]["previous_digest_sha256"] == before["digest_sha256"]
    signature = base64.b64decode(stored[1]["signature"])
    checked = boto3.client("kms").verify(
        KeyId=integrity_env["CANDOR_DIGEST_KEY_ID"],
        Message=bytes.fromhex(stored[1]["digest_sha256"]),
        MessageType="DIGEST",
        Signature=signature,
        SigningAlgorithm="ECDSA_SHA_256",
    )
    assert checked["SignatureValid"]

    report = verify()
    assert report.ok, report
    assert (report.windows_checked, report.records_checked) == (3, 6)
    assert report.undigested_windows == []


def test_the_job_reads_a_windows_index_items_consistently_and_only_that_window(
    integrity_env: dict[str, str],
) -> None:
    records = [make_record(n, FIRST + timedelta(minutes=50 * n)) for n in range(3)]  # 10:00, 10:50, 11:40
    store = record_store(integrity_env)
    for record in records:
        store.put(record)
    dynamodb, table = boto3.client("dynamodb"), integrity_env["CANDOR_RECORDS_TABLE"]
    batch_gets: list[dict[str, Any]] = []
    dynamodb.meta.events.register(
        "provide-client-params.dynamodb.BatchGetItem", lambda params, **_: batch_gets.append(params)
    )
    source = AwsRecordSource(
        table=table,
        bucket=integrity_env["CANDOR_ARCHIVE_BUCKET"],
        windowing=Windowing(),
        dynamodb=dynamodb,
        s3=boto3.client("s3"),
        index_shards=AuditSettings().index_shards,
    )
    found = list(source.indexed(FIRST, FIRST + timedelta(hours=1)))
    assert sorted(r.decision_id for r in found) == sorted(r.envelope.decision_id for r in records[:2])
    assert {r.content_sha256 for r in found} == {r.content_sha256 for r in records[:2]}
    # DynamoDB's BatchGetItem is eventually consistent unless asked: a record written just before
    # the job must not be missing from its digest.
    assert batch_gets and all(request["RequestItems"][table]["ConsistentRead"] is True for request in batch_gets)


def test_the_job_is_idempotent_and_catches_up_after_downtime(integrity_env: dict[str, str]) -> None:
    seed(integrity_env)
    assert write_due(NOW).windows_written == []  # nothing new closed

    late = make_record(99, NOW - timedelta(minutes=9))  # 13:01, in the 13:00 window
    record_store(integrity_env).put(late)
    assert write_due(NOW + timedelta(minutes=40)).windows_written == []  # 13:00 closes at 14:05
    run = write_due(NOW + timedelta(hours=5))  # down for hours: every missed window, in order
    assert run.windows_written == [iso_utc(FIRST + timedelta(hours=h)) for h in range(3, 8)]
    assert run.records_listed == 1
    report = verify(FIRST, FIRST + timedelta(hours=10), now=NOW + timedelta(hours=5))
    assert report.ok, report
    assert report.records_checked == 7
    assert report.undigested_windows == [iso_utc(FIRST + timedelta(hours=h)) for h in (8, 9)]


def test_a_consequential_record_is_locked_until_its_delete_after_date(integrity_env: dict[str, str]) -> None:
    records = seed(integrity_env)
    s3 = boto3.client("s3")
    bucket = integrity_env["CANDOR_ARCHIVE_BUCKET"]
    consequential, standard = records[3], records[2]
    assert consequential.envelope.retention.retention_class == "consequential"

    head = s3.head_object(Bucket=bucket, Key=archive_key(consequential.envelope))
    delete_after = date.fromisoformat(consequential.envelope.retention.delete_after)
    assert head["ObjectLockMode"] == "COMPLIANCE"
    assert head["ObjectLockRetainUntilDate"] == datetime.combine(delete_after, datetime.max.time(), UTC).replace(
        microsecond=0
    )
    # The standard record keeps the bucket's default (183 days from its write), shorter than three years.
    default_until = s3.head_object(Bucket=bucket, Key=archive_key(standard.envelope))["ObjectLockRetainUntilDate"]
    assert default_until < head["ObjectLockRetainUntilDate"] - timedelta(days=365)
    # The digest listing it is kept as long.
    digest_head = s3.head_object(Bucket=bucket, Key=digest_key(WINDOWS[1]))
    assert digest_head["ObjectLockRetainUntilDate"] == head["ObjectLockRetainUntilDate"]


def test_a_consequential_records_completion_is_locked_as_long_as_the_record(integrity_env: dict[str, str]) -> None:
    records = seed(integrity_env, completed=True)
    s3 = boto3.client("s3")
    bucket = integrity_env["CANDOR_ARCHIVE_BUCKET"]
    record_until = s3.head_object(Bucket=bucket, Key=archive_key(records[3].envelope))["ObjectLockRetainUntilDate"]
    completion = s3.head_object(Bucket=bucket, Key=_completion_key(records[3]))
    assert completion["ObjectLockMode"] == "COMPLIANCE"
    assert completion["ObjectLockRetainUntilDate"] == record_until


def _completion_key(record: ExplanationRecord) -> str:
    return f"completions/test/{record.envelope.decision_id}.json"


def _store_completion_of(env: dict[str, str], record: ExplanationRecord) -> None:
    """A completion object and the index attribute naming it (the worker's two writes, abridged)."""
    key = _completion_key(record)
    boto3.client("s3").put_object(Bucket=env["CANDOR_ARCHIVE_BUCKET"], Key=key, Body=b"{}")
    boto3.client("dynamodb").update_item(
        TableName=env["CANDOR_RECORDS_TABLE"],
        Key={"decision_id": {"S": record.envelope.decision_id}},
        UpdateExpression="SET completion_key = :key",
        ExpressionAttributeValues={":key": {"S": key}},
    )


def test_the_scheduled_handler_writes_the_newest_closed_window(aws_env: dict[str, str]) -> None:
    from functions.handlers.integrity import lambda_handler

    event = json.loads((tpl.REPO_ROOT / "events" / "integrity-schedule.json").read_text())  # rate(1 hour)
    context = lambda_context("IntegrityFunction", timeout_s=900, memory_mb=512)
    with running("IntegrityFunction"):
        result = lambda_handler(event, context)
        assert len(result["windows_written"]) == 1  # no digest yet: the chain starts at the newest closed window
        assert result["caught_up"] is True
        assert lambda_handler(event, context)["windows_written"] == []


# --------------------------------------------------------------- every mutation is caught


def _put_new_version(bucket: str, key: str, body: bytes) -> None:
    boto3.client("s3").put_object(Bucket=bucket, Key=key, Body=body, ChecksumAlgorithm="SHA256")


def _read(bucket: str, key: str) -> bytes:
    return boto3.client("s3").get_object(Bucket=bucket, Key=key)["Body"].read()


Mutation = Callable[[dict[str, str], list[ExplanationRecord], st.DataObject], Callable[[IntegrityReport], bool]]


def alter_envelope(env: dict[str, str], records: list[ExplanationRecord], data: st.DataObject):
    record = data.draw(st.sampled_from(records), label="record")
    key, bucket = archive_key(record.envelope), env["CANDOR_ARCHIVE_BUCKET"]
    body = _read(bucket, key)
    if data.draw(st.booleans(), label="flip a byte"):
        at = data.draw(st.integers(0, 10_000), label="at") % len(body)
        bit = data.draw(st.integers(0, 7), label="bit")
        changed = body[:at] + bytes([body[at] ^ (1 << bit)]) + body[at + 1 :]
    else:
        sealed = json.loads(body)
        field = data.draw(st.sampled_from(["outcome", "summary", "decided_at", "hash"]), label="field")
        if field == "outcome":
            sealed["envelope"]["outcome"]["label"] = "refunds"
        elif field == "summary":
            sealed["envelope"]["explanation"]["summary"] += " (edited)"
        elif field == "decided_at":
            sealed["envelope"]["decided_at"] = sealed["envelope"]["decided_at"].replace("T1", "T0")
        else:  # a forger who re-hashes the edited envelope
            sealed["envelope"]["channel"] = "phone"
            sealed["content_sha256"] = sha256_hex(canonical_json(sealed["envelope"]))
        changed = canonical_json(sealed)
    _put_new_version(bucket, key, changed)
    return lambda report: record.envelope.decision_id in {f.decision_id for f in report.altered}


def delete_index_item(env: dict[str, str], records: list[ExplanationRecord], data: st.DataObject):
    record = data.draw(st.sampled_from(records), label="record")
    boto3.client("dynamodb").delete_item(
        TableName=env["CANDOR_RECORDS_TABLE"], Key={"decision_id": {"S": record.envelope.decision_id}}
    )
    return lambda report: record.envelope.decision_id in {f.decision_id for f in report.missing}


def alter_index_hash(env: dict[str, str], records: list[ExplanationRecord], data: st.DataObject):
    record = data.draw(st.sampled_from(records), label="record")
    boto3.client("dynamodb").update_item(
        TableName=env["CANDOR_RECORDS_TABLE"],
        Key={"decision_id": {"S": record.envelope.decision_id}},
        UpdateExpression="SET content_sha256 = :h",
        ExpressionAttributeValues={":h": {"S": "0" * 64}},
    )
    return lambda report: record.envelope.decision_id in {f.decision_id for f in report.altered}


_inserted = itertools.count(500)


def insert_record(env: dict[str, str], records: list[ExplanationRecord], data: st.DataObject):
    window = data.draw(st.sampled_from(WINDOWS), label="window")
    minute = data.draw(st.integers(0, 59), label="minute")
    extra = make_record(next(_inserted), window + timedelta(minutes=minute))
    record_store(env).put(extra)  # index item and archive object, never digested
    return lambda report: extra.envelope.decision_id in {f.decision_id for f in report.inserted}


def alter_digest(env: dict[str, str], records: list[ExplanationRecord], data: st.DataObject):
    window = data.draw(st.sampled_from(WINDOWS), label="window")
    bucket, key = env["CANDOR_ARCHIVE_BUCKET"], digest_key(window)
    stored = json.loads(_read(bucket, key))
    how = data.draw(st.sampled_from(["drop", "rehash", "created", "flip"]), label="how")
    if how == "drop":
        stored["digest"]["records"] = stored["digest"]["records"][1:]
    elif how == "rehash":
        stored["digest"]["records"][0]["content_sha256"] = "f" * 64
    elif how == "created":
        stored["digest"]["created_at"] = "2026-11-27T23:59:59Z"
    body = canonical_json(stored)
    if how == "flip":
        at = data.draw(st.integers(0, 10_000), label="at") % len(body)
        body = body[:at] + bytes([body[at] ^ 0x01]) + body[at + 1 :]
    _put_new_version(bucket, key, body)
    return lambda report: iso_utc(window) in {f.window_start for f in report.bad_signatures}


def alter_signature(env: dict[str, str], records: list[ExplanationRecord], data: st.DataObject):
    window = data.draw(st.sampled_from(WINDOWS), label="window")
    bucket, key = env["CANDOR_ARCHIVE_BUCKET"], digest_key(window)
    stored = json.loads(_read(bucket, key))
    if data.draw(st.booleans(), label="another digest's signature"):
        other = next(w for w in WINDOWS if w != window)
        stored["signature"] = json.loads(_read(bucket, digest_key(other)))["signature"]
    else:
        raw = bytearray(base64.b64decode(stored["signature"]))
        at = data.draw(st.integers(0, 255), label="at") % len(raw)
        raw[at] ^= 1 << data.draw(st.integers(0, 7), label="bit")
        stored["signature"] = base64.b64encode(bytes(raw)).decode()
    _put_new_version(bucket, key, canonical_json(stored))
    return lambda report: iso_utc(window) in {f.window_start for f in report.bad_signatures}


def delete_digest(env: dict[str, str], records: list[ExplanationRecord], data: st.DataObject):
    window = data.draw(st.sampled_from(WINDOWS[:-1]), label="window")  # the newest would just look undigested
    boto3.client("s3").delete_object(Bucket=env["CANDOR_ARCHIVE_BUCKET"], Key=digest_key(window))
    return lambda report: iso_utc(window) in {f.window_start for f in report.broken_chain}


def delete_envelope(env: dict[str, str], records: list[ExplanationRecord], data: st.DataObject):
    record = data.draw(st.sampled_from(records), label="record")
    boto3.client("s3").delete_object(Bucket=env["CANDOR_ARCHIVE_BUCKET"], Key=archive_key(record.envelope))
    return lambda report: record.envelope.decision_id in {f.decision_id for f in report.missing}


MUTATIONS = [
    alter_envelope,
    delete_envelope,
    delete_index_item,
    alter_index_hash,
    insert_record,
    alter_digest,
    alter_signature,
    delete_digest,
]


@dataclass(frozen=True)
class Snapshot:
    """The archive bucket's objects and the records table's items, to put back after a mutation.

    Restoring writes the old bytes as a new version (moto, like S3, will not delete a locked
    version), removes what the mutation added, and puts back changed or deleted items.
    """

    objects: dict[str, bytes]
    items: dict[str, dict[str, Any]]


def _objects(bucket: str) -> dict[str, bytes]:
    s3 = boto3.client("s3")
    pages = s3.get_paginator("list_objects_v2").paginate(Bucket=bucket)
    keys = [o["Key"] for page in pages for o in page.get("Contents", [])]
    return {key: _read(bucket, key) for key in keys}


def _items(table: str) -> dict[str, dict[str, Any]]:
    # A Scan is fine in a test: the code under test never scans.
    return {i["decision_id"]["S"]: i for i in boto3.client("dynamodb").scan(TableName=table)["Items"]}


def take_snapshot(env: dict[str, str]) -> Snapshot:
    return Snapshot(_objects(env["CANDOR_ARCHIVE_BUCKET"]), _items(env["CANDOR_RECORDS_TABLE"]))


def restore(env: dict[str, str], snapshot: Snapshot) -> None:
    s3, dynamodb = boto3.client("s3"), boto3.client("dynamodb")
    bucket, table = env["CANDOR_ARCHIVE_BUCKET"], env["CANDOR_RECORDS_TABLE"]
    now = _objects(bucket)
    for key in now.keys() - snapshot.objects.keys():
        s3.delete_object(Bucket=bucket, Key=key)
    for key, body in snapshot.objects.items():
        if now.get(key) != body:
            _put_new_version(bucket, key, body)
    items = _items(table)
    for decision_id in items.keys() - snapshot.items.keys():
        dynamodb.delete_item(TableName=table, Key={"decision_id": {"S": decision_id}})
    for decision_id, item in snapshot.items.items():
        if items.get(decision_id) != item:
            dynamodb.put_item(TableName=table, Item=item)


@pytest.fixture
def seeded(integrity_env: dict[str, str]) -> tuple[dict[str, str], list[ExplanationRecord], Snapshot]:
    records = seed(integrity_env)
    return integrity_env, records, take_snapshot(integrity_env)


@pytest.mark.slow
# No shrinking: an example takes about a second, and the failing draws are printed as they are.
@settings(
    max_examples=4,
    deadline=None,
    phases=[Phase.explicit, Phase.reuse, Phase.generate],
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(data=st.data())
def test_every_mutation_is_caught(
    seeded: tuple[dict[str, str], list[ExplanationRecord], Snapshot], data: st.DataObject
) -> None:
    """Each example applies every kind of mutation, one at a time, to targets hypothesis picks."""
    env, records, snapshot = seeded
    for mutation in MUTATIONS:
        try:
            caught = mutation(env, records, data)
            report = verify()
            assert not report.ok, (mutation.__name__, report)
            assert caught(report), (mutation.__name__, report)
        finally:
            restore(env, snapshot)
    assert verify().ok  # every mutation was undone: the next example starts clean


def test_a_window_whose_record_awaits_its_archive_copy_is_deferred_then_digested_after_the_copy(integrity_env):
    from functions.stores.archive_copier import ArchiveCopier
    from functions.stores.decision_commit import one_commit, take

    env, store = integrity_env, record_store(integrity_env)
    store.put(make_record(0, WINDOWS[0] + timedelta(minutes=7)))
    pending = make_record(1, WINDOWS[1] + timedelta(minutes=59, seconds=59))  # the window's last second
    with one_commit():  # on the decision path: staged, not in S3
        store.put(pending)
        boto3.client("dynamodb").transact_write_items(TransactItems=[{"Put": put} for put in take()])  # type: ignore[misc]

    run = write_due(NOW)
    assert run.windows_written == [iso_utc(WINDOWS[0])]  # 11:00 waits for the copy, and 12:00 with it
    assert run.deferred == iso_utc(WINDOWS[1]) and not run.caught_up
    report = verify()
    assert report.ok and not report.missing, report  # deferred, never reported missing

    copier = ArchiveCopier(
        pending_table=env["CANDOR_PENDING_TABLE"],
        bucket=env["CANDOR_ARCHIVE_BUCKET"],
        personal_bucket=env["CANDOR_PERSONAL_BUCKET"],
        kms_key_id=env["CANDOR_KMS_KEY_ID"],
        dynamodb=boto3.client("dynamodb"),
        s3=boto3.client("s3"),
    )
    assert copier.copy(pending.envelope.decision_id) == "copied"
    run = write_due(NOW)
    assert run.windows_written == [iso_utc(w) for w in WINDOWS[1:]] and run.deferred is None
    report = verify()
    assert report.ok and report.records_checked == 2, report
