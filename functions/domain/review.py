"""A person decides: claiming an appeal (or referral) and resolving it into a sealed review record.

Rules, no AWS (the store behind `ReviewStore` does the calls):
- one reviewer at a time: a claim holds for `claim_ttl`; after that anyone may claim the case again;
- only the reviewer holding the claim resolves it, once; the verdict becomes a write-once review
  record that names the decision and its envelope's hash (the decision's record is never changed);
- reviewers appear everywhere as a keyed pseudonym, never by name.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

from functions.domain.appeals import checked_reason
from functions.domain.errors import Conflict, InvalidInput
from functions.domain.ids import new_ulid
from functions.domain.seal import canonical_json, sha256_hex
from functions.schemas.customer import StoredAppeal
from functions.schemas.record import ExplanationRecord
from functions.schemas.review import ResolveRequest, ReviewRecord, SealedReview

REVIEW_ID_PREFIX = "review:"  # how a review is listed in integrity digests, beside the records


def iso(moment: datetime) -> str:
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def reviewer_pseudonym(principal: str, key: bytes) -> str:
    """HMAC-SHA256 of the reviewer's principal (the IAM session): linkable with the key, not a name."""
    return "rv_" + hmac.new(key, principal.encode(), hashlib.sha256).hexdigest()[:32]


def claim_expired(appeal: StoredAppeal, now: datetime) -> bool:
    return appeal.claim_expires_at is not None and appeal.claim_expires_at <= iso(now)


def check_claimable(appeal: StoredAppeal, reviewer: str, now: datetime) -> None:
    """409 unless the case is open and nobody else holds a live claim on it."""
    if appeal.status in ("upheld", "overturned"):
        raise Conflict(f"this case was resolved: {appeal.status}")
    if appeal.status == "in_review" and appeal.claimed_by != reviewer and not claim_expired(appeal, now):
        raise Conflict(f"another reviewer holds this case until {appeal.claim_expires_at}")


def check_resolvable(appeal: StoredAppeal, reviewer: str) -> None:
    """409 unless this reviewer holds the claim (an expired claim still counts until someone else claims)."""
    if appeal.status in ("upheld", "overturned"):
        raise Conflict(f"this case was resolved: {appeal.status}")
    if appeal.status != "in_review" or appeal.claimed_by != reviewer:
        raise Conflict("claim the case before resolving it")


def checked_verdict(request: ResolveRequest, record: ExplanationRecord, labels: list[str]) -> tuple[str, str]:
    """(the reviewer's reason, redacted; the final outcome). 422 for an outcome that does not fit the verdict."""
    reason = checked_reason(request.reason)
    original = record.envelope.outcome.label
    if request.verdict == "upheld":
        if request.new_outcome not in (None, "", original):
            raise InvalidInput("new_outcome: only an overturned decision gets a new outcome", field="new_outcome")
        return reason, original
    if not request.new_outcome:
        raise InvalidInput("new_outcome: name the outcome the decision is overturned to", field="new_outcome")
    if request.new_outcome not in labels:
        raise InvalidInput(f"new_outcome: one of {', '.join(labels)}", field="new_outcome")
    if request.new_outcome == original:
        raise InvalidInput("new_outcome: the same as the original; uphold the decision instead", field="new_outcome")
    return reason, request.new_outcome


def build_review(
    appeal: StoredAppeal,
    record: ExplanationRecord,
    request: ResolveRequest,
    *,
    labels: list[str],
    reviewer: str,
    now: datetime,
) -> SealedReview:
    reason, final = checked_verdict(request, record, labels)
    review = ReviewRecord(
        review_id=new_ulid(now),
        decision_id=appeal.decision_id,
        envelope_sha256=record.content_sha256,
        appeal_id=appeal.appeal_id,
        kind=appeal.kind,
        model_id=appeal.model_id,
        verdict=request.verdict,
        reason=reason,
        original_outcome=record.envelope.outcome.label,
        final_outcome=final,
        reviewer=reviewer,
        claimed_at=appeal.claimed_at or iso(now),
        resolved_at=iso(now),
    )
    return SealedReview(review=review, content_sha256=sha256_hex(canonical_json(review)))


def review_verifies(sealed: SealedReview, record: ExplanationRecord | None = None) -> bool:
    """True when the review hashes to its content_sha256 (and, given the record, names its envelope)."""
    if not hmac.compare_digest(sealed.content_sha256, sha256_hex(canonical_json(sealed.review))):
        return False
    if record is None:
        return True
    return (
        hmac.compare_digest(sealed.review.envelope_sha256, record.content_sha256)
        and sealed.review.decision_id == record.envelope.decision_id
    )


def review_key(review: ReviewRecord) -> str:
    """One object per review (a claim lost before the index update leaves an unlisted object, not a clash)."""
    day = review.resolved_at[:10]
    return f"reviews/model={review.model_id}/date={day}/{review.decision_id}/{review.review_id}.json"


@dataclass(frozen=True)
class QueueFilter:
    """Which cases a queue page lists: statuses, kinds, adverse or not, and an age range in whole days."""

    statuses: tuple[str, ...]
    kinds: tuple[str, ...] = ("appeal", "referral")
    adverse: bool | None = None
    min_age_days: int = 0
    max_age_days: int = 90

    def __post_init__(self) -> None:
        if self.min_age_days < 0 or self.max_age_days < self.min_age_days:
            raise InvalidInput("older_than_days: at most max_age_days", field="older_than_days")

    def days(self, now: datetime) -> list[str]:
        """The filing days to read, oldest first."""
        first = (now - timedelta(days=self.max_age_days)).date()
        last = (now - timedelta(days=self.min_age_days)).date()
        return [(first + timedelta(days=n)).isoformat() for n in range((last - first).days + 1)]

    def admits(self, appeal: StoredAppeal, adverse: bool | None, now: datetime) -> bool:
        if appeal.status not in self.statuses or appeal.kind not in self.kinds:
            return False
        if self.adverse is not None and adverse is not self.adverse:
            return False
        return age_days(appeal, now) >= self.min_age_days


def age_days(appeal: StoredAppeal, now: datetime) -> int:
    filed = datetime.fromisoformat(appeal.created_at.replace("Z", "+00:00"))
    return max(0, (now - filed).days)


class ReviewStore(Protocol):
    def claim(self, appeal: StoredAppeal, reviewer: str, now: datetime, ttl: timedelta) -> StoredAppeal:
        """Conditionally mark the case in_review for `reviewer`; Conflict when someone else won."""
        ...

    def resolve(self, appeal: StoredAppeal, sealed: SealedReview) -> StoredAppeal:
        """Write the sealed review once, then mark the case; Conflict when the claim was lost meanwhile."""
        ...
