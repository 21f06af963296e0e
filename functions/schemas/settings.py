"""Configuration from the environment, validated once at cold start.

A missing or malformed setting fails the cold start with a message naming the variable,
rather than the hundredth request.
"""

from __future__ import annotations

import os
import re
from datetime import datetime
from pathlib import Path
from typing import Any

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic.fields import FieldInfo
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from functions.coldstart import per_container

BUNDLED_MODELS = Path(__file__).resolve().parents[2] / "models"
BUNDLED = "bundled"  # in CANDOR_MODELS_URI: the models packaged with Candor, BUNDLED_MODELS

# The languages Candor writes in (notices, summaries, the customer page); a test keeps them in step.
LANGUAGES = ("en", "es")
# What customers read about the operator; each may be set per language (CANDOR_HUMAN_CONTACT_ES).
OPERATOR_TEXTS = ("operator_name", "ai_system_name", "human_contact", "policy_url")
# The texts used while neither CANDOR_<NAME> nor CANDOR_<NAME>_<LANG> is set; a language without
# its own falls back to English (a name or a URL reads the same in every language).
DEFAULT_OPERATOR_TEXTS: dict[str, dict[str, str]] = {
    "en": {
        "operator_name": "Example Retail S.L.",
        "ai_system_name": "Candor-assisted support assistant",
        "human_contact": "Write 'agent' in the chat or call +34 900 000 000 (Mon-Fri 9-18 CET)",
        "policy_url": "https://example.com/privacy/ai",
    },
    "es": {
        "ai_system_name": "Asistente de soporte con Candor",
        "human_contact": "Escriba «agente» en el chat o llame al +34 900 000 000 (lun-vie 9-18 CET)",
    },
}
_PER_LANGUAGE = re.compile(rf"^CANDOR_({'|'.join(OPERATOR_TEXTS)})_([A-Za-z0-9]+)$", re.IGNORECASE)
_URL = re.compile(r"^https?://\S+$")
# 16 segment attributes (the API's limit) and 16 pairs, hour and day, and the marker: 67 of a
# transaction's 100 actions (functions/stores/rollup_store.py).
MAX_ROLLUP_INTERSECTIONS = 16
# Shards of the records' index keys (functions/domain/index_shards.py). 32 takes 10,000 decisions/s of
# one model at under half of a partition key's write limit (docs/benchmarks.md, "Partitions").
DEFAULT_INDEX_SHARDS = 32
MAX_INDEX_SHARDS = 256


def _variable(name: str, language: str) -> str:
    return f"CANDOR_{name.upper()}_{language.upper()}"


class _PerLanguageVariables(PydanticBaseSettingsSource):
    """CANDOR_<NAME>_<LANG> for the operator texts, gathered as {language: {name: text}}.

    The environment source only reads variables named after fields; these are named after a
    field and a language, so they are collected here and checked by the settings' validator.
    """

    def get_field_value(self, field: FieldInfo, field_name: str) -> tuple[Any, str, bool]:
        return None, field_name, False  # unused: __call__ reads the environment itself

    def __call__(self) -> dict[str, Any]:
        found: dict[str, dict[str, str]] = {}
        for variable, value in os.environ.items():
            if match := _PER_LANGUAGE.match(variable):
                found.setdefault(match.group(2).lower(), {})[match.group(1).lower()] = value
        return {"operator_texts_by_language": found} if found else {}


