"""What customers send and get back: the appeal and the customer's view of one decision.

Nothing internal leaves through these models: no hashes, no segments, no model internals
beyond the reasons (issue 4, part 3).
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from functions.schemas.api import ExplanationStatus, Notice

MAX_REASON_LENGTH = 2000

AppealStatus = Literal["received", "in_review", "upheld", "overturned"]
OPEN_STATUSES: tuple[AppealStatus, ...] = ("received", "in_review")
Verdict = Literal["upheld", "overturned"]
RecordStatus = Literal["available", "erased", "restricted"]


class AppealRequest(BaseModel):
    """JSON body of an appeal (the page's form posts the same field form-encoded)."""

    reason: Annotated[
        str,
        Field(
            min_length=1,
            max_length=MAX_REASON_LENGTH,
            description="Why the customer contests the decision, in their words; personal data is redacted.",
        ),
    ]


class Appeal(BaseModel):
    """An appeal as the customer (and the auditor) sees it."""

    model_config = ConfigDict(frozen=True)

    appeal_id: str = Field(description="ULID of the appeal.")
    decision_id: str
    status: AppealStatus = Field(description="received, then in_review, then upheld or overturned.")
    reason: str = Field(description="The reason as stored: e-mails, phones, cards and IBANs redacted.")
    created_at: str
    resolved_at: str | None = Field(default=None, description="When a reviewer upheld or overturned the decision.")
    review_reason: str | None = Field(default=None, description="The reviewer's written reason, once resolved.")
    new_outcome: str | None = Field(default=None, description="The outcome label a reviewer overturned it to.")


class StoredAppeal(Appeal):
    """The AppealsTable item: one per decision, linked to the decision by its key.

    Created once; afterwards only a reviewer's claim and resolution change it (docs/reviewers.md),
    and the resolution itself is a sealed write-once object in the archive (`review_key`).
    """

    kind: Literal["appeal", "referral"] = Field(
        default="appeal",
        description="appeal: the customer contested the decision; referral: the model's review policy sent it to a"
        " person before the customer was told (the reason is the policy's).",
    )
    model_id: str
    model_day: str = Field(description="'<model_id>#<yyyy-mm-dd>' of the appeal, for the by_model_day index.")
    locale: str
    expires_at: int | None = Field(default=None, description="Deleted with the decision's record (TTL).")
    claimed_by: str | None = Field(default=None, description="Keyed pseudonym of the reviewer holding the claim.")
    claimed_at: str | None = None
    claim_expires_at: str | None = Field(default=None, description="After this, another reviewer may claim it.")
    resolved_day: str | None = Field(default=None, description="yyyy-mm-dd of resolved_at: by_resolved_day index.")
    review_key: str | None = Field(default=None, description="The sealed review record in the archive.")
    review_sha256: str | None = Field(default=None, description="SHA-256 of the canonical review record.")

    def public(self) -> Appeal:
        return Appeal.model_validate(self.model_dump(include=set(Appeal.model_fields)))


class CustomerOutcome(BaseModel):
    label: str | None = Field(description="None while a person decides (referred): no automated outcome is shown.")
    display_name: str
    statement: str = Field(description="The outcome in plain words, in the decision's language.")
    automated_decision: bool = Field(description="True for decisions (not routing) made by the AI alone.")
    referred: bool = Field(default=False, description="True when a person decides (the model's review policy).")
    adverse: bool | None = None


class CustomerReason(BaseModel):
    display_name: str
    display_value: str | None = None
    weight: float = Field(description="SHAP attribution: how strongly this pushed, in the model's output units.")
    direction: Literal["towards", "against"] = Field(description="Towards or against `reasons_target`.")


class DataUsed(BaseModel):
    name: str
    value: str = Field(description="As shown to people; free text with personal data masked.")


class CustomerLinks(BaseModel):
    view: str = Field(description="The HTML page (relative to this API).")
    appeal: str = Field(description="Where to POST an appeal (relative to this API).")


class CustomerReview(BaseModel):
    """A person's verdict on the decision, once an appeal (or referral) is resolved."""

    verdict: Verdict = Field(description="upheld: the decision stands; overturned: it was changed.")
    statement: str = Field(description="The verdict in plain words, in the decision's language.")
    reason: str = Field(description="The reviewer's written reason, as they wrote it.")
    outcome: str = Field(description="The outcome now in force (label).")
    outcome_display_name: str
    resolved_at: str


class CustomerView(BaseModel):
    """The customer's view of their own decision."""

    decision_id: str
    decided_at: str
    language: str = Field(description="The language of the texts: en or es.")
    locale: str = Field(
        description="The locale whose number, currency and date formats the texts use (es-ES, es-MX), "
        "always in `language`; `decided_at` and `weight` stay machine-readable."
    )
    status: RecordStatus = Field(
        description="available; erased (personal data deleted, the decision remains); restricted (not served)."
    )
    status_note: str | None = None
    disclosure: Notice | None = None
    outcome: CustomerOutcome | None = None
    summary: str | None = Field(default=None, description="The plain-language explanation shown with the answer.")
    explanation_status: ExplanationStatus | None = Field(
        default=None, description="complete, partial, pending (shown here once ready) or not_explained."
    )
    reasons_target: str | None = Field(default=None, description="What positive weights pushed towards.")
    reasons: list[CustomerReason] = Field(default_factory=list, description="Largest first.")
    data_used: list[DataUsed] | None = Field(default=None, description="None once the personal data is erased.")
    human_contact: str
    how_to_contest: str
    appeal: Appeal | None = None
    review: CustomerReview | None = Field(
        default=None, description="Once a person has resolved the appeal: the verdict, its reason, the outcome."
    )
    links: CustomerLinks
