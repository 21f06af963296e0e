"""A customer contests a decision: one appeal per decision, recorded for human review.

The record itself stays write-once; the appeal is its own item, keyed by the decision id,
written once. A second appeal on the same decision gets the first one back.
"""

from __future__ import annotations

from datetime import datetime
from typing import Protocol

from functions.domain.errors import InvalidInput
from functions.domain.ids import new_ulid
from functions.domain.redaction import redact
from functions.schemas.customer import MAX_REASON_LENGTH, StoredAppeal
from functions.schemas.record import Envelope


class AppealStore(Protocol):
    def get(self, decision_id: str) -> StoredAppeal | None:
        """The appeal on a decision, or None; raises DependencyUnavailable."""
        ...

    def create(self, appeal: StoredAppeal) -> tuple[StoredAppeal, bool]:
        """Store once: (the new appeal, True), or (the one already there, False)."""
        ...


def checked_reason(reason: str | None) -> str:
    """The reason, stripped and redacted; 422 when empty or over the limit (checked before redaction)."""
    text = (reason or "").strip()
    if not text:
        raise InvalidInput("reason: write why you contest the decision", field="reason")
    if len(text) > MAX_REASON_LENGTH:
        raise InvalidInput(f"reason: at most {MAX_REASON_LENGTH} characters", field="reason")
    return redact(text).text


def file_appeal(
    envelope: Envelope, reason: str | None, store: AppealStore, now: datetime, expires_at: int | None
) -> tuple[StoredAppeal, bool]:
    """Record an appeal on the decision; (appeal, created). The reason is validated before anything is read."""
    text = checked_reason(reason)
    created_at = now.isoformat(timespec="milliseconds").replace("+00:00", "Z")
    appeal = StoredAppeal(
        appeal_id=new_ulid(now),
        decision_id=envelope.decision_id,
        status="received",
        reason=text,
        created_at=created_at,
        model_id=envelope.model.id,
        model_day=f"{envelope.model.id}#{created_at[:10]}",
        locale=envelope.locale,
        expires_at=expires_at,
    )
    return store.create(appeal)
