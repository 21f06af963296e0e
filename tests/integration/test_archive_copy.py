"""A decision's record staged in the pending table, readable at once, copied into the archive from the stream.

The record goes through the real `AwsRecordStore.put` inside a decision's commit and a real
`TransactWriteItems`; the copier is the real `ArchiveCopier` on moto. The readers run as their
functions (S3 answers an absent key 403 to a role that may not list the bucket, as AWS does).
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import boto3
import pytest

from functions.domain.seal import archived_json, new_salt, personal_json, seal
from functions.schemas.record import ExplanationRecord, PersonalPart
from functions.stores import aws_clients
from functions.stores.archive_copier import ArchiveCopier, CopyConflict
from functions.stores.decision_commit import one_commit, take
from functions.stores.pending_records import MAX_STAGED_BYTES, read_pending
from functions.stores.record_store import AwsRecordStore, archive_key, personal_key, put_new_object
from infra.local.invocation import running
from tests.support import erase, lambda_context, record_store
from tests.unit.domain.records import sample_envelope, sample_personal

READERS = ["CustomerFunction", "AuditFunction", "ReviewFunction", "ExplanationWorkerFunction"]


def record(text: str = "I was charged twice") -> ExplanationRecord:
    personal = sample_personal()
    if text != personal.inputs["text"]:
        personal = PersonalPart(inputs={"text": text}, redactions={}, segments={"age_band": "65+"}, salt=new_salt())
    return seal(sample_envelope(personal), personal)


def decide(store: AwsRecordStore, sealed: ExplanationRecord) -> list[dict[str, Any]]:
    """The decision path's write: the store stages its puts, the commit sends them in one transaction."""
    with one_commit():
        store.put(sealed)
        staged = take()
        boto3.client("dynamodb").transact_write_items(TransactItems=[{"Put": put} for put in staged])  # type: ignore[misc]
    return staged


@pytest.fixture
def store(aws_env: dict[str, str]) -> AwsRecordStore:
    return record_store(aws_env, boto3.client("dynamodb"), boto3.client("s3"))


@pytest.fixture
def copier(aws_env: dict[str, str]) -> ArchiveCopier:
    return ArchiveCopier(
        pending_table=aws_env["CANDOR_PENDING_TABLE"],
        bucket=aws_env["CANDOR_ARCHIVE_BUCKET"],
        personal_bucket=aws_env["CANDOR_PERSONAL_BUCKET"],
        kms_key_id=aws_env["CANDOR_KMS_KEY_ID"],
        dynamodb=boto3.client("dynamodb"),
        s3=boto3.client("s3"),
    )


def objects(aws_env: dict[str, str], sealed: ExplanationRecord) -> tuple[bytes | None, bytes | None]:
    """The archive and personal objects as an administrator sees them (None: absent)."""
    s3 = boto3.client("s3")
    found: list[bytes | None] = []
    for bucket, key in (
        (aws_env["CANDOR_ARCHIVE_BUCKET"], archive_key(sealed.envelope)),
        (aws_env["CANDOR_PERSONAL_BUCKET"], personal_key(sealed.envelope.decision_id)),
    ):
        try:
            found.append(s3.get_object(Bucket=bucket, Key=key)["Body"].read())
        except s3.exceptions.NoSuchKey:
            found.append(None)
    return found[0], found[1]


def personal_versions(aws_env: dict[str, str], sealed: ExplanationRecord) -> list[str]:
    listing = boto3.client("s3").list_object_versions(
        Bucket=aws_env["CANDOR_PERSONAL_BUCKET"], Prefix=personal_key(sealed.envelope.decision_id)
    )
    return [v["VersionId"] for v in [*listing.get("Versions", []), *listing.get("DeleteMarkers", [])]]


def read_as(function: str, aws_env: dict[str, str], decision_id: str) -> Any:
    with running(function):
        return record_store(aws_env, aws_clients.dynamodb(), aws_clients.s3()).get(decision_id)


