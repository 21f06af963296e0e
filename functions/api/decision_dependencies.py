"""Composition root of the decisions function: models, record store and keys, built once per container."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from functools import partial

from functions.adapters.loader import load_model
from functions.api.dependencies import notices, operator_profile
from functions.api.keys import CUSTOMER_LINK, SUBJECT_HASH, master_key, purpose_key
from functions.coldstart import per_container
from functions.domain.customer_links import LINK_LIFETIME, sign_token
from functions.domain.decide import DecisionServices
from functions.domain.seal import subject_hash
from functions.schemas.settings import decision_settings
from functions.stores import aws_clients
from functions.stores.explanation_queue import SqsExplanationQueue
from functions.stores.model_registry import ModelRegistry, source_from_uri
from functions.stores.record_store import AwsRecordStore
from functions.stores.referral_queue import AwsReferralQueue


@per_container
def models_registry() -> ModelRegistry:
    return ModelRegistry(source_from_uri(decision_settings().models_uri, aws_clients.s3), load_model)


def _token_signer(key: bytes) -> Callable[[str, datetime], str]:
    return lambda decision_id, decided: sign_token(decision_id, decided + LINK_LIFETIME, key)


def _explanation_queue() -> SqsExplanationQueue | None:
    """Deferred explanations need the worker's queue; without it they are computed inline."""
    url = decision_settings().explanation_queue_url
    return SqsExplanationQueue(queue_url=url, sqs=aws_clients.sqs()) if url else None


def _referral_queue() -> AwsReferralQueue | None:
    """Decisions a model's review policy refers go to the appeals table; without it, they fail closed (503)."""
    table = decision_settings().appeals_table
    return AwsReferralQueue(table=table, dynamodb=aws_clients.dynamodb()) if table else None


@per_container
def decision_services() -> DecisionServices:
    settings = decision_settings()
    master = master_key(settings.subject_key, settings.subject_key_secret)
    return DecisionServices(
        models=models_registry(),
        notices=notices(),
        operator=operator_profile(settings),
        records=AwsRecordStore.from_settings(settings, aws_clients.dynamodb(), aws_clients.s3()),
        hash_subject=partial(subject_hash, key=purpose_key(master, SUBJECT_HASH)),
        sign_customer_token=_token_signer(purpose_key(master, CUSTOMER_LINK)),
        explanation_queue=_explanation_queue(),
        referrals=_referral_queue(),
    )
