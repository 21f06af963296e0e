"""GDPR Art. 17 erasure, with the Art. 17(3)(b) exception: what happens to each of a subject's records.

- A record under a legal obligation to keep it (a consequential decision inside its retention
  period, or a legal hold) is *restricted*: kept, but no longer served (Art. 18).
- Any other record has its personal part *erased*; the sealed envelope stays and still verifies.
- Records already erased are left alone, so repeating a request changes nothing.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, Literal

from pydantic import BaseModel, Field

Action = Literal["erase", "restrict", "none"]


def action_for(item: Mapping[str, Any], now_epoch: int) -> Action:
    status = item.get("erasure_status")
    if status == "erased":
        return "none"
    must_keep = bool(item.get("legal_hold")) or (
        item.get("retention_class") == "consequential" and now_epoch < int(item.get("expires_at", 0))
    )
    if must_keep:
        return "none" if status == "restricted" else "restrict"
    return "erase"


class ErasedRecord(BaseModel):
    decision_id: str
    action: Literal["erased", "restricted", "already_done"]


class ErasureReceipt(BaseModel):
    """Recorded itself (write-once, in the archive) as evidence that the request was carried out."""

    erasure_id: str
    requested_at: str
    subject_hash: str = Field(description="The keyed hash the records carry; never the subject id itself.")
    records: list[ErasedRecord]
    erased: int
    restricted: int
    already_done: int
    rules: dict[str, str]


def receipt(erasure_id: str, requested_at: str, subject_hash: str, outcomes: Iterable[ErasedRecord]) -> ErasureReceipt:
    records = list(outcomes)
    return ErasureReceipt(
        erasure_id=erasure_id,
        requested_at=requested_at,
        subject_hash=subject_hash,
        records=records,
        erased=sum(r.action == "erased" for r in records),
        restricted=sum(r.action == "restricted" for r in records),
        already_done=sum(r.action == "already_done" for r in records),
        rules={
            "erased": "personal part deleted (inputs, redacted text, segments); the sealed envelope stays verifiable",
            "restricted": "kept because a retention obligation or legal hold applies (GDPR Art. 17(3)(b)); "
            "no longer served to anyone until the obligation ends",
        },
    )
