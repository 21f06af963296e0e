"""The auditor report as a page (HTML): the fairness and attribution reports of a model and window, drawn.

The numbers come from the audit routes' own report functions, called as they are (whatever they
read: the index, or rollups), so the page never disagrees with `/v1/reports/fairness` and
`/v1/reports/attributions`. Same role and errors as those routes.
"""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from http import HTTPStatus
from typing import Annotated

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.params import Query

from functions.api import report_page
from functions.api.auth import IAM_AUTH, Role, requires
from functions.api.dependencies import manifests_registry
from functions.api.errors import AUTH_ERRORS, documented
from functions.api.routes import audit
from functions.domain.audit import Window, iso, parse_window
from functions.domain.errors import InvalidInput
from functions.domain.reports import FairnessReport
from functions.schemas.settings import audit_settings

router = Router()

_HTML = "text/html; charset=utf-8"
_ERRORS = AUTH_ERRORS | documented(
    e404="Unknown model",
    e422="Inverted, unparsable or too long window (or baseline window); attributes for a model that is not a "
    "decision model; an unknown query parameter",
    e503="The record index is unavailable",
)
Attributes = Annotated[
    str | None,
    Query(
        max_length=200,
        pattern=r"^[A-Za-z0-9_.-]+(:[A-Za-z0-9_.-]+)?(,[A-Za-z0-9_.-]+(:[A-Za-z0-9_.-]+)?){0,7}$",
        description="Segment attributes to report fairness on, comma-separated; `a:b` for the intersection of two "
        "(e.g. `age_band,gender,age_band:gender`). Decision models only.",
    ),
]


def _days(window: Window) -> list[Window]:
    """The window cut at UTC midnights, oldest first (the trend's points)."""
    spans = []
    for day in reversed(window.days_newest_first()):
        start = max(window.start, datetime.combine(day, time(), UTC))
        end = min(window.end, datetime.combine(day + timedelta(days=1), time(), UTC))
        if end > start:
            spans.append(Window(start, end))
    return spans


def _fairness(model_id: str, attribute: str, window: Window, min_group_size: int | None) -> report_page.FairnessSection:
    first, _, second = attribute.partition(":")

    def report(span: Window) -> FairnessReport | None:
        start, end = span.bounds
        try:
            return audit.fairness(
                model_id=model_id, attribute=first, attribute2=second or None, start=start, end=end,
                min_group_size=min_group_size,
            )  # fmt: skip
        except InvalidInput:  # no record of the span carries the attribute: nothing to draw, not an error
            return None

    overall = report(window)
    if overall is None:
        return report_page.FairnessSection(attribute, None, note=f"No record in this window carries {attribute}.")
    days = [(span.start.date().isoformat(), report(span)) for span in _days(window)]
    return report_page.FairnessSection(attribute, overall, days)


@router.get(
    "/v1/reports/page",
    summary="The auditor report as a page (HTML): fairness, trend, attributions, outcomes, disclosure, appeals",
    description="Server-rendered HTML with no scripts or external assets, charts as inline SVG each followed by "
    "a table of the same numbers: per segment attribute, selection rates and impact ratios per group against "
    "the 0.8 line and their trend per day; mean |SHAP value| per feature (against a baseline window when "
    "`baseline_from`/`baseline_to` are given); the outcome distribution, disclosure coverage and appeals by "
    "status. The numbers are those of `/v1/reports/fairness` and `/v1/reports/attributions` for the same "
    "window. `candor audit report --out report.html` saves it as a self-contained file.",
    middlewares=[requires(Role.auditor)],
    security=IAM_AUTH,
    responses={
        200: {"description": "The report page", "content": {_HTML: {}}},
        **_ERRORS,
    },
    tags=["auditors"],
)
def report(
    model_id: Annotated[str, Query(max_length=64)],
    start: audit.Since = None,
    end: audit.Until = None,
    attributes: Attributes = None,
    min_group_size: Annotated[int | None, Query(ge=1, le=100_000)] = None,
    baseline_from: Annotated[str | None, Query()] = None,
    baseline_to: Annotated[str | None, Query()] = None,
) -> Response[str]:
    settings = audit_settings()
    manifest = manifests_registry().manifest(model_id)  # 404 for an unknown model
    now = datetime.now(UTC)
    window = parse_window(start, end, max_days=settings.max_window_days, now=now)
    names = [name for name in (attributes or "").split(",") if name]
    if names and (manifest.kind != "decision" or manifest.favourable_outcome is None):
        raise InvalidInput(
            f"{model_id} is a {manifest.kind} model; fairness reports need a decision model", field="attributes"
        )
    start_iso, end_iso = window.bounds
    attributions = audit.attributions(
        model_id=model_id, start=start_iso, end=end_iso, baseline_from=baseline_from, baseline_to=baseline_to
    )
    page = report_page.ReportPage(
        model_id=model_id,
        model_version=manifest.version,
        kind=manifest.kind,
        window=window.as_dict(),
        generated_at=iso(now),
        attributions=attributions,
        fairness=[_fairness(model_id, name, window, min_group_size) for name in dict.fromkeys(names)],
    )
    return Response(
        status_code=HTTPStatus.OK,
        content_type=_HTML,
        body=report_page.render_report(page),
        headers=dict(report_page.HEADERS),
    )
