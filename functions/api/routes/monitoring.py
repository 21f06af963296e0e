"""Auditor route: a model's monitor, its latest signed report and the history of its runs."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Annotated

from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.params import Path, Query
from pydantic import BaseModel, Field

from functions.api.audit_dependencies import monitoring_store
from functions.api.auth import IAM_AUTH, Role, requires
from functions.api.dependencies import manifests_registry
from functions.api.errors import AUTH_ERRORS, documented
from functions.domain.audit import parse_window
from functions.domain.errors import MalformedRequest
from functions.domain.monitoring import MonitoringReport, Status
from functions.schemas.settings import audit_settings
from functions.stores.monitoring_store import StoredReport, model_prefix

router = Router()
_KEY = re.compile(r"^\d{4}/\d{2}/\d{2}/\d{4}\.json$")


class MonitoringRun(BaseModel):
    evaluated_at: str | None
    status: Status | None = Field(description="None when the stored report no longer parses.")
    violations: list[str]
    report_sha256: str
    previous_report_sha256: str | None
    signature_valid: bool = Field(description="The KMS signature verifies and the object is as written.")


class MonitoringStatus(BaseModel):
    model_id: str
    monitored: bool = Field(description="The model's manifest has a `monitor` section.")
    latest: MonitoringReport | None = Field(description="The newest report, whatever the window asked.")
    latest_signature_valid: bool | None
    history: list[MonitoringRun] = Field(description="Runs in [from, to), newest first.")
    next_cursor: str | None = Field(description="Pass as `cursor` for older runs; null on the last page.")


def _run(stored: StoredReport) -> MonitoringRun:
    report = stored.report
    return MonitoringRun(
        evaluated_at=report.evaluated_at if report else None,
        status=report.status if report else None,
        violations=report.violations if report else [],
        report_sha256=stored.sha256,
        previous_report_sha256=report.previous_report_sha256 if report else None,
        signature_valid=stored.signature_valid,
    )


@router.get(
    "/v1/monitoring/<model_id>",
    summary="A model's monitor: latest status and history",
    description="The newest signed monitoring report of the model (checks, violating groups, the baseline), and "
    "the runs of [from, to), newest first, each with its status, violations and whether its signature verifies. "
    "Reports are written hourly by the monitoring job (docs/auditors.md#monitors).",
    middlewares=[requires(Role.auditor)],
    security=IAM_AUTH,
    responses={
        200: {"description": "Latest report and a page of history"},
        **AUTH_ERRORS,
        **documented(
            e400="Malformed or foreign cursor",
            e404="Unknown model",
            e422="Inverted, unparsable or too long window; limit out of range; an unknown query parameter",
            e503="The archive or the signing key is unavailable",
        ),
    },
    tags=["auditors"],
)
def monitoring(
    model_id: Annotated[str, Path(max_length=64)],
    start: Annotated[str | None, Query(alias="from", description="ISO 8601; default: 7 days before `to`")] = None,
    end: Annotated[str | None, Query(alias="to", description="ISO 8601; default: now")] = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 24,
    cursor: Annotated[str | None, Query(max_length=256)] = None,
) -> MonitoringStatus:
    manifest = manifests_registry().manifest(model_id)  # 404 for an unknown model
    now = datetime.now(UTC)
    window = parse_window(start, end, max_days=audit_settings().max_window_days, now=now)
    prefix = model_prefix(model_id)
    if cursor is not None and not (cursor.startswith(prefix) and _KEY.match(cursor.removeprefix(prefix))):
        raise MalformedRequest("the cursor is not one this route gave for this model", field="cursor")
    store = monitoring_store()
    latest = store.latest(model_id, now + timedelta(days=1))  # on-demand runs may be stamped ahead
    keys = store.history(model_id, window.start, window.end, before=cursor, limit=limit + 1)
    page = [store.get(key) for key in keys[:limit]]
    return MonitoringStatus(
        model_id=model_id,
        monitored=manifest.monitor is not None,
        latest=latest.report if latest else None,
        latest_signature_valid=latest.signature_valid if latest else None,
        history=[_run(stored) for stored in page if stored is not None],
        next_cursor=keys[limit - 1] if len(keys) > limit else None,
    )
