"""Composition root of the customer function: record and appeal stores, the link key. No model libraries."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from functions.api.dependencies import manifests_registry, notices, operator_profile
from functions.api.keys import CUSTOMER_LINK, master_key, purpose_key
from functions.coldstart import per_container
from functions.domain.customer_links import verify_token
from functions.domain.disclosure import NoticeCatalogue, OperatorProfile
from functions.domain.errors import UnknownModel
from functions.schemas.manifest import ModelManifest
from functions.schemas.settings import customer_settings
from functions.stores import aws_clients
from functions.stores.appeal_store import AwsAppealStore
from functions.stores.record_store import AwsRecordStore


@dataclass(frozen=True)
class CustomerServices:
    records: AwsRecordStore
    appeals: AwsAppealStore
    notices: NoticeCatalogue
    operator: OperatorProfile
    link_key: bytes

    def token_valid(self, token: str | None, decision_id: str) -> bool:
        return verify_token(token, decision_id, self.link_key, datetime.now(UTC))

    def manifest(self, model_id: str) -> ModelManifest | None:
        try:
            return manifests_registry().manifest(model_id)
        except UnknownModel:
            return None  # a retired model: the view falls back to the stored names


@per_container
def customer_services() -> CustomerServices:
    settings = customer_settings()
    return CustomerServices(
        records=AwsRecordStore.from_settings(settings, aws_clients.dynamodb(), aws_clients.s3()),
        appeals=AwsAppealStore(table=settings.appeals_table, dynamodb=aws_clients.dynamodb()),
        notices=notices(),
        operator=operator_profile(settings),
        link_key=purpose_key(master_key(settings.subject_key, settings.subject_key_secret), CUSTOMER_LINK),
    )
