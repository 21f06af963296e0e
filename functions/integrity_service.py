"""Composition root of integrity digests: what the scheduled job, the verify route and the CLI call.

    from functions.integrity_service import integrity_service
    report = integrity_service().verify(start, end)       # IntegrityReport
    run = integrity_service().write_due()                  # DigestRun (the scheduled job)

Built once per container from `AuditSettings`; no shap, numpy or model library is imported.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from functions.coldstart import per_container
from functions.domain import integrity
from functions.domain.integrity import (
    DigestRun,
    DigestStore,
    IntegrityReport,
    RecordSource,
    Windowing,
    parse_utc,
)
from functions.schemas.settings import AuditSettings, audit_settings
from functions.stores import aws_clients
from functions.stores.digest_store import AwsDigestStore
from functions.stores.integrity_records import AwsRecordSource


@dataclass(frozen=True)
class IntegrityService:
    digests: DigestStore
    records: RecordSource
    windowing: Windowing
    signing_key_id: str
    default_retention: timedelta
    first_window: datetime | None = None

    def verify(self, start: datetime, end: datetime, *, now: datetime | None = None) -> IntegrityReport:
        """Verify every window overlapping [start, end); bound the span before calling (one GET per record)."""
        return integrity.verify_span(
            start,
            end,
            now=now or datetime.now(UTC),
            windowing=self.windowing,
            digests=self.digests,
            records=self.records,
        )

    def write_due(self, now: datetime | None = None) -> DigestRun:
        """Digest every closed window not digested yet, extending long retentions first."""
        return integrity.write_due_digests(
            now or datetime.now(UTC),
            windowing=self.windowing,
            digests=self.digests,
            records=self.records,
            signing_key_id=self.signing_key_id,
            default_retention=self.default_retention,
            first_window=self.first_window,
        )


def build_integrity_service(settings: AuditSettings) -> IntegrityService:
    if not settings.digest_key_id:
        raise ValueError("CANDOR_DIGEST_KEY_ID is not set: integrity digests need the signing key")
    windowing = Windowing(hours=settings.digest_window_hours, lag=timedelta(seconds=settings.digest_lag_seconds))
    return IntegrityService(
        digests=AwsDigestStore(
            bucket=settings.archive_bucket,
            signing_key_id=settings.digest_key_id,
            kms_key_id=settings.kms_key_id,
            s3=aws_clients.s3(),
            kms=aws_clients.kms(),
        ),
        records=AwsRecordSource(
            table=settings.records_table,
            bucket=settings.archive_bucket,
            windowing=windowing,
            dynamodb=aws_clients.dynamodb(),
            s3=aws_clients.s3(),
            index_shards=settings.index_shards,
            appeals_table=settings.appeals_table,
            pending_table=settings.pending_table,
        ),
        windowing=windowing,
        signing_key_id=settings.digest_key_id,
        default_retention=timedelta(days=settings.archive_retention_days),
        first_window=parse_utc(settings.digest_first_window) if settings.digest_first_window else None,
    )


@per_container
def integrity_service() -> IntegrityService:
    return build_integrity_service(audit_settings())
