"""Composition root of the audit and privacy functions: index, archive, erasure and keys (no model libraries)."""

from __future__ import annotations

from dataclasses import replace

from functions.api.keys import SUBJECT_HASH, master_key, purpose_key
from functions.coldstart import per_container
from functions.domain.seal import subject_hash
from functions.schemas.settings import audit_settings
from functions.stores import aws_clients
from functions.stores.appeal_store import AwsAppealStore
from functions.stores.erasure_store import AwsErasureStore
from functions.stores.monitoring_store import AwsMonitoringStore
from functions.stores.record_index import RecordIndex
from functions.stores.record_store import AwsRecordStore


@per_container
def record_index() -> RecordIndex:
    return RecordIndex(table=audit_settings().records_table, dynamodb=aws_clients.dynamodb())


@per_container
def record_store() -> AwsRecordStore:
    return AwsRecordStore.from_settings(audit_settings(), aws_clients.dynamodb(), aws_clients.s3())


@per_container
def appeal_store() -> AwsAppealStore | None:
    table = audit_settings().appeals_table
    return AwsAppealStore(table=table, dynamodb=aws_clients.dynamodb()) if table else None


@per_container
def monitoring_store() -> AwsMonitoringStore:
    return AwsMonitoringStore.from_settings(audit_settings(), aws_clients.s3(), aws_clients.kms())


@per_container
def erasure_store() -> AwsErasureStore:
    settings = audit_settings()
    places = AwsErasureStore.from_settings(settings, aws_clients.dynamodb(), aws_clients.s3())
    return replace(places, idempotency_table=settings.idempotency_table)


@per_container
def _subject_key() -> bytes:
    settings = audit_settings()
    return purpose_key(master_key(settings.subject_key, settings.subject_key_secret), SUBJECT_HASH)


def hash_subject(subject_id: str) -> str:
    """The same keyed hash the decisions function stored, so a subject's records can be found."""
    return subject_hash(subject_id, _subject_key())