def test_on_the_decision_path_the_record_is_staged_in_dynamodb_with_the_objects_exact_bytes(store, aws_env):
    sealed = record()
    staged = decide(store, sealed)
    tables = [put["TableName"] for put in staged]
    assert tables == [aws_env["CANDOR_PENDING_TABLE"], aws_env["CANDOR_RECORDS_TABLE"]]  # one transaction, no S3
    assert objects(aws_env, sealed) == (None, None)
    pending = read_pending(boto3.client("dynamodb"), aws_env["CANDOR_PENDING_TABLE"], sealed.envelope.decision_id)
    assert pending is not None
    assert pending.sealed == archived_json(sealed) and pending.personal == personal_json(sealed)
    assert (pending.archive_key, pending.personal_key) == (
        archive_key(sealed.envelope),
        personal_key(sealed.envelope.decision_id),
    )
    assert (pending.content_sha256, pending.decided_at) == (sealed.content_sha256, sealed.envelope.decided_at)


@pytest.mark.parametrize("function", READERS)
def test_every_reader_reads_a_record_before_its_copy_from_the_pending_item(store, aws_env, function):
    sealed = record()
    decide(store, sealed)
    stored = read_as(function, aws_env, sealed.envelope.decision_id)  # S3 answers each of them 403, not 404
    assert stored is not None and stored.record == sealed


def test_the_copier_writes_both_objects_as_the_decision_writer_would_then_deletes_the_item(store, copier, aws_env):
    sealed = record()
    decide(store, sealed)
    assert copier.copy(sealed.envelope.decision_id) == "copied"
    assert objects(aws_env, sealed) == (archived_json(sealed), personal_json(sealed))
    head = boto3.client("s3").head_object(
        Bucket=aws_env["CANDOR_ARCHIVE_BUCKET"], Key=archive_key(sealed.envelope), ChecksumMode="ENABLED"
    )
    assert head["ServerSideEncryption"] == "aws:kms"
    assert head["ChecksumSHA256"] == base64.b64encode(hashlib.sha256(archived_json(sealed)).digest()).decode()
    assert read_pending(boto3.client("dynamodb"), aws_env["CANDOR_PENDING_TABLE"], sealed.envelope.decision_id) is None
    for function in READERS:
        stored = read_as(function, aws_env, sealed.envelope.decision_id)
        assert stored is not None and stored.record == sealed
    assert copier.copy(sealed.envelope.decision_id) == "absent"  # a redelivery after the delete


def test_a_redelivered_copy_whose_objects_exist_with_the_same_bytes_completes(store, copier, aws_env):
    sealed = record()
    decide(store, sealed)
    # The first delivery wrote both objects, then stopped before its delete.
    s3, key_id = boto3.client("s3"), aws_env["CANDOR_KMS_KEY_ID"]
    put_new_object(s3, aws_env["CANDOR_ARCHIVE_BUCKET"], archive_key(sealed.envelope), archived_json(sealed), key_id)
    put_new_object(
        s3, aws_env["CANDOR_PERSONAL_BUCKET"], personal_key(sealed.envelope.decision_id), personal_json(sealed), key_id
    )
    assert copier.copy(sealed.envelope.decision_id) == "copied"
    assert objects(aws_env, sealed) == (archived_json(sealed), personal_json(sealed))
    assert len(personal_versions(aws_env, sealed)) == 1  # nothing overwritten


