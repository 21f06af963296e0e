"""Sealing and checking a completion: the write-once explanation that completes a pending record.

Apart from `completion.py` (which computes completions and needs the model runtime), so the
readers (customer and audit functions, small zips) can check completions without loading it.
"""

from __future__ import annotations

import hmac

from functions.domain.seal import canonical_json, sha256_hex
from functions.schemas.record import ExplanationCompletion, ExplanationRecord, RecordedExplanation, SealedCompletion


def seal_completion(completion: ExplanationCompletion) -> SealedCompletion:
    return SealedCompletion(completion=completion, content_sha256=sha256_hex(canonical_json(completion)))


def completion_verifies(sealed: SealedCompletion, record: ExplanationRecord) -> bool:
    """True when the completion hashes to its content_sha256 and names this record's envelope."""
    completion = sealed.completion
    return (
        hmac.compare_digest(sealed.content_sha256, sha256_hex(canonical_json(completion)))
        and hmac.compare_digest(completion.envelope_sha256, record.content_sha256)
        and completion.decision_id == record.envelope.decision_id
    )


def current_explanation(record: ExplanationRecord, completion: SealedCompletion | None) -> RecordedExplanation:
    """The explanation to show: the verified completion once there is one, else the envelope's (maybe pending)."""
    if completion is not None and completion_verifies(completion, record):
        return completion.completion.explanation
    return record.envelope.explanation
