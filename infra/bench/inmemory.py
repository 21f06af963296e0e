"""In-memory stand-ins for Candor's two stores, behind the interfaces the code already uses.

`MemoryRecordStore` is a `functions.domain.ports.RecordStore`; `MemoryLedger` answers as
`functions.stores.decision_idempotency.DecisionLedger` does, with a dict for its table.
They let the middleware-tax figure run the full handler without any network.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from functions.domain.errors import IdempotencyConflict
from functions.domain.seal import archived_json, personal_json
from functions.schemas.record import ExplanationRecord
from functions.schemas.settings import DEFAULT_INDEX_SHARDS
from functions.stores.record_store import archive_key, index_item, item_attributes, personal_key


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


@dataclass
class MemoryLedger:
    """The decisions' remembered answers in a dict, with `DecisionLedger.commit`'s outcomes (no expiry)."""

    answers: dict[str, tuple[str, str]] = field(default_factory=dict)  # key: (request hash, answer)

    def commit(self, key: str, hashed_request: str, answer: str, staged: Sequence[dict[str, Any]]) -> str | None:
        stored = self.answers.get(key)
        if stored is None:
            self.answers[key] = (hashed_request, answer)
            return None
        if stored[0] != hashed_request:
            raise IdempotencyConflict("this request_id was already used with a different body", field="request_id")
        return stored[1]