def test_an_object_with_other_bytes_at_the_key_is_a_conflict_and_the_record_stays_pending(store, copier, aws_env):
    sealed = record()
    decide(store, sealed)
    forged = archived_json(sealed).replace(b"billing", b"fraud")
    s3 = boto3.client("s3")
    put_new_object(
        s3, aws_env["CANDOR_ARCHIVE_BUCKET"], archive_key(sealed.envelope), forged, aws_env["CANDOR_KMS_KEY_ID"]
    )
    with pytest.raises(CopyConflict, match="other content"):
        copier.copy(sealed.envelope.decision_id)
    assert objects(aws_env, sealed) == (forged, None)  # neither overwritten nor followed by the personal part
    pending = read_pending(boto3.client("dynamodb"), aws_env["CANDOR_PENDING_TABLE"], sealed.envelope.decision_id)
    assert pending is not None and pending.sealed == archived_json(sealed)


def test_an_erasure_before_the_copy_removes_the_personal_part_from_the_pending_item(store, copier, aws_env):
    sealed = record()
    decide(store, sealed)
    erase(aws_env, sealed.envelope.decision_id)
    pending = read_pending(boto3.client("dynamodb"), aws_env["CANDOR_PENDING_TABLE"], sealed.envelope.decision_id)
    assert pending is not None and pending.personal is None and pending.sealed == archived_json(sealed)
    stored = read_as("AuditFunction", aws_env, sealed.envelope.decision_id)
    assert stored is not None and stored.record.personal is None and stored.record.envelope == sealed.envelope
    assert copier.copy(sealed.envelope.decision_id) == "copied"
    assert objects(aws_env, sealed) == (archived_json(sealed), None)
    assert personal_versions(aws_env, sealed) == []


@contextmanager
def erasure_during_the_copy(
    copier: ArchiveCopier, aws_env: dict[str, str], decision_id: str, at: str
) -> Iterator[None]:
    """The privacy officer erases the record in the middle of the copy: just before the copier's `at` call."""
    client: Any = copier.s3 if at == "personal PutObject" else copier.dynamodb
    event = "before-parameter-build.s3.PutObject" if at == "personal PutObject" else "before-call.dynamodb.DeleteItem"
    done: list[bool] = []

    def erase_once(params: dict[str, Any], **_: object) -> None:
        if at == "personal PutObject" and params.get("Bucket") != aws_env["CANDOR_PERSONAL_BUCKET"]:
            return
        if not done:
            done.append(True)
            erase(aws_env, decision_id)  # the privacy function's own clients: not this hook's

    client.meta.events.register(event, erase_once, unique_id="erasure-race")
    try:
        yield
    finally:
        client.meta.events.unregister(event, unique_id="erasure-race")
    assert done, "the erasure never ran"


# Before the personal write: the erasure's listing found nothing, and only the copier can delete the
# object it then writes. Before the delete: the erasure's listing finds the object and deletes it.
@pytest.mark.parametrize("at", ["personal PutObject", "DeleteItem"])
def test_a_copy_racing_an_erasure_leaves_no_personal_version(store, copier, aws_env, at):
    sealed = record()
    decide(store, sealed)
    decision_id = sealed.envelope.decision_id
    with erasure_during_the_copy(copier, aws_env, decision_id, at):
        assert copier.copy(decision_id) == "erased"
    assert personal_versions(aws_env, sealed) == []
    assert objects(aws_env, sealed) == (archived_json(sealed), None)
    assert read_pending(boto3.client("dynamodb"), aws_env["CANDOR_PENDING_TABLE"], decision_id) is None
    stored = read_as("CustomerFunction", aws_env, decision_id)
    assert stored is not None and stored.record.personal is None


def test_a_record_too_large_for_one_item_is_written_to_s3_directly_before_the_transaction(store, copier, aws_env):
    sealed = record("x" * MAX_STAGED_BYTES)  # the personal part alone is over what a pending item may hold
    assert len(personal_json(sealed)) > MAX_STAGED_BYTES
    staged = decide(store, sealed)
    assert [put["TableName"] for put in staged] == [aws_env["CANDOR_RECORDS_TABLE"]]  # the index item only
    assert objects(aws_env, sealed) == (archived_json(sealed), personal_json(sealed))
    assert read_pending(boto3.client("dynamodb"), aws_env["CANDOR_PENDING_TABLE"], sealed.envelope.decision_id) is None
    stored = read_as("CustomerFunction", aws_env, sealed.envelope.decision_id)
    assert stored is not None and stored.record == sealed


