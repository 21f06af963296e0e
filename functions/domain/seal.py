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
from contextvars import ContextVar
from typing import Any

from pydantic import BaseModel

from functions.schemas.record import Envelope, ExplanationRecord, PersonalPart

# The canonical bytes of the last personal part digested and the last record sealed in this context
# (one request), so that a decision serialises each once: for `seal`, then for the record's store.
# Reused only for the very same objects: the models are frozen, so the same object means the same
# bytes; a copy or any other record is serialised again. (Not kept on the record: pydantic would
# compare them in `==` and carry them over into a `model_copy(update=...)`.)
_last_sealed: ContextVar[tuple[Envelope, PersonalPart, bytes, bytes] | None] = ContextVar(
    "candor_last_sealed", default=None
)
_last_personal: ContextVar[tuple[PersonalPart, bytes] | None] = ContextVar("candor_last_personal", default=None)


def canonical_json(value: Any) -> bytes:
    if isinstance(value, BaseModel):
        value = value.model_dump(mode="json")
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False).encode()


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def new_salt() -> str:
    return secrets.token_hex(16)


def personal_digest(personal: PersonalPart) -> str:
    return sha256_hex(_personal_bytes(personal))


def _personal_bytes(personal: PersonalPart) -> bytes:
    """Canonical JSON of a personal part; a decision asks twice (its envelope's commitment, then `seal`)."""
    last = _last_personal.get()
    if last is not None and last[0] is personal:
        return last[1]
    data = canonical_json(personal)
    _last_personal.set((personal, data))
    return data


def seal(envelope: Envelope, personal: PersonalPart) -> ExplanationRecord:
    """Bind the envelope to its personal part and hash it; refuses a mismatched pair.

    Each half is serialised once: the bytes hashed here are what `archived_json` and
    `personal_json` give the stores for this record.
    """
    personal_bytes = _personal_bytes(personal)
    if envelope.personal_sha256 != sha256_hex(personal_bytes):
        raise ValueError("the envelope does not commit to this personal part")
    envelope_bytes = canonical_json(envelope)
    _last_sealed.set((envelope, personal, envelope_bytes, personal_bytes))
    return ExplanationRecord(envelope=envelope, personal=personal, content_sha256=sha256_hex(envelope_bytes))


def _sealed_bytes(record: ExplanationRecord) -> tuple[bytes, bytes | None]:
    last = _last_sealed.get()
    if last is not None and last[0] is record.envelope and last[1] is record.personal:
        return last[2], last[3]
    personal = None if record.personal is None else canonical_json(record.personal)
    return canonical_json(record.envelope), personal


def archived_json(record: ExplanationRecord) -> bytes:
    """The archive object: canonical JSON of the record without its personal part.

    Byte for byte `canonical_json(record.model_dump(exclude={"personal"}))`, assembled from the
    envelope's canonical bytes (keys sorted: `content_sha256` comes before `envelope`).
    """
    envelope_bytes = _sealed_bytes(record)[0]
    return b'{"content_sha256":' + canonical_json(record.content_sha256) + b',"envelope":' + envelope_bytes + b"}"


def personal_json(record: ExplanationRecord) -> bytes:
    """The personal part's canonical JSON (the bytes its commitment in the envelope hashes)."""
    personal = _sealed_bytes(record)[1]
    if personal is None:
        raise ValueError("the record's personal part was erased")
    return personal


def verify(record: ExplanationRecord) -> bool:
    """True when the envelope hash matches and, unless erased, the personal part matches its commitment."""
    envelope_ok = hmac.compare_digest(record.content_sha256, sha256_hex(canonical_json(record.envelope)))
    if record.personal is None:  # erased: the envelope alone still verifies
        return envelope_ok
    return envelope_ok and hmac.compare_digest(record.envelope.personal_sha256, personal_digest(record.personal))


def subject_hash(subject_id: str, key: bytes) -> str:
    """Keyed hash (HMAC-SHA256) of a subject id: pseudonymous, linkable only with the key."""
    return hmac.new(key, subject_id.encode(), hashlib.sha256).hexdigest()
