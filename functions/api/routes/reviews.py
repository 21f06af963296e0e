"""Reviewer routes: the queue of appeals and referrals, one case, claim, resolve (docs/reviewers.md)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from http import HTTPStatus
from typing import Annotated, Literal

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.params import Path, Query
from aws_lambda_powertools.metrics import MetricUnit

from functions.api.auth import IAM_AUTH, Role, requires
from functions.api.errors import AUTH_ERRORS, HttpError, documented
from functions.api.review_dependencies import ReviewServices, review_services
from functions.domain import review as rules
from functions.domain.completion_seal import current_explanation
from functions.domain.customer_view import customer_view
from functions.domain.errors import DependencyUnavailable, UnknownRecord
from functions.domain.seal import verify
from functions.schemas.customer import OPEN_STATUSES, AppealStatus, StoredAppeal
from functions.schemas.review import (
    QueueItem,
    ResolveRequest,
    ReviewCase,
    ReviewQueue,
    SealedReview,
    SimilarDecision,
    queue_item,
)
from functions.stores.record_store import StoredRecord

router = Router()
logger = Logger()
metrics = Metrics()

DecisionId = Annotated[str, Path(max_length=64)]
_CASE_ERRORS = AUTH_ERRORS | documented(
    e404="No appeal or referral on this decision", e503="Storage or the pseudonym key is unavailable"
)


def _now() -> datetime:
    return datetime.now(UTC)


def current_reviewer(services: ReviewServices) -> str:
    """The keyed pseudonym of the IAM principal (its session names the person) that called."""
    identity = router.current_event.raw_event.get("requestContext", {}).get("identity") or {}
    principal = identity.get("userArn")
    if not principal:  # `requires` has refused it already; kept for a route wired without it
        raise HttpError(HTTPStatus.UNAUTHORIZED, "unauthenticated", "this route needs an authenticated caller")
    return services.reviewer(str(principal))


def _case(services: ReviewServices, decision_id: str) -> tuple[StoredAppeal, StoredRecord]:
    appeal = services.reviews.get(decision_id)
    stored = services.records.get(decision_id) if appeal else None
    if appeal is None or stored is None:
        raise UnknownRecord("no appeal or referral on this decision", field="decision_id")
    return appeal, stored


def build_case(services: ReviewServices, decision_id: str) -> ReviewCase:
    """The appeal, the decision as the customer saw it, the full record, similar decisions and the review."""
    appeal, stored = _case(services, decision_id)
    env = stored.record.envelope
    manifest = services.manifest(env.model.id)
    view = customer_view(
        stored.record,
        stored.item,
        manifest=manifest,
        notices=services.notices,
        operator=services.operator,
        appeal=appeal.public(),
        explanation=current_explanation(stored.record, stored.completion),
    )
    similar = services.reviews.similar(env.model.id, env.outcome.label, env.decided_at, decision_id)
    statuses = services.reviews.appeal_statuses([str(item["decision_id"]) for item in similar])
    record = stored.record
    if stored.item.get("erasure_status") == "restricted":  # GDPR Art. 18: kept, not served
        record = record.model_copy(update={"personal": None})
    sealed = services.reviews.review(appeal)
    return ReviewCase(
        decision_id=decision_id,
        appeal=appeal.model_dump(mode="json", exclude_none=True),
        customer_view=view.model_dump(mode="json"),
        record=record.model_dump(mode="json"),
        verified=verify(stored.record),
        labels=[label.name for label in manifest.labels],
        similar=[
            SimilarDecision(
                decision_id=str(item["decision_id"]),
                decided_at=str(item["decided_at"]),
                outcome=str(item["outcome"]),
                score=float(item["score"]),
                review_status=statuses.get(str(item["decision_id"])),
            )
            for item in similar
        ],
        review=sealed,
    )


@router.get(
    "/v1/reviews",
    summary="The review queue of a model, oldest first",
    description="Appeals and referrals on the model's decisions filed in the last `max_age_days` days, oldest "
    "first. Default: the open ones (`received`, `in_review`); filter by status, kind, adverse outcome, and age.",
    middlewares=[requires(Role.reviewer)],
    security=IAM_AUTH,
    responses={
        200: {"description": "A page of the queue"},
        **AUTH_ERRORS,
        **documented(e404="Unknown model", e422="A filter out of range", e503="Storage is unavailable"),
    },
    tags=["reviewers"],
)
def review_queue(
    model_id: Annotated[str, Query(max_length=64)],
    status: Annotated[list[AppealStatus] | None, Query(description="Repeatable; default: the open ones")] = None,
    kind: Annotated[Literal["appeal", "referral"] | None, Query()] = None,
    adverse: Annotated[bool | None, Query(description="Only adverse (or only not adverse) decisions")] = None,
    older_than_days: Annotated[int, Query(ge=0, le=366, description="Filed at least this many days ago")] = 0,
    max_age_days: Annotated[int | None, Query(ge=0, le=366, description="Filed at most this many days ago")] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    cursor: Annotated[str | None, Query(max_length=200)] = None,
) -> ReviewQueue:
    return queue_page(model_id, status, kind, adverse, older_than_days, max_age_days, limit, cursor)


def queue_page(
    model_id: str,
    statuses: list[AppealStatus] | None,
    kind: Literal["appeal", "referral"] | None,
    adverse: bool | None,
    older_than_days: int,
    max_age_days: int | None,
    limit: int,
    cursor: str | None,
) -> ReviewQueue:
    """One page of a model's queue, oldest first (404 for an unknown model)."""
    services = review_services()
    services.manifest(model_id)
    chosen = rules.QueueFilter(
        statuses=tuple(statuses or OPEN_STATUSES),
        kinds=(kind,) if kind else ("appeal", "referral"),
        adverse=adverse,
        min_age_days=older_than_days,
        max_age_days=services.settings.review_queue_days if max_age_days is None else max_age_days,
    )
    now = _now()
    cases, next_cursor = services.reviews.queue(model_id, chosen, now, limit=limit, after=cursor)
    items: list[QueueItem] = [
        queue_item(c.appeal, age_days=rules.age_days(c.appeal, now), adverse=c.adverse, outcome=c.outcome)
        for c in cases
    ]
    return ReviewQueue(model_id=model_id, items=items, next_cursor=next_cursor)


