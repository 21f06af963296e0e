"""The operator's webhook on a resolved review: what is sent, and how it is signed (no AWS here).

The body names the decision and the verdict only: no personal data, no reason text (the customer
reads the reason on their own page). The signature is Stripe/GitHub style, HMAC-SHA256 over
`<timestamp>.<body>` with the operator's secret, so a receiver can check both the sender and that
the message is fresh (docs/reviewers.md, "Webhook").
"""

from __future__ import annotations

import hashlib
import hmac
import json
from typing import Any

from functions.schemas.review import SealedReview

EVENT = "review.resolved"
TIMESTAMP_HEADER = "X-Candor-Timestamp"
SIGNATURE_HEADER = "X-Candor-Signature"
FIELDS = ("event", "decision_id", "verdict", "outcome_in_force", "resolved_at", "review_sha256")


def notification(sealed: SealedReview) -> dict[str, str]:
    """The message the review function queues and the webhook function posts, as it is."""
    review = sealed.review
    return {
        "event": EVENT,
        "decision_id": review.decision_id,
        "verdict": review.verdict,
        "outcome_in_force": review.final_outcome,
        "resolved_at": review.resolved_at,
        "review_sha256": sealed.content_sha256,
    }


def notification_body(message: Any) -> bytes:
    """The JSON posted for a queued message; ValueError unless it is exactly a notification's fields (strings)."""
    if not isinstance(message, dict) or set(message) != set(FIELDS) or message.get("event") != EVENT:
        raise ValueError(f"a review notification is {{{', '.join(FIELDS)}}}")
    if not all(isinstance(message[field], str) for field in FIELDS):
        raise ValueError("a review notification's fields are strings")
    return json.dumps({field: message[field] for field in FIELDS}, separators=(",", ":")).encode()


def signature(secret: bytes, timestamp: str, body: bytes) -> str:
    """`sha256=<hex HMAC-SHA256(secret, timestamp + "." + body)>`, the X-Candor-Signature header's value."""
    return "sha256=" + hmac.new(secret, timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()


def signed_headers(secret: bytes, timestamp: int, body: bytes) -> dict[str, str]:
    stamp = str(timestamp)
    return {
        "Content-Type": "application/json",
        TIMESTAMP_HEADER: stamp,
        SIGNATURE_HEADER: signature(secret, stamp, body),
    }


def verify(secret: bytes, timestamp: str, body: bytes, header: str, *, now: int, tolerance_s: int = 300) -> bool:
    """What a receiver does: the signature matches (constant time) and the timestamp is recent."""
    try:
        fresh = abs(now - int(timestamp)) <= tolerance_s
    except ValueError:
        return False
    return fresh and hmac.compare_digest(signature(secret, timestamp, body), header)
