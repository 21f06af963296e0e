"""In-memory stand-ins for Candor's two stores, behind the interfaces the code already uses.

`MemoryRecordStore` is a `functions.domain.ports.RecordStore`; `MemoryPersistenceLayer` is a
Powertools idempotency `BasePersistenceLayer` with DynamoDB's conditional-put semantics.
They let the middleware-tax figure run the full handler without any network.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from aws_lambda_powertools.utilities.idempotency.exceptions import (
    IdempotencyItemAlreadyExistsError,
    IdempotencyItemNotFoundError,
)
from aws_lambda_powertools.utilities.idempotency.persistence.base import DataRecord

from functions.domain.seal import archived_json, personal_json
from functions.schemas.record import ExplanationRecord
from functions.schemas.settings import DEFAULT_INDEX_SHARDS
from functions.stores.record_store import archive_key, index_item, item_attributes, personal_key
from functions.stores.transactional_idempotency import HashesEachPayloadOnce


@dataclass
class MemoryRecordStore:
    """Builds the two objects and the index item exactly as `AwsRecordStore` does, then keeps them."""

    archive: dict[str, bytes] = field(default_factory=dict)
    personal: dict[str, bytes] = field(default_factory=dict)
    items: dict[str, dict[str, Any]] = field(default_factory=dict)

    def put(self, record: ExplanationRecord) -> None:
        key = archive_key(record.envelope)
        if key in self.archive:
            raise ValueError(f"record {key} exists (write-once)")
        self.archive[key] = archived_json(record)
        self.personal[personal_key(record.envelope.decision_id)] = personal_json(record)
        item = index_item(record, key, shards=DEFAULT_INDEX_SHARDS)
        self.items[record.envelope.decision_id] = item_attributes(item)


class MemoryPersistenceLayer(HashesEachPayloadOnce):
    """Idempotency records in a dict, with the conditions DynamoDBPersistenceLayer puts on its writes."""

    def __init__(self) -> None:
        super().__init__()
        self.items: dict[str, DataRecord] = {}

    def _get_record(self, idempotency_key: str) -> DataRecord:
        try:
            return self.items[idempotency_key]
        except KeyError as error:
            raise IdempotencyItemNotFoundError from error

    def _put_record(self, data_record: DataRecord) -> None:
        existing = self.items.get(data_record.idempotency_key)
        if existing is not None and not _replaceable(existing):
            raise IdempotencyItemAlreadyExistsError(old_data_record=existing)
        self.items[data_record.idempotency_key] = data_record

    def _update_record(self, data_record: DataRecord) -> None:
        self.items[data_record.idempotency_key] = data_record

    def _delete_record(self, data_record: DataRecord) -> None:
        self.items.pop(data_record.idempotency_key, None)


def _replaceable(record: DataRecord) -> bool:
    """DynamoDB's condition: expired, or in progress past its in-progress expiry."""
    now = dt.datetime.now()
    if record.expiry_timestamp is not None and record.expiry_timestamp < int(now.timestamp()):
        return True
    in_progress_expiry = record.in_progress_expiry_timestamp
    return (
        record.status == "INPROGRESS"
        and in_progress_expiry is not None
        and in_progress_expiry < int(now.timestamp() * 1000)
    )
