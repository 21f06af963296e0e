"""The reviewer's pages: the queue and one case as HTML, and the case's forms (claim, resolve).

Same rules and stores as the JSON routes (functions/api/routes/reviews.py); a refused form post
answers the case page again with the reason, in its status code (409, 422).
"""

from __future__ import annotations

from http import HTTPStatus
from typing import Annotated, Literal
from urllib.parse import parse_qs

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.params import Query
from aws_lambda_powertools.event_handler.openapi.types import OpenAPIResponse
from pydantic import ValidationError

from functions.api import review_page
from functions.api.auth import IAM_AUTH, Role, requires
from functions.api.errors import AUTH_ERRORS, documented
from functions.api.review_dependencies import review_services
from functions.api.routes.reviews import (
    DecisionId,
    build_case,
    claim_case,
    current_reviewer,
    queue_page,
    resolve_case,
)
from functions.domain.errors import Conflict, InvalidInput
from functions.schemas.customer import AppealStatus
from functions.schemas.review import ResolveRequest

router = Router()

_HTML = "text/html; charset=utf-8"
_PAGE: dict[int, OpenAPIResponse] = {200: {"description": "The page", "content": {_HTML: {}}}}
FORM_PATH = "/v1/reviewer/cases/{decision_id}"  # the one route that takes a form body (the handler lets it through)


def _html(status: int, page: str) -> Response[str]:
    return Response(status_code=status, content_type=_HTML, body=page, headers=dict(review_page.HEADERS))


@router.get(
    "/v1/reviewer/queue",
    summary="The review queue as a page (HTML)",
    description="The queue of `GET /v1/reviews` as a server-rendered page: filters as a form, cases oldest first, "
    "each linking to its case page. No scripts.",
    middlewares=[requires(Role.reviewer)],
    security=IAM_AUTH,
    responses={**_PAGE, **AUTH_ERRORS, **documented(e404="Unknown model", e422="A filter out of range")},
    tags=["reviewers"],
)
def queue(
    model_id: Annotated[str, Query(max_length=64)],
    status: Annotated[AppealStatus | Literal[""] | None, Query()] = None,
    adverse: Annotated[Literal["true", "false", ""] | None, Query()] = None,
    older_than_days: Annotated[int, Query(ge=0, le=366)] = 0,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    cursor: Annotated[str | None, Query(max_length=200)] = None,
) -> Response[str]:
    chosen = [status] if status else None
    page = queue_page(model_id, chosen, None, {"true": True, "false": False}.get(adverse or ""), older_than_days,
                      None, limit, cursor)  # fmt: skip
    filters = {"status": status, "adverse": adverse, "older_than_days": older_than_days, "limit": limit}
    return _html(HTTPStatus.OK, review_page.render_queue(model_id, page.items, filters, page.next_cursor))


@router.get(
    "/v1/reviewer/cases/<decision_id>",
    summary="One case as a page (HTML), with its claim or resolve form",
    middlewares=[requires(Role.reviewer)],
    security=IAM_AUTH,
    responses={**_PAGE, **AUTH_ERRORS, **documented(e404="No appeal or referral on this decision")},
    tags=["reviewers"],
)
def case_page(decision_id: DecisionId) -> Response[str]:
    services = review_services()
    return _html(HTTPStatus.OK, review_page.render_case(build_case(services, decision_id), current_reviewer(services)))


@router.post(
    "/v1/reviewer/cases/<decision_id>",
    summary="The case page's forms: claim, or resolve (form-encoded)",
    description="`action=claim`, or `action=resolve` with `verdict`, `reason` and (overturned) `new_outcome`, as "
    "`POST /v1/reviews/{decision_id}/claim` and `/resolve` do. Answers the case page, with what happened.",
    middlewares=[requires(Role.reviewer)],
    security=IAM_AUTH,
    responses={
        **_PAGE,
        **AUTH_ERRORS,
        **documented(
            e404="No appeal or referral on this decision",
            e409="Claimed by another reviewer, or resolved already",
            e413="Body over 256 KB",
            e415="Not a form post",
            e422="An unknown action, or a verdict the JSON route would refuse",
        ),
    },
    tags=["reviewers"],
)
def case_form(decision_id: DecisionId) -> Response[str]:
    services = review_services()
    me = current_reviewer(services)
    event = router.current_event
    content_type = (event.headers.get("content-type") or event.headers.get("Content-Type") or "").lower()
    if not content_type.startswith("application/x-www-form-urlencoded"):
        page = review_page.render_case(build_case(services, decision_id), me, "Send the page's form.", failed=True)
        return _html(HTTPStatus.UNSUPPORTED_MEDIA_TYPE, page)
    form = {name: values[0] for name, values in parse_qs(event.decoded_body or "", keep_blank_values=True).items()}
    status, message, failed = HTTPStatus.OK, "", False
    try:
        match form.get("action"):
            case "claim":
                claim_case(services, decision_id)
                message = "You hold this case now."
            case "resolve":
                request = ResolveRequest(
                    verdict=form.get("verdict"),  # validated here: 422 for anything else
                    reason=form.get("reason") or " ",
                    new_outcome=form.get("new_outcome") or None,
                )
                sealed = resolve_case(services, decision_id, request)
                status, message = HTTPStatus.CREATED, f"Resolved: {sealed.review.verdict}. The customer can see it."
            case _:
                raise InvalidInput("action: claim or resolve", field="action")
    except Conflict as error:
        status, message, failed = HTTPStatus.CONFLICT, error.message, True
    except InvalidInput as error:
        status, message, failed = HTTPStatus.UNPROCESSABLE_ENTITY, error.message, True
    except ValidationError as error:
        first = error.errors()[0]
        field = ".".join(str(part) for part in first["loc"])
        status, message, failed = HTTPStatus.UNPROCESSABLE_ENTITY, f"{field}: {first['msg']}", True
    return _html(status, review_page.render_case(build_case(services, decision_id), me, message, failed=failed))
