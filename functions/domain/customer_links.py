"""Signed, expiring links that let one customer see one decision (and nothing else)."""

from __future__ import annotations

import base64
import hashlib
import hmac
from datetime import datetime, timedelta

LINK_LIFETIME = timedelta(days=90)


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def sign_token(decision_id: str, expires: datetime, key: bytes) -> str:
    payload = f"{decision_id}.{int(expires.timestamp())}".encode()
    return f"{_b64(payload)}.{_b64(hmac.new(key, payload, hashlib.sha256).digest())}"


def customer_view_url(base_url: str, decision_id: str, token: str) -> str:
    return f"{base_url.rstrip('/')}/v1/explanations/{decision_id}/view?token={token}"
