"""Canonical JSON and hashes: what makes a record tamper-evident.

Canonical form: keys sorted, no insignificant white space, UTF-8, no NaN or Infinity.
Floats use Python's shortest round-trip repr, so a verifier in Python reproduces the
bytes exactly from the parsed JSON.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
from typing import Any

from pydantic import BaseModel

from functions.schemas.record import Envelope, ExplanationRecord, PersonalPart


def canonical_json(value: Any) -> bytes:
    if isinstance(value, BaseModel):
        value = value.model_dump(mode="json")
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False).encode()


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def new_salt() -> str:
    return secrets.token_hex(16)


def personal_digest(personal: PersonalPart) -> str:
    return sha256_hex(canonical_json(personal))


def seal(envelope: Envelope, personal: PersonalPart) -> ExplanationRecord:
    """Bind the envelope to its personal part and hash it; refuses a mismatched pair."""
    if envelope.personal_sha256 != personal_digest(personal):
        raise ValueError("the envelope does not commit to this personal part")
    return ExplanationRecord(envelope=envelope, personal=personal, content_sha256=sha256_hex(canonical_json(envelope)))


def verify(record: ExplanationRecord) -> bool:
    """True when the envelope hash matches and, unless erased, the personal part matches its commitment."""
    envelope_ok = hmac.compare_digest(record.content_sha256, sha256_hex(canonical_json(record.envelope)))
    if record.personal is None:  # erased: the envelope alone still verifies
        return envelope_ok
    return envelope_ok and hmac.compare_digest(record.envelope.personal_sha256, personal_digest(record.personal))


def subject_hash(subject_id: str, key: bytes) -> str:
    """Keyed hash (HMAC-SHA256) of a subject id: pseudonymous, linkable only with the key."""
    return hmac.new(key, subject_id.encode(), hashlib.sha256).hexdigest()
