"""Signed, expiring links that let one customer see one decision (and nothing else).

A token is `b64url(payload).b64url(HMAC-SHA256(key, payload))` with payload
`<decision_id>.<expiry, unix seconds>`: bound to one decision, expiring, and checked in
constant time. Every way a token can be wrong gives the same answer (`False`), so a caller
learns nothing from a failed check, not even whether the decision exists.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
from datetime import datetime, timedelta

LINK_LIFETIME = timedelta(days=90)
MAX_TOKEN_LENGTH = 256  # a real token is ~80 characters; anything far longer is not worth decoding


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def sign_token(decision_id: str, expires: datetime, key: bytes) -> str:
    payload = f"{decision_id}.{int(expires.timestamp())}".encode()
    return f"{_b64(payload)}.{_b64(hmac.new(key, payload, hashlib.sha256).digest())}"


def verify_token(token: str | None, decision_id: str, key: bytes, now: datetime) -> bool:
    """True only for an unaltered, unexpired token signed with `key` for exactly `decision_id`."""
    if not token or len(token) > MAX_TOKEN_LENGTH or token.count(".") != 1:
        return False
    encoded_payload, encoded_mac = token.split(".")
    try:
        payload, mac = _unb64(encoded_payload), _unb64(encoded_mac)
    except (binascii.Error, ValueError):
        return False
    if not hmac.compare_digest(mac, hmac.new(key, payload, hashlib.sha256).digest()):
        return False
    # Signed by us, so the payload is well-formed; still, parse defensively.
    bound_id, _, expiry = payload.decode("utf-8", "replace").rpartition(".")
    if not expiry.isdigit() or not hmac.compare_digest(bound_id.encode(), decision_id.encode("utf-8", "replace")):
        return False
    return now.timestamp() < int(expiry)


def customer_view_url(base_url: str, decision_id: str, token: str) -> str:
    return f"{base_url.rstrip('/')}/v1/explanations/{decision_id}/view?token={token}"
