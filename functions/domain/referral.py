"""Review before the answer (A2I-style activation): a decision the review policy matches goes to a person.

The chatbot, and the customer's page, are told that a person will decide, never the automated
outcome; the sealed record keeps that outcome and its explanation for the reviewer, and says the
decision was referred. The review queue is the appeals table: a referral is an item keyed by the
decision id, like an appeal, of kind "referral", stored with the record before the answer.
"""

from __future__ import annotations

from typing import Protocol

from functions.domain.presentation import language_of
from functions.domain.retention import expires_at
from functions.schemas.api import Explanation, Outcome
from functions.schemas.customer import StoredAppeal
from functions.schemas.record import Envelope

TEXTS: dict[str, dict[str, str]] = {
    "en": {
        "display": "A person will decide",
        "statement": "A person from our team will decide on your request; the AI has not decided it. "
        "We will let you know the result.",
    },
    "es": {
        "display": "Una persona decidirá",
        "statement": "Una persona de nuestro equipo decidirá sobre su solicitud; la IA no la ha decidido. "
        "Le comunicaremos el resultado.",
    },
}

WITHHELD = "withheld: a person decides on this request (the model's review policy); the reviewer sees the explanation"


class ReferralQueue(Protocol):
    def refer(self, referral: StoredAppeal) -> None:
        """Queue the decision for a person, once; raises DependencyUnavailable if it cannot be stored."""
        ...


def texts(locale: str) -> dict[str, str]:
    return TEXTS[language_of(locale)]


def referred_outcome(locale: str) -> Outcome:
    """What the chatbot is told instead of the automated outcome."""
    return Outcome(status="referred", label=None, display_name=texts(locale)["display"], score=None, adverse=None)


def withheld_explanation(explanation: Explanation, locale: str) -> Explanation:
    """The explanation as the chatbot gets it: no attributions or summary that would give the outcome away."""
    return explanation.model_copy(
        update={
            "status": "not_explained",
            "status_reason": WITHHELD,
            "base_value": None,
            "contributions": [],
            "summary": texts(locale)["statement"],
            "summary_locale": language_of(locale),
            "additivity_error": None,
            "sampling": None,
        }
    )


def referral_of(envelope: Envelope, reason: str, appeal_id: str) -> StoredAppeal:
    """The queue item of a referred decision, filed at the decision's time, expiring with its record."""
    return StoredAppeal(
        appeal_id=appeal_id,
        decision_id=envelope.decision_id,
        status="received",
        kind="referral",
        reason=reason,
        created_at=envelope.decided_at,
        model_id=envelope.model.id,
        model_day=f"{envelope.model.id}#{envelope.decided_at[:10]}",
        locale=envelope.locale,
        expires_at=expires_at(envelope.retention.delete_after),
    )
