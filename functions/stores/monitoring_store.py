"""Monitoring reports in the archive bucket: signed like the integrity digests, chained per model.

Layout: `monitoring/<model_id>/<yyyy>/<mm>/<dd>/<HHMM>.json` (the evaluation time, UTC, to the
minute; zero-padded so keys sort in time order), written once (`IfNoneMatch: *`) under the
bucket's Object Lock. The object is `{"report": <MonitoringReport>, "report_sha256", "signature"}`
(functions/stores/signed_objects.py); each report names its predecessor's SHA-256.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from pydantic import ValidationError

from functions.domain.errors import DependencyUnavailable
from functions.domain.monitoring import MonitoringReport
from functions.stores.signed_objects import AlreadyWritten, SignedObjects

if TYPE_CHECKING:
    from mypy_boto3_kms import KMSClient
    from mypy_boto3_s3 import S3Client

    from functions.schemas.settings import AuditSettings

PREFIX = "monitoring/"
_RECENT = timedelta(days=40)  # where `latest` looks first


def model_prefix(model_id: str) -> str:
    return f"{PREFIX}{model_id}/"


def report_key(model_id: str, evaluated_at: datetime) -> str:
    return f"{model_prefix(model_id)}{evaluated_at.astimezone(UTC):%Y/%m/%d/%H%M}.json"


@dataclass(frozen=True)
class StoredReport:
    key: str
    report: MonitoringReport | None  # None when the object no longer parses as a report
    sha256: str
    signature_valid: bool


class AwsMonitoringStore:
    def __init__(
        self,
        *,
        bucket: str,
        signing_key_id: str,
        kms_key_id: str,
        s3: S3Client,
        kms: KMSClient,
        trusted_key_ids: Collection[str] = (),
    ) -> None:
        self.signing_key_id = signing_key_id
        self.objects = SignedObjects(
            name="report",
            bucket=bucket,
            kms_key_id=kms_key_id,
            s3=s3,
            kms=kms,
            trusted_key_ids={signing_key_id, *trusted_key_ids},
        )

    @classmethod
    def from_settings(cls, settings: AuditSettings, s3: S3Client, kms: KMSClient) -> AwsMonitoringStore:
        if not settings.digest_key_id:
            raise ValueError("CANDOR_DIGEST_KEY_ID is not set: monitoring reports are signed with the digests' key")
        return cls(
            bucket=settings.archive_bucket,
            signing_key_id=settings.digest_key_id,
            kms_key_id=settings.kms_key_id,
            s3=s3,
            kms=kms,
        )

    def put(self, report: MonitoringReport, evaluated_at: datetime) -> StoredReport:
        """Sign and write; when a run at the same minute wrote one already, that one."""
        key = report_key(report.model_id, evaluated_at)
        try:
            sha256 = self.objects.write(
                key, report.model_dump(mode="json"), key_id=report.signing_key_id, algorithm=report.algorithm
            )
        except AlreadyWritten:
            existing = self.get(key)
            if existing is None:
                raise DependencyUnavailable("the monitoring report could not be written") from None
            return existing
        return StoredReport(key=key, report=report, sha256=sha256, signature_valid=True)

    def get(self, key: str) -> StoredReport | None:
        found = self.objects.read(key)
        if found is None:
            return None
        try:
            report = MonitoringReport.model_validate(found.content) if found.content is not None else None
        except ValidationError:
            report = None
        return StoredReport(key=key, report=report, sha256=found.sha256, signature_valid=found.signature_valid)

    def latest(self, model_id: str, before: datetime) -> StoredReport | None:
        """The model's newest report evaluated before the minute of `before` (recent keys first, then all)."""
        bound = report_key(model_id, before)
        keys = self.keys(model_id, report_key(model_id, before - _RECENT), bound) or self.keys(model_id, None, bound)
        return self.get(keys[-1]) if keys else None

    def keys(self, model_id: str, after: str | None, before: str) -> list[str]:
        """The model's report keys in (after, before), oldest first."""
        found = []
        for key in self.objects.keys(model_prefix(model_id), start_after=after):
            if key >= before:
                break
            found.append(key)
        return found

    def history(self, model_id: str, start: datetime, end: datetime, *, before: str | None, limit: int) -> list[str]:
        """Keys of the reports evaluated in [start, end), newest first, older than `before` when given."""
        first = report_key(model_id, start)
        keys = self.keys(model_id, first.removesuffix(".json"), min(before or "~", report_key(model_id, end)))
        return keys[::-1][:limit]
