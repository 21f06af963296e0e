"""Composition root shared by every function: notices and manifests (no model libraries)."""

from __future__ import annotations

from functions.coldstart import per_container
from functions.domain.disclosure import NoticeCatalogue, OperatorProfile
from functions.schemas.settings import CatalogSettings, catalog_settings
from functions.stores import aws_clients
from functions.stores.model_registry import ModelRegistry, source_from_uri


def operator_profile(settings: CatalogSettings) -> OperatorProfile:
    return OperatorProfile(
        name=settings.operator_name,
        ai_system_name=settings.ai_system_name,
        human_contact=settings.human_contact,
        policy_url=settings.policy_url,
    )


@per_container
def notices() -> NoticeCatalogue:
    return NoticeCatalogue.load()


@per_container
def manifests_registry() -> ModelRegistry:
    """Manifests only: enough for /v1/models, without loading any model library."""
    return ModelRegistry(source_from_uri(catalog_settings().models_uri, aws_clients.s3))
