"""Builders of sample records for tests."""

from functions.domain.seal import new_salt, personal_digest
from functions.schemas.record import (
    Envelope,
    ExplainerRef,
    ModelRef,
    PersonalPart,
    RecordedContribution,
    RecordedExplanation,
    RecordedNotice,
    RecordedOutcome,
    Retention,
)


def sample_personal() -> PersonalPart:
    return PersonalPart(
        inputs={"text": "I was charged twice"}, redactions={}, segments={"age_band": "65+"}, salt=new_salt()
    )


def sample_envelope(personal: PersonalPart) -> Envelope:
    return Envelope(
        decision_id="01JF0000000000000000000000",
        request_id="chat-1",
        decided_at="2026-11-27T10:00:00.000Z",
        subject_hash="ab" * 32,
        channel="chat",
        locale="en",
        jurisdiction="EU",
        model=ModelRef(id="ticket-router", version="1.0.0", kind="routing", artifact_sha256="0" * 64),
        explainer=ExplainerRef(method="linear_shap", exact=True, implementation="test", background_sha256=None),
        outcome=RecordedOutcome(
            label="billing", score=0.9, threshold=None, adverse=None, probabilities={"billing": 0.9}
        ),
        explanation=RecordedExplanation(
            output_units="logit",
            explained_output="logit of 'billing'",
            base_value=-1.0,
            model_output=1.0,
            additivity_error=0.0,
            contributions=[RecordedContribution(feature="charged", attribution=2.0)],
            summary="...",
            summary_locale="en",
        ),
        disclosure=RecordedNotice(notice_id="eu-en-2026-11", locale="en", jurisdiction="EU"),
        retention=Retention(retention_class="standard", delete_after="2027-05-29"),
        personal_sha256=personal_digest(personal),
    )