def test_dynamodb_itself_refuses_an_item_over_400_kb(aws_env):
    # Why the limit above: the pending item could not hold this record at all.
    with pytest.raises(boto3.client("dynamodb").exceptions.ClientError, match="size"):
        boto3.client("dynamodb").put_item(
            TableName=aws_env["CANDOR_PENDING_TABLE"],
            Item={"decision_id": {"S": "too-large"}, "sealed": {"B": b"x" * (400 * 1024 + 1)}},
        )


def test_outside_a_commit_the_store_writes_objects_then_the_index_item(store, aws_env):
    sealed = record()
    store.put(sealed)  # tests, benchmark record generation: no pending item, no copy needed
    assert objects(aws_env, sealed) == (archived_json(sealed), personal_json(sealed))
    assert read_pending(boto3.client("dynamodb"), aws_env["CANDOR_PENDING_TABLE"], sealed.envelope.decision_id) is None


def stream_event(aws_env: dict[str, str], decision_ids: list[str]) -> dict[str, Any]:
    """Lambda's event for the pending table's KEYS_ONLY stream records (INSERTs)."""
    arn = f"arn:aws:dynamodb:eu-west-1:123456789012:table/{aws_env['CANDOR_PENDING_TABLE']}/stream/2026-12-02T00:00:00"
    return {
        "Records": [
            {
                "eventID": str(n),
                "eventName": "INSERT",
                "eventSource": "aws:dynamodb",
                "eventSourceARN": arn,
                "awsRegion": "eu-west-1",
                "dynamodb": {
                    "Keys": {"decision_id": {"S": decision_id}},
                    "SequenceNumber": f"{100 + n}",
                    "StreamViewType": "KEYS_ONLY",
                    "SizeBytes": 40,
                },
            }
            for n, decision_id in enumerate(decision_ids)
        ]
    }


def test_the_handler_copies_a_batch_and_reports_the_first_record_it_could_not_copy(store, aws_env):
    from functions.handlers.archive_copy import lambda_handler

    records = []
    for n in range(3):  # three decisions, each its own id
        personal = sample_personal()
        envelope = sample_envelope(personal).model_copy(update={"decision_id": f"01JF00000000000000000000B{n}"})
        records.append(seal(envelope, personal))
    for sealed in records:
        decide(store, sealed)
    put_new_object(  # someone else's object at the second record's key
        boto3.client("s3"),
        aws_env["CANDOR_ARCHIVE_BUCKET"],
        archive_key(records[1].envelope),
        b"{}",
        aws_env["CANDOR_KMS_KEY_ID"],
    )
    event = stream_event(aws_env, [sealed.envelope.decision_id for sealed in records])
    with running("ArchiveCopyFunction"):
        answer = lambda_handler(event, lambda_context("ArchiveCopyFunction"))
    assert answer == {"batchItemFailures": [{"itemIdentifier": "101"}]}  # Lambda retries from the second
    assert objects(aws_env, records[0]) == (archived_json(records[0]), personal_json(records[0]))
    assert objects(aws_env, records[2]) == (None, None)  # not tried: the retry starts before it
    dynamodb = boto3.client("dynamodb")
    assert read_pending(dynamodb, aws_env["CANDOR_PENDING_TABLE"], records[1].envelope.decision_id) is not None
    with running("ArchiveCopyFunction"):
        again = lambda_handler(
            stream_event(aws_env, [records[0].envelope.decision_id, records[2].envelope.decision_id]),
            lambda_context("ArchiveCopyFunction"),
        )
    assert again == {"batchItemFailures": []}  # the first is absent now (copied), the third is copied
    assert objects(aws_env, records[2]) == (archived_json(records[2]), personal_json(records[2]))
