"""What reviewers send and get back, and the sealed review record a resolution leaves in the archive.

A review record is write-once and separate from the decision's record, which is never changed:
it names the decision and the hash of its envelope, so it cannot be moved to another decision.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from functions.schemas.customer import MAX_REASON_LENGTH, AppealStatus, StoredAppeal, Verdict

REVIEW_SCHEMA: Literal["candor.review/1"] = "candor.review/1"


class _Frozen(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ReviewRecord(_Frozen):
    """A person's verdict on one decision (GDPR Art. 22(3), AI Act Art. 14 and 86)."""

    schema_version: Literal["candor.review/1"] = REVIEW_SCHEMA
    review_id: str = Field(description="ULID of the review.")
    decision_id: str
    envelope_sha256: str = Field(description="content_sha256 of the reviewed decision's envelope.")
    appeal_id: str
    kind: Literal["appeal", "referral"]
    model_id: str
    verdict: Verdict
    reason: str = Field(description="The reviewer's written reason (personal data redacted).")
    original_outcome: str
    final_outcome: str = Field(description="The original outcome when upheld; the new one when overturned.")
    reviewer: str = Field(description="Keyed pseudonym (HMAC-SHA256) of the reviewer; the key is held apart.")
    claimed_at: str
    resolved_at: str


class SealedReview(_Frozen):
    review: ReviewRecord
    content_sha256: str = Field(description="SHA-256 of the canonical review record.")


class ResolveRequest(BaseModel):
    """A reviewer's verdict (JSON, or the page's form posts the same fields)."""

    model_config = ConfigDict(extra="forbid")

    verdict: Verdict
    reason: Annotated[
        str,
        Field(min_length=1, max_length=MAX_REASON_LENGTH, description="Why, in words the customer will read."),
    ]
    new_outcome: Annotated[
        str | None,
        Field(default=None, max_length=64, description="Required when overturned: one of the model's labels."),
    ] = None


class QueueItem(BaseModel):
    decision_id: str
    appeal_id: str
    kind: Literal["appeal", "referral"]
    status: AppealStatus
    model_id: str
    created_at: str
    age_days: int = Field(description="Whole days since the appeal (or referral) was filed.")
    adverse: bool | None = Field(description="Whether the decision was adverse for the customer.")
    outcome: str | None = Field(description="The automated outcome.")
    claimed_by: str | None = None
    claim_expires_at: str | None = None


class ReviewQueue(BaseModel):
    model_id: str
    items: list[QueueItem] = Field(description="Oldest first.")
    next_cursor: str | None = Field(description="Pass as `cursor` for the next page; null on the last page.")


class SimilarDecision(BaseModel):
    """A past decision of the same model with the same outcome, and how its review (if any) ended."""

    decision_id: str
    decided_at: str
    outcome: str
    score: float
    review_status: AppealStatus | None = None


class ReviewCase(BaseModel):
    """Everything a reviewer needs for one case."""

    decision_id: str
    appeal: dict[str, Any] = Field(description="The appeal or referral item, its claim and resolution.")
    customer_view: dict[str, Any] = Field(description="The decision exactly as the customer's page shows it.")
    record: dict[str, Any] = Field(description="The sealed record: envelope (full explanation) and inputs.")
    verified: bool = Field(description="The record hashes to its content_sha256.")
    labels: list[str] = Field(description="The outcomes a reviewer may overturn to.")
    similar: list[SimilarDecision] = Field(
        description="Up to 5 of the model's most recent decisions of the same outcome within 30 days before this one."
    )
    review: SealedReview | None = None


def queue_item(appeal: StoredAppeal, *, age_days: int, adverse: bool | None, outcome: str | None) -> QueueItem:
    return QueueItem(
        decision_id=appeal.decision_id,
        appeal_id=appeal.appeal_id,
        kind=appeal.kind,
        status=appeal.status,
        model_id=appeal.model_id,
        created_at=appeal.created_at,
        age_days=age_days,
        adverse=adverse,
        outcome=outcome,
        claimed_by=appeal.claimed_by,
        claim_expires_at=appeal.claim_expires_at,
    )
