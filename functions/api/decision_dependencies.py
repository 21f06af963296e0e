"""Composition root of the decisions function: models, record store and keys, built once per container."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable
from datetime import datetime
from functools import cache, partial

from botocore.exceptions import BotoCoreError, ClientError

from functions.adapters.in_process import load_runtime
from functions.api.dependencies import notices, operator_profile
from functions.domain.customer_links import LINK_LIFETIME, sign_token
from functions.domain.decide import DecisionServices
from functions.domain.errors import DependencyUnavailable
from functions.domain.seal import subject_hash
from functions.schemas.settings import DecisionSettings, decision_settings
from functions.stores import aws_clients
from functions.stores.model_registry import ModelRegistry, source_from_uri
from functions.stores.record_store import AwsRecordStore


@cache
def models_registry() -> ModelRegistry:
    return ModelRegistry(source_from_uri(decision_settings().models_uri, aws_clients.s3), load_runtime)


def _purpose_key(master: bytes, purpose: str) -> bytes:
    """Separate keys per use from the one secret, so a leaked link key cannot re-identify subjects."""
    return hmac.new(master, purpose.encode(), hashlib.sha256).digest()


def _token_signer(key: bytes) -> Callable[[str, datetime], str]:
    return lambda decision_id, decided: sign_token(decision_id, decided + LINK_LIFETIME, key)


def _master_key(settings: DecisionSettings) -> bytes:
    if settings.subject_key is not None:
        return settings.subject_key.get_secret_value().encode()
    try:
        secret = aws_clients.secretsmanager().get_secret_value(SecretId=str(settings.subject_key_secret))
    except (ClientError, BotoCoreError) as error:  # not cached: the next request tries again
        raise DependencyUnavailable("the subject-hash key is unavailable") from error
    return secret["SecretString"].encode()


@cache
def decision_services() -> DecisionServices:
    settings = decision_settings()
    master = _master_key(settings)
    return DecisionServices(
        models=models_registry(),
        notices=notices(),
        operator=operator_profile(settings),
        records=AwsRecordStore(
            table=settings.records_table,
            bucket=settings.archive_bucket,
            personal_bucket=settings.personal_bucket,
            kms_key_id=settings.kms_key_id,
            dynamodb=aws_clients.dynamodb(),
            s3=aws_clients.s3(),
        ),
        hash_subject=partial(subject_hash, key=_purpose_key(master, "subject-hash/v1")),
        sign_customer_token=_token_signer(_purpose_key(master, "customer-link/v1")),
    )