class CatalogSettings(BaseSettings):
    """What every function needs: where the models are, who operates the service, who may call."""

    # defer_build: each function reads one of the settings classes here; building the validators of all
    # seven at import took ~20 ms of every cold start. The one used is built when it is first read.
    model_config = SettingsConfigDict(env_prefix="CANDOR_", frozen=True, extra="ignore", defer_build=True)

    models_uri: str = Field(
        default=BUNDLED,
        description="Model registry: comma-separated folders, s3://bucket/prefix URIs or `bundled`, each holding"
        " <model_id>/manifest.json.",
    )
    # Set, each is used in every language that has no CANDOR_<NAME>_<LANG> of its own.
    operator_name: str = DEFAULT_OPERATOR_TEXTS["en"]["operator_name"]
    ai_system_name: str = DEFAULT_OPERATOR_TEXTS["en"]["ai_system_name"]
    human_contact: str = DEFAULT_OPERATOR_TEXTS["en"]["human_contact"]
    policy_url: str = DEFAULT_OPERATOR_TEXTS["en"]["policy_url"]
    operator_texts_by_language: dict[str, dict[str, str]] = Field(
        default_factory=dict,
        description="From CANDOR_<NAME>_<LANG> (CANDOR_HUMAN_CONTACT_ES): {language: {name: text}}.",
    )
    chatbot_role: str = Field(default="candor-chatbot", description="IAM role name of chatbot backends.")
    auditor_role: str = Field(default="candor-auditor", description="IAM role name of auditors.")
    privacy_role: str = Field(default="candor-privacy", description="IAM role name of privacy officers.")
    reviewer_role: str = Field(default="candor-reviewer", description="IAM role name of human reviewers.")

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return init_settings, _PerLanguageVariables(settings_cls), env_settings, dotenv_settings, file_secret_settings

    @field_validator("operator_texts_by_language")
    @classmethod
    def _known_languages(cls, texts: dict[str, dict[str, str]]) -> dict[str, dict[str, str]]:
        problems = []
        for language, values in texts.items():
            for name, value in values.items():
                variable = _variable(name, language)
                if language not in LANGUAGES:
                    problems.append(f"{variable}: no texts in {language!r}; the languages are {', '.join(LANGUAGES)}")
                elif name not in OPERATOR_TEXTS:
                    problems.append(f"{variable}: not an operator text ({', '.join(OPERATOR_TEXTS)})")
                elif not value.strip():
                    problems.append(f"{variable} is empty")
                elif name == "policy_url" and not _URL.match(value):
                    problems.append(f"{variable} must be an http(s) URL")
        if problems:
            raise ValueError("; ".join(problems))
        return texts

    def operator_text(self, name: str, language: str) -> str:
        """CANDOR_<NAME>_<LANG>; else CANDOR_<NAME>, for every language; else the built-in text in `language`."""
        own = self.operator_texts_by_language.get(language, {}).get(name)
        if own is not None:
            return own
        if name in self.model_fields_set:
            return str(getattr(self, name))
        return DEFAULT_OPERATOR_TEXTS.get(language, {}).get(name) or str(getattr(self, name))


class RecordSettings(CatalogSettings):
    """Every function that touches records: where they are, and the key behind subject hashes and links."""

    records_table: str
    archive_bucket: str
    personal_bucket: str
    kms_key_id: str
    pending_table: str | None = Field(
        default=None,
        description="Sealed records awaiting their archive copy (docs/records.md); unset: records go to S3 directly.",
    )
    subject_key_secret: str | None = Field(default=None, description="Secrets Manager id of the subject-hash key.")
    subject_key: SecretStr | None = Field(default=None, description="The key itself; local stack and tests only.")
    index_shards: int = Field(
        default=DEFAULT_INDEX_SHARDS,
        ge=1,
        le=MAX_INDEX_SHARDS,
        description="Shards of the records' time-ordered index keys (functions/domain/index_shards.py); the same for"
        " every function. Raise it, never lower it: items of dropped shards would no longer be read.",
    )

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
    appeals_table: str | None = Field(
        default=None,
        description="The review queue that decisions a model's review_policy refers go to; unset: they fail (503).",
    )


class WorkerSettings(RecordSettings):
    """The explanation worker reads records and the models, and completes pending explanations."""

    completion_margin_seconds: float = Field(
        default=10.0, gt=0, description="Time kept back from the explainer's deadline to store the completion."
    )


class CustomerSettings(RecordSettings):
    """The customer function reads records and appeals and verifies links; it writes only appeals."""

    appeals_table: str


