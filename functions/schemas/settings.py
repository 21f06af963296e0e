"""Configuration from the environment, validated once at cold start.

A missing or malformed setting fails the cold start with a message naming the variable,
rather than the hundredth request.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from functions.coldstart import per_container

BUNDLED_MODELS = Path(__file__).resolve().parents[2] / "models"
BUNDLED = "bundled"  # in CANDOR_MODELS_URI: the models packaged with Candor, BUNDLED_MODELS


class CatalogSettings(BaseSettings):
    """What every function needs: where the models are, who operates the service, who may call."""

    model_config = SettingsConfigDict(env_prefix="CANDOR_", frozen=True, extra="ignore")

    models_uri: str = Field(
        default=BUNDLED,
        description="Model registry: comma-separated folders, s3://bucket/prefix URIs or `bundled`, each holding"
        " <model_id>/manifest.json.",
    )
    operator_name: str = "Example Retail S.L."
    ai_system_name: str = "Candor-assisted support assistant"
    human_contact: str = "Write 'agent' in the chat or call +34 900 000 000 (Mon-Fri 9-18 CET)"
    policy_url: str = "https://example.com/privacy/ai"
    chatbot_role: str = Field(default="candor-chatbot", description="IAM role name of chatbot backends.")
    auditor_role: str = Field(default="candor-auditor", description="IAM role name of auditors.")
    privacy_role: str = Field(default="candor-privacy", description="IAM role name of privacy officers.")


class RecordSettings(CatalogSettings):
    """Every function that touches records: where they are, and the key behind subject hashes and links."""

    records_table: str
    archive_bucket: str
    personal_bucket: str
    kms_key_id: str
    subject_key_secret: str | None = Field(default=None, description="Secrets Manager id of the subject-hash key.")
    subject_key: SecretStr | None = Field(default=None, description="The key itself; local stack and tests only.")

    @model_validator(mode="after")
    def _one_key_source(self) -> RecordSettings:
        if (self.subject_key is None) == (self.subject_key_secret is None):
            raise ValueError("set exactly one of CANDOR_SUBJECT_KEY_SECRET (AWS) or CANDOR_SUBJECT_KEY (local)")
        return self


class DecisionSettings(RecordSettings):
    """The decision function writes records and remembers request ids."""

    idempotency_table: str
    public_base_url: str = Field(
        default="", description="Base of the customer links; empty: the API's own URL, from the request."
    )
    idempotency_ttl_seconds: int = Field(default=24 * 3600, gt=0)
    explanation_queue_url: str | None = Field(
        default=None,
        description="SQS queue of deferred explanations; unset: every explanation is computed inline or not at all.",
    )


class WorkerSettings(RecordSettings):
    """The explanation worker reads records and the models, and completes pending explanations."""

    completion_margin_seconds: float = Field(
        default=10.0, gt=0, description="Time kept back from the explainer's deadline to store the completion."
    )


class CustomerSettings(RecordSettings):
    """The customer function reads records and appeals and verifies links; it writes only appeals."""

    appeals_table: str


class AuditSettings(RecordSettings):
    """The audit side (auditor and privacy routes, integrity digests): reads records, never writes decisions."""

    appeals_table: str | None = Field(default=None, description="Appeals, once the customer side records them.")
    idempotency_table: str | None = Field(
        default=None, description="The decisions' remembered answers, which erasure deletes with the personal part."
    )
    digest_key_id: str | None = Field(default=None, description="Asymmetric KMS key that signs integrity digests.")
    max_window_days: int = Field(default=366, gt=0, description="Longest time window one query or report may span.")
    max_page_size: int = Field(default=200, gt=0, le=1000)
    max_verify_days: int = Field(default=1, gt=0, description="Longest span one integrity check may cover.")
    min_group_size: int = Field(default=30, gt=0, description="Fairness groups smaller than this are reported apart.")
    # Integrity digests (functions/domain/integrity.py); the window is fixed once digests exist.
    digest_window_hours: int = Field(default=1, description="Digest window in hours: 1, 2, 3, 4, 6, 8, 12 or 24.")
    digest_lag_seconds: int = Field(default=300, ge=0, description="A window closes this long after its end.")
    digest_first_window: str | None = Field(
        default=None, description="ISO-8601 start of the first digested window; default: the newest closed one."
    )
    archive_retention_days: int = Field(
        default=183, gt=0, description="The archive bucket's default Object Lock period (template.yaml)."
    )

    @field_validator("digest_window_hours")
    @classmethod
    def _window_divides_a_day(cls, hours: int) -> int:
        if hours < 1 or 24 % hours:
            raise ValueError("CANDOR_DIGEST_WINDOW_HOURS must divide 24 (1, 2, 3, 4, 6, 8, 12 or 24)")
        return hours


@per_container
def catalog_settings() -> CatalogSettings:
    return CatalogSettings()


@per_container
def audit_settings() -> AuditSettings:
    return AuditSettings()  # required fields come from the environment


@per_container
def decision_settings() -> DecisionSettings:
    return DecisionSettings()  # required fields come from the environment


@per_container
def customer_settings() -> CustomerSettings:
    return CustomerSettings()  # required fields come from the environment


@per_container
def worker_settings() -> WorkerSettings:
    return WorkerSettings()  # required fields come from the environment
