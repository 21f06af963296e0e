"""The webhook's body and signature: what the operator receives and how they check it."""

from __future__ import annotations

import hashlib
import hmac
import json

import pytest

from functions.domain.review_webhook import notification_body, signature, signed_headers, verify

MESSAGE = {
    "event": "review.resolved",
    "decision_id": "01KB0000000000000000000000",
    "verdict": "upheld",
    "outcome_in_force": "deny",
    "resolved_at": "2026-08-03T06:00:00.000Z",
    "review_sha256": "a" * 64,
}


def test_the_signature_is_hmac_sha256_over_timestamp_dot_body() -> None:
    body = notification_body(MESSAGE)
    headers = signed_headers(b"key", 1785736800, body)
    expected = hmac.new(b"key", b"1785736800." + body, hashlib.sha256).hexdigest()
    assert headers == {
        "Content-Type": "application/json",
        "X-Candor-Timestamp": "1785736800",
        "X-Candor-Signature": f"sha256={expected}",
    }
    assert json.loads(body) == MESSAGE


def test_a_receiver_accepts_a_fresh_signed_body_only() -> None:
    body = notification_body(MESSAGE)
    good = signature(b"key", "1000", body)
    assert verify(b"key", "1000", body, good, now=1100)
    assert not verify(b"other", "1000", body, good, now=1100)  # another secret
    assert not verify(b"key", "1000", body + b" ", good, now=1100)  # another body
    assert not verify(b"key", "1000", body, good, now=1000 + 301)  # replayed too late
    assert not verify(b"key", "soon", body, good, now=1100)


@pytest.mark.parametrize(
    "message",
    [
        {**MESSAGE, "reason": "personal text"},  # nothing beyond the fields travels
        {k: v for k, v in MESSAGE.items() if k != "verdict"},
        {**MESSAGE, "event": "other"},
        {**MESSAGE, "verdict": 1},
        ["not", "an", "object"],
    ],
)
def test_anything_but_a_notification_is_refused(message: object) -> None:
    with pytest.raises(ValueError, match="review notification"):
        notification_body(message)
