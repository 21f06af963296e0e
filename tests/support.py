"""Test helpers shared by the tiers."""

from __future__ import annotations


def fresh_container() -> None:
    """Forget everything built at cold start, as a new Lambda container would.

    Settings, AWS clients, the model registry and the idempotency store are cached per
    process; tests that point the functions at a new (moto) account must drop them.
    """
    from functions.api import decision_dependencies, dependencies
    from functions.api.routes import decisions
    from functions.schemas import settings
    from functions.stores import aws_clients

    for cached in (
        settings.catalog_settings,
        settings.decision_settings,
        aws_clients.dynamodb,
        aws_clients.s3,
        aws_clients.secretsmanager,
        dependencies.notices,
        dependencies.manifests_registry,
        decision_dependencies.models_registry,
        decision_dependencies.decision_services,
        decisions.idempotent_decide,
        decisions._idempotency_config,
    ):
        cached.cache_clear()