@router.get(
    "/v1/reviews/<decision_id>",
    summary="One case: the decision as the customer saw it, the full record, the appeal, similar decisions",
    middlewares=[requires(Role.reviewer)],
    security=IAM_AUTH,
    responses={200: {"description": "The case"}, **_CASE_ERRORS},
    tags=["reviewers"],
)
def review_case(decision_id: DecisionId) -> ReviewCase:
    return build_case(review_services(), decision_id)


def claim_case(services: ReviewServices, decision_id: str) -> StoredAppeal:
    appeal = services.reviews.get(decision_id)
    if appeal is None:
        raise UnknownRecord("no appeal or referral on this decision", field="decision_id")
    reviewer, now = current_reviewer(services), _now()
    rules.check_claimable(appeal, reviewer, now)
    return services.reviews.claim(appeal, reviewer, now, timedelta(minutes=services.settings.review_claim_minutes))


def resolve_case(services: ReviewServices, decision_id: str, request: ResolveRequest) -> SealedReview:
    appeal, stored = _case(services, decision_id)
    reviewer = current_reviewer(services)
    rules.check_resolvable(appeal, reviewer)
    labels = [label.name for label in services.manifest(appeal.model_id).labels]
    sealed = rules.build_review(appeal, stored.record, request, labels=labels, reviewer=reviewer, now=_now())
    services.reviews.resolve(appeal, sealed)
    notify(services, sealed)
    return sealed


def notify(services: ReviewServices, sealed: SealedReview) -> None:
    """Queue the operator's webhook notification, if one is configured.

    The review is sealed and stored by now, and it stands: a notification that cannot be queued is
    logged and counted (ReviewNotificationsNotQueued), never a reason to answer 503 for a verdict
    that was recorded, nor to undo it. The customer's page shows the verdict either way.
    """
    if services.notifications is None:
        return
    try:
        services.notifications.enqueue(sealed)
    except DependencyUnavailable as error:
        logger.error(
            "review notification not queued; the review stands",
            extra={"decision_id": sealed.review.decision_id, "error": str(error)[:300]},
        )
        metrics.add_metric(name="ReviewNotificationsNotQueued", unit=MetricUnit.Count, value=1)


@router.post(
    "/v1/reviews/<decision_id>/claim",
    summary="Claim a case: in_review, held by you until the claim expires",
    description="One reviewer at a time (a conditional update). Claiming your own case again renews the claim; "
    "another reviewer's expired claim may be taken over.",
    middlewares=[requires(Role.reviewer)],
    security=IAM_AUTH,
    responses={
        200: {"description": "The claimed case"},
        **_CASE_ERRORS,
        **documented(
            e409="Resolved, or another reviewer holds a live claim",
            e413="Body over 256 KB (the route takes none)",
            e415="A body that is not application/json (the route takes none)",
        ),
    },
    tags=["reviewers"],
)
def claim(decision_id: DecisionId) -> StoredAppeal:
    return claim_case(review_services(), decision_id)


@router.post(
    "/v1/reviews/<decision_id>/resolve",
    summary="Resolve a claimed case: upheld or overturned, with a written reason",
    description="Writes a sealed, write-once review record to the archive (covered by the integrity digests) and "
    "marks the appeal; the decision's own record is never changed. Overturned needs `new_outcome`, another of "
    "the model's labels. The reason is redacted and shown to the customer.",
    middlewares=[requires(Role.reviewer)],
    security=IAM_AUTH,
    responses={
        201: {"description": "The sealed review record"},
        **_CASE_ERRORS,
        **documented(
            e400="Malformed JSON or not an object",
            e409="Not claimed by you, or resolved already",
            e413="Body over 256 KB",
            e415="The body is not application/json",
            e422="Empty or long reason; new_outcome missing, unknown or the same",
        ),
    },
    tags=["reviewers"],
)
def resolve(decision_id: DecisionId, request: ResolveRequest) -> Response[str]:
    sealed = resolve_case(review_services(), decision_id, request)
    return Response(status_code=HTTPStatus.CREATED, content_type="application/json", body=sealed.model_dump_json())
