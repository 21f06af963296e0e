"""The AWS record store against moto: write-once, encrypted, checksummed, readable back."""

import boto3
import pytest

from functions.domain.errors import DependencyUnavailable
from functions.domain.index_shards import shard_of
from functions.domain.seal import seal, verify
from functions.stores import aws_clients
from functions.stores.record_store import AwsRecordStore, archive_key, personal_key
from infra.local.invocation import running
from tests.support import erase, record_store
from tests.unit.domain.records import sample_envelope, sample_personal


@pytest.fixture
def store(aws_env) -> AwsRecordStore:
    return record_store(aws_env, boto3.client("dynamodb"), boto3.client("s3"))


def record():
    personal = sample_personal()
    return seal(sample_envelope(personal), personal)


def test_a_record_is_written_once_and_read_back_intact(store, aws_env):
    sealed = record()
    store.put(sealed)

    stored = store.get(sealed.envelope.decision_id)
    assert stored is not None
    assert stored.record == sealed
    assert verify(stored.record)
    shard = shard_of(sealed.envelope.decision_id, store.index_shards)
    assert shard == 17  # the fixed id of the sample record, in one of 32 shards: not shard 0's unsharded keys
    assert stored.item["model_day"] == "ticket-router#2026-11-27#17"
    assert stored.item["model_outcome"] == "ticket-router#billing#17"
    assert stored.item["day"] == "2026-11-27#17"
    assert stored.item["content_sha256"] == sealed.content_sha256
    assert stored.item["segments"] == {"age_band": "65+"}
    head = boto3.client("s3").head_object(Bucket=aws_env["CANDOR_ARCHIVE_BUCKET"], Key=archive_key(sealed.envelope))
    assert head["ServerSideEncryption"] == "aws:kms"
    assert head["SSEKMSKeyId"].endswith(aws_env["CANDOR_KMS_KEY_ID"].split("/")[-1])


def test_a_second_write_of_the_same_decision_is_refused(store):
    sealed = record()
    store.put(sealed)
    with pytest.raises(DependencyUnavailable, match="PreconditionFailed"):
        store.put(sealed)


def test_an_index_item_cannot_be_overwritten(store, aws_env):
    sealed = record()
    store.put(sealed)
    s3 = boto3.client("s3")
    s3.delete_object(Bucket=aws_env["CANDOR_ARCHIVE_BUCKET"], Key=archive_key(sealed.envelope))
    s3.delete_object(Bucket=aws_env["CANDOR_PERSONAL_BUCKET"], Key=personal_key(sealed.envelope.decision_id))
    with pytest.raises(DependencyUnavailable, match="ConditionalCheckFailed"):
        store.put(sealed)  # the object writes succeed again; the conditional index put does not


def test_without_its_personal_part_a_record_still_verifies(store, aws_env):
    sealed = record()
    store.put(sealed)
    erase(aws_env, sealed.envelope.decision_id)
    stored = store.get(sealed.envelope.decision_id)
    assert stored is not None
    assert stored.record.personal is None
    assert stored.record.envelope == sealed.envelope
    assert verify(stored.record)


# In AWS no function may list the personal bucket, so S3 answers them 403 for a personal part that
# is gone (tests/integration/conftest.py emulates it): the index item's erasure mark is what says so.
@pytest.mark.parametrize("function", ["CustomerFunction", "AuditFunction", "ExplanationWorkerFunction"])
def test_each_reader_gets_an_erased_record_without_asking_for_its_personal_part(store, aws_env, function):
    sealed = record()
    store.put(sealed)
    erase(aws_env, sealed.envelope.decision_id)
    with running(function):
        stored = record_store(aws_env, aws_clients.dynamodb(), aws_clients.s3()).get(sealed.envelope.decision_id)
    assert stored is not None and stored.item["erasure_status"] == "erased"
    assert stored.record.personal is None and stored.record.envelope == sealed.envelope
    assert verify(stored.record)


def test_a_personal_part_gone_without_the_erasure_mark_is_a_failure_not_an_erasure(store, aws_env):
    sealed = record()
    store.put(sealed)
    boto3.client("s3").delete_object(  # an erasure cut short between the delete and the mark
        Bucket=aws_env["CANDOR_PERSONAL_BUCKET"], Key=personal_key(sealed.envelope.decision_id)
    )
    with running("AuditFunction"), pytest.raises(DependencyUnavailable, match="AccessDenied"):
        record_store(aws_env, aws_clients.dynamodb(), aws_clients.s3()).get(sealed.envelope.decision_id)
    erase(aws_env, sealed.envelope.decision_id)  # the privacy officer repeats the request: it finishes
    with running("AuditFunction"):
        stored = record_store(aws_env, aws_clients.dynamodb(), aws_clients.s3()).get(sealed.envelope.decision_id)
    assert stored is not None and stored.record.personal is None


def test_unknown_decisions_and_archive_only_objects_do_not_exist(store, aws_env):
    sealed = record()
    assert store.get(sealed.envelope.decision_id) is None
    boto3.client("s3").put_object(
        Bucket=aws_env["CANDOR_ARCHIVE_BUCKET"],
        Key=archive_key(sealed.envelope),
        Body=b"{}",
        ChecksumAlgorithm="SHA256",
    )
    assert store.get(sealed.envelope.decision_id) is None


def test_objects_are_spread_within_a_day_and_erasure_also_finds_a_personal_part_stored_before(store, aws_env):
    sealed = record()
    store.put(sealed)
    decision_id = sealed.envelope.decision_id
    assert archive_key(sealed.envelope) == f"records/model=ticket-router/date=2026-11-27/3-{decision_id}.json"
    assert personal_key(decision_id) == f"personal/3-{decision_id}.json"
    s3, bucket = boto3.client("s3"), aws_env["CANDOR_PERSONAL_BUCKET"]
    legacy = f"personal/{decision_id}.json"  # where the personal part went before keys were spread
    s3.put_object(Bucket=bucket, Key=legacy, Body=b"{}")

    erase(aws_env, decision_id)

    versions = s3.list_object_versions(Bucket=bucket, Prefix="personal/")
    assert [v["Key"] for v in [*versions.get("Versions", []), *versions.get("DeleteMarkers", [])]] == []
