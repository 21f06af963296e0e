"""Request and response bodies of the HTTP API (the OpenAPI document is generated from these)."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

MAX_BODY_BYTES = 256 * 1024

FeatureValue = float | int | bool | str


class DecisionRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    request_id: Annotated[
        str,
        Field(min_length=1, max_length=128, description="Idempotency key: a replay returns the first answer."),
    ]
    subject_id: Annotated[
        str | None,
        Field(min_length=1, max_length=256, description="The customer's id; only a keyed hash is stored."),
    ] = None
    locale: Annotated[
        str, Field(max_length=35, description="BCP 47 tag, e.g. es-ES; unsupported ones fall back to English.")
    ] = "en"
    jurisdiction: Annotated[
        str, Field(max_length=16, description="Rule set for the notice: EU, US-CA, ... or default.")
    ] = "default"
    channel: Annotated[str, Field(max_length=32, description="Where the conversation happens, e.g. chat, email.")] = (
        "chat"
    )
    inputs: Annotated[
        dict[Annotated[str, Field(max_length=64)], FeatureValue],
        Field(description='The model\'s features by name, or {"text": ...} for text models.'),
    ]
    segments: Annotated[
        dict[Annotated[str, Field(max_length=64)], Annotated[str, Field(max_length=64)]],
        Field(max_length=16, description="Fairness-monitoring attributes; never model inputs; stored apart."),
    ] = Field(default_factory=dict)


class Alternative(BaseModel):
    label: str
    score: float


OutcomeStatus = Literal["decided", "referred"]


class Outcome(BaseModel):
    status: OutcomeStatus = Field(
        default="decided",
        description="decided: the AI decided; referred: a person will decide (the model's review policy), and"
        " `label`, `score` and `adverse` are null until then.",
    )
    label: str | None = Field(description="The outcome's label; null when referred.")
    display_name: str = Field(description="The outcome in the customer's language (referred: that a person decides).")
    score: float | None = Field(description="The model's probability for `label`; null when referred.")
    adverse: bool | None = Field(
        default=None, description="Decision models: true when the outcome is not the favourable one."
    )
    alternatives: list[Alternative] = Field(default_factory=list)


class Contribution(BaseModel):
    feature: str = Field(description="Feature name, or the token for text models.")
    display_name: str
    value: FeatureValue | None = Field(description="The input value (for tokens: how often it occurs).")
    display_value: str | None = Field(
        default=None,
        description="The value as shown to people: in their language, with their locale's number and currency "
        "formats (240,00 € for es-ES, €240.00 for en); `value` stays a JSON value.",
    )
    attribution: float
    spans: list[tuple[int, int]] | None = Field(
        default=None, description="Text models: [start, end) character offsets of the token in the message."
    )


ExplanationStatus = Literal["complete", "partial", "pending", "not_explained"]


class Sampling(BaseModel):
    """How a sampled explanation of a black-box model was computed, and how far off it may be."""

    seed: int = Field(description="Fixed per model: the same request gets the same explanation.")
    max_evaluations: int = Field(description="The budget: most rows sent to the model for one explanation.")
    evaluations: int = Field(description="Rows sent to the model for this explanation.")
    model_calls: int = Field(description="Requests made to the model for this explanation, retries included.")
    standard_error: float = Field(description="Largest standard error of one attribution, in output units.")


class Explanation(BaseModel):
    method: str
    exact: bool = Field(description="False: sampled estimates (see `sampling` for the error estimate).")
    status: ExplanationStatus = Field(
        default="complete",
        description="complete; partial (the deadline cut sampling short); pending (computed after the answer,"
        " shown on the customer page and to auditors when ready); not_explained (by the model's policy).",
    )
    status_reason: str | None = Field(
        default=None,
        description="Why the explanation is partial, pending or absent; when complete, why a remote model with a"
        " pinned artifact was explained as a black box (the artifact did not match the endpoint), else null.",
    )
    output_units: str
    explained_output: str = Field(
        description="Which model output the attributions explain, e.g. log-odds of 'approve'."
    )
    base_value: float | None = Field(description="None until explained.")
    contributions: list[Contribution] = Field(description="Sorted by absolute attribution, largest first.")
    summary: str
    summary_locale: str
    additivity_error: float | None = Field(description="None until explained.")
    sampling: Sampling | None = Field(default=None, description="Sampled explanations only.")


class Notice(BaseModel):
    """The AI-disclosure notice (requirements.md, checklist A)."""

    ai_system: Literal[True] = True
    notice: str = Field(description="Plain-language statement that this is an AI system, not a person.")
    notice_id: str = Field(description="Version of the notice shown, e.g. eu-es-2026-08.")
    effective_from: str | None = Field(default=None, description="ISO date from which this notice version applies.")
    short_notice: str | None = Field(
        default=None, description="Short label to show next to every AI answer (disclosure throughout a conversation)."
    )
    locale: str
    requested_locale: str
    fallback: bool = Field(description="True when the requested language was unavailable and English was used.")
    jurisdiction: str
    operator: str
    ai_system_name: str
    model: dict[str, str] | None = Field(default=None, description="Model id and version, on decision responses.")
    purpose: str
    decision_kind: str | None = None
    human_contact: str
    data_use: str
    retention: str
    policy_url: str
    rights: str
    caveat: str


class Links(BaseModel):
    customer_view: str


class DecisionResponse(BaseModel):
    decision_id: str
    decided_at: str
    model: dict[str, str]
    outcome: Outcome
    explanation: Explanation
    disclosure: Notice
    links: Links


class ErrorDetail(BaseModel):
    code: str
    message: str
    field: str | None = None


class ErrorBody(BaseModel):
    error: ErrorDetail
