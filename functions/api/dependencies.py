"""Composition root shared by every function: notices and manifests (no model libraries)."""

from __future__ import annotations

from functions.coldstart import per_container
from functions.domain.disclosure import FALLBACK_LANGUAGE, NoticeCatalogue, OperatorProfile, OperatorTexts
from functions.schemas.settings import LANGUAGES, CatalogSettings, catalog_settings
from functions.stores import aws_clients
from functions.stores.model_registry import ModelRegistry, source_from_uri

# OperatorProfile's field -> the setting (CANDOR_<SETTING>, CANDOR_<SETTING>_<LANG>) it comes from.
_PROFILE_SETTINGS = {
    "name": "operator_name",
    "ai_system_name": "ai_system_name",
    "human_contact": "human_contact",
    "policy_url": "policy_url",
}


def operator_profile(settings: CatalogSettings) -> OperatorProfile:
    """The operator's texts in the fallback language, and in each other language what it says there."""

    def texts(language: str) -> dict[str, str]:
        return {field: settings.operator_text(name, language) for field, name in _PROFILE_SETTINGS.items()}

    return OperatorProfile(
        **texts(FALLBACK_LANGUAGE),
        languages={lang: OperatorTexts(**texts(lang)) for lang in LANGUAGES if lang != FALLBACK_LANGUAGE},
    )


@per_container
def notices() -> NoticeCatalogue:
    return NoticeCatalogue.load()


@per_container
def manifests_registry() -> ModelRegistry:
    """Manifests only: enough for /v1/models, without loading any model library."""
    return ModelRegistry(source_from_uri(catalog_settings().models_uri, aws_clients.s3))
