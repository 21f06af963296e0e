"""Auditor routes: query records, read one, fairness, review and attribution reports."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.params import Path, Query
from pydantic import BaseModel, Field

from functions.api.audit_dependencies import appeal_store, hash_subject, record_index, record_store
from functions.api.auth import IAM_AUTH, Role, requires
from functions.api.dependencies import manifests_registry
from functions.api.errors import AUTH_ERRORS, documented
from functions.domain.audit import (
    decode_cursor,
    encode_cursor,
    fingerprint,
    parse_window,
    plan_listing,
)
from functions.domain.completion_seal import completion_verifies
from functions.domain.errors import InvalidInput, UnknownRecord
from functions.domain.integrity import IntegrityReport
from functions.domain.reports import AttributionReport, FairnessReport, attribution_report, fairness_report_of
from functions.domain.review_reports import ReviewReport, ReviewTally, review_report
from functions.domain.seal import verify
from functions.integrity_service import integrity_service
from functions.report_sources import report_sources
from functions.schemas.record import ExplanationRecord, SealedCompletion
from functions.schemas.settings import audit_settings

router = Router()

_QUERY_ERRORS = AUTH_ERRORS | documented(
    e400="Malformed or foreign cursor",
    e404="Unknown model",
    e422="Inverted, unparsable or too long window; missing model_id and subject_id; limit out of range; an "
    "unknown query parameter",
    e503="The record index is unavailable",
)
_SUMMARY_FIELDS = (
    "decision_id", "decided_at", "model_id", "model_version", "outcome", "score", "adverse", "notice_id",
    "locale", "method", "content_sha256", "retention_class", "erasure_status",
)  # fmt: skip
Since = Annotated[str | None, Query(alias="from", description="ISO 8601; default: 7 days before `to`")]
Until = Annotated[str | None, Query(alias="to", description="ISO 8601; default: now")]
ModelId = Annotated[str, Query(max_length=64)]
Attribute = Annotated[str, Query(max_length=64, pattern=r"^[A-Za-z0-9_.-]+$")]
SecondAttribute = Annotated[str | None, Query(max_length=64, pattern=r"^[A-Za-z0-9_.-]+$")]
MinGroupSize = Annotated[int | None, Query(ge=1, le=100_000)]


class RecordSummary(BaseModel):
    decision_id: str
    decided_at: str
    model_id: str
    model_version: str
    outcome: str
    score: float
    adverse: bool | None = None
    notice_id: str
    locale: str
    method: str
    content_sha256: str
    retention_class: str
    erasure_status: str | None = None


class RecordList(BaseModel):
    items: list[RecordSummary]
    next_cursor: str | None = Field(description="Pass as `cursor` for the next page; null on the last page.")


class AuditRecord(BaseModel):
    decision_id: str
    record: ExplanationRecord
    verified: bool = Field(description="The envelope hashes to its content_sha256 and commits to the personal part.")
    erasure_status: str | None = Field(description="'erased' (personal part deleted) or 'restricted' (not served).")
    appeal: dict[str, Any] | None = None
    completion: SealedCompletion | None = Field(
        default=None,
        description="A pending explanation, completed after the answer by the worker: a second write-once object "
        "that names the envelope it completes by its hash. Absent while the explanation is pending.",
    )
    completion_verified: bool | None = Field(
        default=None, description="The completion hashes to its content_sha256 and names this record's envelope."
    )


def _now() -> datetime:
    return datetime.now(UTC)


def _known_model(model_id: str | None) -> None:
    if model_id is not None:
        manifests_registry().manifest(model_id)  # 404 for an unknown model


@router.get(
    "/v1/explanations",
    summary="Query stored records, newest first",
    description="By model and time window, by outcome, or by subject (hashed the same way before lookup). "
    "Served by DynamoDB Query on indexes, never a Scan.",
    middlewares=[requires(Role.auditor)],
    security=IAM_AUTH,
    responses={200: {"description": "A page of record summaries"}, **_QUERY_ERRORS},
    tags=["auditors"],
)
def list_explanations(
    start: Since = None,
    end: Until = None,
    model_id: Annotated[str | None, Query(max_length=64)] = None,
    outcome: Annotated[str | None, Query(max_length=64)] = None,
    subject_id: Annotated[str | None, Query(max_length=256)] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 50,
    cursor: Annotated[str | None, Query(max_length=2048)] = None,
) -> RecordList:
    settings = audit_settings()
    if limit > settings.max_page_size:
        raise InvalidInput(f"limit is at most {settings.max_page_size}", field="limit")
    _known_model(model_id)
    subject = hash_subject(subject_id) if subject_id else None
    query = fingerprint(model_id=model_id, outcome=outcome, subject=subject, limit=limit, start=start, end=end)
    if cursor:  # the next page of the same window, even when it defaulted to "the last 7 days"
        position, window = decode_cursor(cursor, query)
    else:
        position, window = (0, None), parse_window(start, end, max_days=settings.max_window_days, now=_now())
    groups, filters = plan_listing(
        window, model_id=model_id, outcome=outcome, subject_hash=subject, shards=settings.index_shards
    )
    page = record_index().page(
        groups, *window.bounds, limit=limit, position=position, projection=_SUMMARY_FIELDS, filters=filters
    )
    return RecordList(
        items=[RecordSummary.model_validate(item) for item in page.items],
        next_cursor=encode_cursor(page.next, window, query) if page.next else None,
    )


@router.get(
    "/v1/explanations/<decision_id>",
    summary="One record, reconstructed",
    description="The full stored record (envelope and, unless erased or restricted, the personal part), "
    "whether it verifies, and its appeal.",
    middlewares=[requires(Role.auditor)],
    security=IAM_AUTH,
    responses={
        200: {"description": "The record"},
        **AUTH_ERRORS,
        **documented(e404="No such decision", e503="The record store is unavailable"),
    },
    tags=["auditors"],
)
def get_explanation(decision_id: Annotated[str, Path(max_length=64)]) -> AuditRecord:
    stored = record_store().get(decision_id)
    if stored is None:
        raise UnknownRecord("no such decision", field="decision_id")  # the id is not echoed back
    status = stored.item.get("erasure_status")
    record = stored.record
    if status == "restricted":  # GDPR Art. 18: kept, not served
        record = record.model_copy(update={"personal": None})
    appeals = appeal_store()
    appeal = appeals.get(decision_id) if appeals else None
    return AuditRecord(
        decision_id=decision_id,
        record=record,
        verified=verify(stored.record),
        erasure_status=status,
        appeal=appeal.model_dump(mode="json", exclude={"reason"} if status else set()) if appeal else None,
        completion=stored.completion,
        completion_verified=completion_verifies(stored.completion, stored.record) if stored.completion else None,
    )


@router.get(
    "/v1/reports/fairness",
    summary="Fairness report for a decision model",
    description="Per group of a segment attribute (or the intersection of two): count, favourable count, "
    "selection rate, impact ratio against the most favoured group (flagged below 0.8), demographic parity "
    "difference; unknown and small groups apart; conventions stated.",
    middlewares=[requires(Role.auditor)],
    security=IAM_AUTH,
    responses={200: {"description": "The report"}, **_QUERY_ERRORS},
    tags=["auditors"],
)
def fairness(
    model_id: ModelId,
    attribute: Attribute,
    start: Since = None,
    end: Until = None,
    attribute2: SecondAttribute = None,
    min_group_size: MinGroupSize = None,
) -> FairnessReport:
    settings = audit_settings()
    manifest = manifests_registry().manifest(model_id)
    if manifest.kind != "decision" or manifest.favourable_outcome is None:
        raise InvalidInput(
            f"{model_id} is a {manifest.kind} model; fairness reports need a decision model", field="model_id"
        )
    window = parse_window(start, end, max_days=settings.max_window_days, now=_now())
    attributes = [attribute, *([attribute2] if attribute2 else [])]
    tally, source = report_sources().fairness(window, model_id, attributes, favourable=manifest.favourable_outcome)
    report = fairness_report_of(
        tally, model_id=model_id, min_group_size=min_group_size or settings.min_group_size, window=window.as_dict()
    )
    report.conventions["source"] = source
    if report.records and report.unknown == report.records:
        raise InvalidInput(f"no record in this window carries {' and '.join(attributes)}", field="attribute")
    return report


@router.get(
    "/v1/reports/reviews",
    summary="Human review of a model's decisions: verdicts and overturn rates by group and by model version",
    description="The review cases (customers' appeals and policy referrals) filed in the window, joined with their "
    "decisions' segments: per group of an attribute (or the intersection of two) and per model version, cases, "
    "verdicts, the overturn rate and its ratio to all resolved cases (flagged at 1.25 or more), median days to a "
    "verdict. A group people overturn more often is a fairness signal.",
    middlewares=[requires(Role.auditor)],
    security=IAM_AUTH,
    responses={200: {"description": "The report"}, **_QUERY_ERRORS},
    tags=["auditors"],
)
def reviews(
    model_id: ModelId,
    attribute: Attribute,
    start: Since = None,
    end: Until = None,
    attribute2: SecondAttribute = None,
    min_group_size: MinGroupSize = None,
) -> ReviewReport:
    settings = audit_settings()
    manifest = manifests_registry().manifest(model_id)  # 404 for an unknown model
    window = parse_window(start, end, max_days=settings.max_window_days, now=_now())
    attributes = [attribute, *([attribute2] if attribute2 else [])]
    sources, tally = report_sources(), ReviewTally(attributes)
    for case, decision in sources.review_cases(window, model_id):
        tally.add(case, decision)
    decisions = None
    if manifest.kind == "decision" and manifest.favourable_outcome is not None:  # the groups' decisions, for rates
        decisions = sources.fairness(window, model_id, attributes, favourable=manifest.favourable_outcome)[0].totals
    minimum = min_group_size or settings.min_group_size
    return review_report(tally, model_id=model_id, window=window.as_dict(), min_group_size=minimum, decisions=decisions)


@router.get(
    "/v1/reports/attributions",
    summary="Attribution report, with drift against a baseline window",
    description="Mean absolute attribution per feature (display names) and the outcome distribution over a "
    "window; given baseline_from/baseline_to, each feature's rank change and the outcome's population stability "
    "index.",
    middlewares=[requires(Role.auditor)],
    security=IAM_AUTH,
    responses={200: {"description": "The report"}, **_QUERY_ERRORS},
    tags=["auditors"],
)
def attributions(
    model_id: ModelId,
    start: Since = None,
    end: Until = None,
    baseline_from: Annotated[str | None, Query()] = None,
    baseline_to: Annotated[str | None, Query()] = None,
) -> AttributionReport:
    settings = audit_settings()
    manifest = manifests_registry().manifest(model_id)
    window = parse_window(start, end, max_days=settings.max_window_days, now=_now())
    names = {f.name: f.display_names["en"] for f in manifest.features}

    baseline = None
    if baseline_from or baseline_to:
        if not (baseline_from and baseline_to):
            raise InvalidInput("give both baseline_from and baseline_to", field="baseline_from")
        baseline = parse_window(
            baseline_from, baseline_to, max_days=settings.max_window_days, now=_now(), prefix="baseline_"
        )
    sources = report_sources()
    current, source = sources.attributions(window, model_id)
    report = attribution_report(
        model_id,
        current,
        window.as_dict(),
        names,
        sources.attributions(baseline, model_id)[0] if baseline else None,
        baseline.as_dict() if baseline else None,
    )
    report.conventions["source"] = source
    return report


@router.get(
    "/v1/integrity/verify",
    summary="Check records against the signed, chained integrity digests",
    description="For each digested window overlapping [from, to): the digest's KMS signature, the chain to the "
    "previous digest, and every record re-hashed from its archived envelope. Reports altered, missing and inserted "
    "records, bad signatures and a broken chain; windows not digested yet are listed, not failed. At most "
    "`CANDOR_MAX_VERIFY_DAYS` (1) per call: the CLI loops over longer spans.",
    middlewares=[requires(Role.auditor)],
    security=IAM_AUTH,
    responses={200: {"description": "The integrity report (`ok` false when anything was caught)"}, **_QUERY_ERRORS},
    tags=["auditors"],
)
def verify_integrity(start: Since = None, end: Until = None) -> IntegrityReport:
    settings = audit_settings()
    now = _now()
    window = parse_window(start, end, max_days=settings.max_verify_days, now=now)
    return integrity_service().verify(window.start, window.end, now=now)
