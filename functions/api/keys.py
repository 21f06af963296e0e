"""The one secret behind subject hashes and customer links, and the per-purpose keys derived from it.

Light on purpose (no model libraries): both the decisions function (which signs links) and the
customer function (which verifies them) import it.
"""

from __future__ import annotations

import hashlib
import hmac

from botocore.exceptions import BotoCoreError, ClientError
from pydantic import SecretStr

from functions.domain.errors import DependencyUnavailable
from functions.stores import aws_clients

SUBJECT_HASH = "subject-hash/v1"
CUSTOMER_LINK = "customer-link/v1"
REVIEWER_PSEUDONYM = "reviewer-pseudonym/v1"


def purpose_key(master: bytes, purpose: str) -> bytes:
    """Separate keys per use from the one secret, so a leaked link key cannot re-identify subjects."""
    return hmac.new(master, purpose.encode(), hashlib.sha256).digest()


def master_key(subject_key: SecretStr | None, subject_key_secret: str | None) -> bytes:
    """The secret itself (local stack) or read from Secrets Manager; 503 when it cannot be read."""
    if subject_key is not None:
        return subject_key.get_secret_value().encode()
    try:
        secret = aws_clients.secretsmanager().get_secret_value(SecretId=str(subject_key_secret))
    except (ClientError, BotoCoreError) as error:  # not cached: the next request tries again
        raise DependencyUnavailable("the subject-hash key is unavailable") from error
    return secret["SecretString"].encode()
