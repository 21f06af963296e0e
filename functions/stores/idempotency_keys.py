"""Where a decision's answer is remembered for retries (the idempotency table), so that erasure can find and delete it.

The key is the one Powertools Idempotency used (its prefix and hash of [model_id, request_id]):
`functions/stores/decision_idempotency.py` writes it, and items written before still match.

The stored answer repeats the customer's inputs as display values (and, for text models, the
words that weighed); it expires with the idempotency TTL, but an erasure must not wait for that.
"""

from __future__ import annotations

import hashlib
import json

DECISION_KEY_PREFIX = "candor-decisions"


def decision_idempotency_key(model_id: str, request_id: str) -> str:
    """The idempotency record's key: the prefix and Powertools' hash of the event key [model_id, request_id]."""
    digest = hashlib.sha256(json.dumps([model_id, request_id], sort_keys=True).encode()).hexdigest()
    return f"{DECISION_KEY_PREFIX}#{digest}"
