"""The reviewer's pages (English; reviewers are the operator's staff): the queue and one case.

Server-rendered like the customer's page: Jinja2 templates in `functions/templates/reviewer/`,
no scripts, forms that post (claim, resolve) and answer the case page again with what happened.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from functions.api import pages
from functions.schemas.customer import MAX_REASON_LENGTH
from functions.schemas.review import QueueItem, ReviewCase

CSS = pages.stylesheet("customer.css")
HEADERS = pages.security_headers(CSS, form_action="'self'")
STATUSES = ("received", "in_review", "upheld", "overturned")


def render_queue(model_id: str, items: list[QueueItem], filters: dict[str, Any], next_cursor: str | None) -> str:
    next_query = None
    if next_cursor:
        kept = {name: value for name, value in filters.items() if value not in (None, "")}
        next_query = urlencode({"model_id": model_id, **kept, "cursor": next_cursor})
    return pages.render(
        "reviewer/queue.html",
        lang="en",
        title=f"Review queue: {model_id}",
        css=pages.trusted(CSS),
        model_id=model_id,
        items=items,
        statuses=STATUSES,
        status=filters.get("status") or "",
        adverse=filters.get("adverse") or "",
        older_than_days=filters.get("older_than_days") or 0,
        limit=filters.get("limit") or 50,
        next_query=next_query,
    )


def render_case(case: ReviewCase, me: str, message: str | None = None, *, failed: bool = False) -> str:
    envelope = case.record["envelope"]
    personal = case.record.get("personal") or {}
    contributions = sorted(
        envelope["explanation"]["contributions"], key=lambda row: abs(row["attribution"]), reverse=True
    )
    return pages.render(
        "reviewer/case.html",
        lang="en",
        title=f"Case {case.decision_id}",
        css=pages.trusted(CSS),
        case=case,
        appeal=_Obj(case.appeal),
        view=_Obj(case.customer_view),
        explanation=_Obj(envelope["explanation"] | {"method": envelope["explainer"]["method"]}),
        outcome=_Obj(envelope["outcome"]),
        contributions=contributions,
        inputs=sorted((personal.get("inputs") or {}).items()),
        me=me,
        message=message,
        failed=failed,
        max_reason=MAX_REASON_LENGTH,
    )


class _Obj(dict[str, Any]):
    """A JSON object the templates read with dots (`view.outcome.statement`); absent keys read as None."""

    def __getattr__(self, name: str) -> Any:
        value = self.get(name)
        return _Obj(value) if isinstance(value, dict) else value
