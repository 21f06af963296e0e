"""Composition root of the reviewer function: queue and review stores, records, texts, the pseudonym key."""

from __future__ import annotations

from dataclasses import dataclass

from functions.api.dependencies import manifests_registry, notices, operator_profile
from functions.api.keys import REVIEWER_PSEUDONYM, master_key, purpose_key
from functions.coldstart import per_container
from functions.domain.disclosure import NoticeCatalogue, OperatorProfile
from functions.domain.review import reviewer_pseudonym
from functions.schemas.manifest import ModelManifest
from functions.schemas.settings import ReviewSettings, review_settings
from functions.stores import aws_clients
from functions.stores.record_store import AwsRecordStore
from functions.stores.review_notifications import SqsReviewNotifications
from functions.stores.review_store import AwsReviewStore


@dataclass(frozen=True)
class ReviewServices:
    settings: ReviewSettings
    reviews: AwsReviewStore
    records: AwsRecordStore
    notices: NoticeCatalogue
    operator: OperatorProfile
    pseudonym_key: bytes
    notifications: SqsReviewNotifications | None = None  # None: the operator configured no webhook

    def reviewer(self, principal: str) -> str:
        return reviewer_pseudonym(principal, self.pseudonym_key)

    def manifest(self, model_id: str) -> ModelManifest:
        return manifests_registry().manifest(model_id)  # 404 for an unknown model


@per_container
def review_services() -> ReviewServices:
    settings = review_settings()
    dynamodb, s3 = aws_clients.dynamodb(), aws_clients.s3()
    return ReviewServices(
        settings=settings,
        reviews=AwsReviewStore(
            appeals_table=settings.appeals_table,
            records_table=settings.records_table,
            bucket=settings.archive_bucket,
            kms_key_id=settings.kms_key_id,
            dynamodb=dynamodb,
            s3=s3,
            index_shards=settings.index_shards,
        ),
        records=AwsRecordStore.from_settings(settings, dynamodb, s3),
        notices=notices(),
        operator=operator_profile(settings),
        pseudonym_key=purpose_key(master_key(settings.subject_key, settings.subject_key_secret), REVIEWER_PSEUDONYM),
        notifications=(
            SqsReviewNotifications(settings.review_notification_queue_url, aws_clients.sqs())
            if settings.review_notification_queue_url
            else None
        ),
    )