class ReviewSettings(RecordSettings):
    """The reviewer function reads records and appeals, claims and resolves appeals, writes sealed reviews."""

    appeals_table: str
    review_claim_minutes: int = Field(default=60, gt=0, description="How long a claim holds before it expires.")
    review_queue_days: int = Field(default=90, gt=0, le=366, description="How far back the queue looks by default.")
    review_notification_queue_url: str = Field(
        default="", description="Queue of the operator's webhook notifications; empty: no webhook (off)."
    )


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
    # Rollups (functions/domain/rollups.py): whole settled hours come from them, the rest from the index.
    rollups_table: str | None = Field(default=None, description="Rollups; unset: reports read the index only.")
    rollups_since: datetime | None = Field(
        default=None, description="First hour the rollups cover (the stream's start); earlier hours: the index."
    )
    rollup_intersections: str = Field(default="", description="The pairs the rollups also sum (RollupSettings).")
    rollup_settle_seconds: int = Field(
        default=300, ge=0, description="An hour is read from rollups once it ended this long ago (stream lag)."
    )
    # Integrity digests (functions/domain/integrity.py); the window is fixed once digests exist.
    digest_window_hours: int = Field(default=1, description="Digest window in hours: 1, 2, 3, 4, 6, 8, 12 or 24.")
    digest_lag_seconds: int = Field(default=300, ge=0, description="A window closes this long after its end.")
    digest_first_window: str | None = Field(
        default=None, description="ISO-8601 start of the first digested window; default: the newest closed one."
    )
    archive_retention_days: int = Field(
        default=183, gt=0, description="The archive bucket's default Object Lock period (template.yaml)."
    )

    @field_validator("rollups_since", mode="before")
    @classmethod
    def _empty_is_none(cls, value: Any) -> Any:
        return None if value == "" else value  # the template's default: a stack with rollups from its start

    @field_validator("rollup_intersections")
    @classmethod
    def _rolled_up_pairs(cls, value: str) -> str:
        intersection_pairs(value)
        return value

    @field_validator("digest_window_hours")
    @classmethod
    def _window_divides_a_day(cls, hours: int) -> int:
        if hours < 1 or 24 % hours:
            raise ValueError("CANDOR_DIGEST_WINDOW_HOURS must divide 24 (1, 2, 3, 4, 6, 8, 12 or 24)")
        return hours


def intersection_pairs(value: str) -> list[tuple[str, str]]:
    """CANDOR_ROLLUP_INTERSECTIONS ('age_band+gender,...') as sorted pairs (the order rollups key them by)."""
    pairs = [p.strip() for p in value.split(",") if p.strip()]
    found = set()
    for pair in pairs:
        names = sorted(a.strip() for a in pair.split("+") if a.strip())
        if len(names) != 2 or names[0] == names[1]:
            raise ValueError(f"CANDOR_ROLLUP_INTERSECTIONS: {pair!r} is not a pair of two attributes 'a+b'")
        found.add((names[0], names[1]))
    if len(found) > MAX_ROLLUP_INTERSECTIONS:
        raise ValueError(f"CANDOR_ROLLUP_INTERSECTIONS: at most {MAX_ROLLUP_INTERSECTIONS} pairs")
    return sorted(found)


class RollupSettings(BaseSettings):
    """The rollup function: where the rollups go, and which pairs of segment attributes are also summed together."""

    model_config = SettingsConfigDict(env_prefix="CANDOR_", frozen=True, extra="ignore", defer_build=True)

    rollups_table: str
    records_table: str
    appeals_table: str | None = None
    rollup_intersections: str = Field(
        default="",
        description="Comma-separated pairs of segment attributes rolled up together, e.g. 'age_band+gender'.",
    )
    rollup_marker_ttl_days: int = Field(default=7, ge=2, description="How long a record's counted-once marker stays.")

    @field_validator("rollup_intersections")
    @classmethod
    def _pairs(cls, value: str) -> str:
        intersection_pairs(value)
        return value

    @property
    def intersections(self) -> list[tuple[str, str]]:
        return intersection_pairs(self.rollup_intersections)


class ArchiveCopySettings(BaseSettings):
    """The archive copier: the pending records it reads and deletes, the two buckets it writes, their key."""

    model_config = SettingsConfigDict(env_prefix="CANDOR_", frozen=True, extra="ignore", defer_build=True)

    pending_table: str
    archive_bucket: str
    personal_bucket: str
    kms_key_id: str


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
def review_settings() -> ReviewSettings:
    return ReviewSettings()  # required fields come from the environment


class ReviewWebhookSettings(BaseSettings):
    """The webhook function: where to post resolved reviews, and the secret that signs them."""

    model_config = SettingsConfigDict(env_prefix="CANDOR_", frozen=True, extra="ignore", defer_build=True)

    review_webhook_url: str = Field(default="", description="The operator's HTTPS endpoint; empty: off.")
    review_webhook_secret_arn: str = Field(default="", description="Secrets Manager secret holding the HMAC key.")
    review_webhook_timeout_seconds: float = Field(default=5.0, gt=0, le=20)


@per_container
def review_webhook_settings() -> ReviewWebhookSettings:
    return ReviewWebhookSettings()


@per_container
def worker_settings() -> WorkerSettings:
    return WorkerSettings()  # required fields come from the environment


@per_container
def rollup_settings() -> RollupSettings:
    return RollupSettings()  # required fields come from the environment


@per_container
def archive_copy_settings() -> ArchiveCopySettings:
    return ArchiveCopySettings()
