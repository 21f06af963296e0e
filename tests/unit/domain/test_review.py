"""The review rules: who may claim and resolve, what a verdict may say, how a review is sealed and checked."""

from datetime import UTC, datetime, timedelta

import pytest

from functions.domain import review as rules
from functions.domain.errors import Conflict, InvalidInput
from functions.domain.seal import seal
from functions.schemas.customer import StoredAppeal
from functions.schemas.review import ResolveRequest
from tests.unit.domain.records import sample_envelope, sample_personal

NOW = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)
LABELS = ["billing", "account", "technical"]


def appeal(**changes) -> StoredAppeal:
    fields = {
        "appeal_id": "01JF0000000000000000000001",
        "decision_id": "01JF0000000000000000000000",
        "status": "received",
        "reason": "wrong team",
        "created_at": "2026-11-27T10:05:00.000Z",
        "model_id": "ticket-router",
        "model_day": "ticket-router#2026-11-27",
        "locale": "en",
    }
    return StoredAppeal.model_validate(fields | changes)


def record():
    personal = sample_personal()
    return seal(sample_envelope(personal), personal)


def held(by: str, until: datetime) -> StoredAppeal:
    return appeal(status="in_review", claimed_by=by, claimed_at=rules.iso(NOW), claim_expires_at=rules.iso(until))


def test_a_received_case_is_claimable_and_a_live_claim_of_another_is_not():
    rules.check_claimable(appeal(), "rv_a", NOW)
    rules.check_claimable(held("rv_a", NOW + timedelta(minutes=5)), "rv_a", NOW)  # renewing one's own
    with pytest.raises(Conflict, match="another reviewer"):
        rules.check_claimable(held("rv_b", NOW + timedelta(minutes=5)), "rv_a", NOW)
    rules.check_claimable(held("rv_b", NOW - timedelta(seconds=1)), "rv_a", NOW)  # expired: free again
    with pytest.raises(Conflict, match="resolved"):
        rules.check_claimable(appeal(status="upheld"), "rv_a", NOW)


def test_only_the_holder_resolves():
    rules.check_resolvable(held("rv_a", NOW - timedelta(minutes=1)), "rv_a")  # expired but not taken over
    for case, who in ((appeal(), "rv_a"), (held("rv_b", NOW), "rv_a"), (appeal(status="overturned"), "rv_a")):
        with pytest.raises(Conflict):
            rules.check_resolvable(case, who)


def test_a_verdict_is_sealed_linked_to_the_envelope_and_verifies():
    sealed_record = record()
    request = ResolveRequest(verdict="overturned", reason="Mail me at a@b.example", new_outcome="account")
    sealed = rules.build_review(held("rv_a", NOW), sealed_record, request, labels=LABELS, reviewer="rv_a", now=NOW)
    assert sealed.review.envelope_sha256 == sealed_record.content_sha256
    assert (sealed.review.original_outcome, sealed.review.final_outcome) == ("billing", "account")
    assert "a@b.example" not in sealed.review.reason  # redacted like the customer's reason
    assert rules.review_verifies(sealed, sealed_record)
    forged = sealed.model_copy(update={"review": sealed.review.model_copy(update={"final_outcome": "technical"})})
    assert not rules.review_verifies(forged)
    assert rules.review_key(sealed.review).startswith("reviews/model=ticket-router/date=2026-11-28/01JF")


@pytest.mark.parametrize(
    ("request_fields", "field"),
    [
        ({"verdict": "overturned", "reason": "x"}, "new_outcome"),
        ({"verdict": "overturned", "reason": "x", "new_outcome": "billing"}, "new_outcome"),  # the same outcome
        ({"verdict": "overturned", "reason": "x", "new_outcome": "refund"}, "new_outcome"),  # not a label
        ({"verdict": "upheld", "reason": "x", "new_outcome": "account"}, "new_outcome"),
        ({"verdict": "upheld", "reason": "   "}, "reason"),
    ],
)
def test_verdicts_that_do_not_fit_are_refused(request_fields, field):
    request = ResolveRequest.model_validate(request_fields)
    with pytest.raises(InvalidInput) as refused:
        rules.build_review(held("rv_a", NOW), record(), request, labels=LABELS, reviewer="rv_a", now=NOW)
    assert refused.value.field == field


def test_reviewer_pseudonyms_are_keyed():
    assert rules.reviewer_pseudonym("arn:x/alice", b"k1") == rules.reviewer_pseudonym("arn:x/alice", b"k1")
    assert rules.reviewer_pseudonym("arn:x/alice", b"k1") != rules.reviewer_pseudonym("arn:x/alice", b"k2")
    assert "alice" not in rules.reviewer_pseudonym("arn:x/alice", b"k1")


def test_the_queue_filter_reads_days_oldest_first_and_admits_by_status_kind_adverse_and_age():
    chosen = rules.QueueFilter(statuses=("received",), kinds=("appeal",), adverse=True, max_age_days=2)
    assert chosen.days(NOW) == ["2026-11-26", "2026-11-27", "2026-11-28"]
    assert chosen.admits(appeal(), True, NOW)
    assert not chosen.admits(appeal(), False, NOW) and not chosen.admits(appeal(), None, NOW)
    assert not chosen.admits(appeal(status="in_review"), True, NOW)
    assert not chosen.admits(appeal(kind="referral"), True, NOW)
    older = rules.QueueFilter(statuses=("received",), min_age_days=2)
    assert not older.admits(appeal(), None, NOW)  # filed a day ago
    with pytest.raises(InvalidInput):
        rules.QueueFilter(statuses=("received",), min_age_days=5, max_age_days=2)
