"""The sealed explanation record (requirements.md, checklist B).

A record is a non-personal envelope plus a personal part. The envelope commits to the
personal part through a salted hash, so erasing the personal part later leaves an
envelope that still verifies, and the salt keeps low-entropy values (an age band) from
being guessed back out of the hash.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, SerializerFunctionWrapHandler, model_serializer

from functions.schemas.api import FeatureValue

RECORD_SCHEMA: Literal["candor.record/1"] = "candor.record/1"


class _Frozen(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ModelRef(_Frozen):
    id: str
    version: str
    kind: Literal["routing", "decision"]
    artifact_sha256: str | None = Field(description="In-process models: SHA-256 of the model file.")
    endpoint: str | None = Field(default=None, description="Remote models: the endpoint that answered.")


class ExplainerRef(_Frozen):
    method: str
    exact: bool
    implementation: str = Field(description="Library and version that computed the attributions.")
    background_sha256: str | None


class RecordedOutcome(_Frozen):
    label: str
    score: float
    threshold: float | None
    adverse: bool | None
    probabilities: dict[str, float]


class RecordedContribution(_Frozen):
    feature: str
    attribution: float


class RecordedSampling(_Frozen):
    seed: int
    max_evaluations: int
    evaluations: int
    model_calls: int
    standard_error: float


class RecordedExplanation(_Frozen):
    status: Literal["complete", "partial", "pending", "not_explained"] = "complete"
    status_reason: str | None = None
    output_units: str
    explained_output: str
    base_value: float | None
    model_output: float
    additivity_error: float | None
    contributions: list[RecordedContribution] = Field(description="Every non-zero attribution, largest first.")
    summary: str
    summary_locale: str
    sampling: RecordedSampling | None = None


class RecordedNotice(_Frozen):
    notice_id: str
    locale: str
    jurisdiction: str


class Retention(_Frozen):
    retention_class: Literal["standard", "consequential"]
    delete_after: str = Field(description="ISO date after which the record may be deleted.")
    legal_hold: bool = False


class ReviewState(_Frozen):
    """Appeal and erasure start as 'none'; later changes are recorded as separate items."""

    status: Literal["none"] = "none"


class HumanReview(_Frozen):
    """Whether a person decides: 'none' (the AI's outcome was told), or 'referred' by the review policy.

    The automated outcome stays in `outcome` for the reviewer; a reviewer's verdict is a separate item.
    """

    status: Literal["none", "referred"] = "none"
    reason: str | None = Field(default=None, description="referred: the review policy's reason.")

    @model_serializer(mode="wrap")
    def _without_empty_reason(self, handler: SerializerFunctionWrapHandler) -> dict[str, object]:
        # Records sealed before referrals existed hash as {"status": "none"}: keep that form.
        dumped: dict[str, object] = handler(self)
        if dumped.get("reason") is None:
            dumped.pop("reason", None)
        return dumped


class Envelope(_Frozen):
    schema_version: Literal["candor.record/1"] = RECORD_SCHEMA
    decision_id: str
    request_id: str
    decided_at: str
    subject_hash: str | None = Field(description="HMAC-SHA256 of the subject id; the key is held apart.")
    channel: str
    locale: str
    jurisdiction: str
    model: ModelRef
    explainer: ExplainerRef
    outcome: RecordedOutcome
    explanation: RecordedExplanation
    disclosure: RecordedNotice
    appeal: HumanReview = HumanReview()
    erasure: ReviewState = ReviewState()
    retention: Retention
    personal_sha256: str = Field(description="SHA-256 of the canonical personal part (which carries a random salt).")


class PersonalPart(_Frozen):
    """Erasable on request: the inputs as stored (text redacted) and the fairness segments."""

    inputs: dict[str, FeatureValue]
    redactions: dict[str, int] = Field(description="How many items of each kind were redacted from free text.")
    segments: dict[str, str]
    salt: str


class ExplanationRecord(_Frozen):
    """Stored in two halves: the envelope (S3 archive, Object Lock) and the personal part (erasable)."""

    envelope: Envelope
    personal: PersonalPart | None = Field(description="None once erased.")
    content_sha256: str = Field(description="SHA-256 of the canonical envelope.")


COMPLETION_SCHEMA: Literal["candor.completion/1"] = "candor.completion/1"


class ExplanationCompletion(_Frozen):
    """A pending explanation, computed later: a second write-once object that completes a record.

    It names the envelope it completes by its hash, so it cannot be moved to another record.
    """

    schema_version: Literal["candor.completion/1"] = COMPLETION_SCHEMA
    decision_id: str
    envelope_sha256: str
    completed_at: str
    explainer: ExplainerRef
    explanation: RecordedExplanation


class SealedCompletion(_Frozen):
    completion: ExplanationCompletion
    content_sha256: str = Field(description="SHA-256 of the canonical completion.")
