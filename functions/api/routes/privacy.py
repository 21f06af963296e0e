"""Privacy officer routes: erasure requests (GDPR Art. 17, with the 17(3)(b) retention exception)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.params import Body, Path
from pydantic import BaseModel, Field

from functions.api.audit_dependencies import erasure_store, hash_subject, record_index
from functions.api.auth import IAM_AUTH, Role, requires
from functions.api.errors import AUTH_ERRORS, documented
from functions.domain.audit import iso
from functions.domain.erasure import ErasedRecord, ErasureReceipt, action_for, receipt
from functions.domain.errors import UnknownRecord
from functions.domain.ids import new_ulid
from functions.domain.seal import canonical_json
from functions.stores.idempotency_keys import decision_idempotency_key

router = Router()

_ERRORS = documented(
    e404="subject_id longer than 256 characters: no such subject",
    e503="Storage unavailable",
)
ALL_TIME = ("0000", "9999")  # decided_at bounds that cover every record of the subject


@router.delete(
    "/v1/subjects/<subject_id>",
    summary="Erase a subject's personal data",
    description="Removes the personal part of every record of the subject (inputs, redacted text, segments), or "
    "restricts it while a retention obligation or legal hold applies. Envelopes stay and still verify. The "
    "erasure is itself recorded (write-once receipt). Repeating the request changes nothing more.",
    middlewares=[requires(Role.privacy)],
    security=IAM_AUTH,
    responses={200: {"description": "The erasure receipt"}, **AUTH_ERRORS, **_ERRORS},
    tags=["privacy"],
)
def erase_subject(subject_id: Annotated[str, Path(min_length=1, max_length=256)]) -> ErasureReceipt:
    # Powertools matches the raw, percent-encoded path; API Gateway's pathParameters hold the decoded id,
    # which is what the decisions were hashed with ("ana@example.com", not "ana%40example.com").
    subject_id = (router.current_event.raw_event.get("pathParameters") or {}).get("subject_id", subject_id)
    now = datetime.now(UTC)
    at, subject = iso(now), hash_subject(subject_id)
    store, outcomes = erasure_store(), []
    items = record_index().stream(
        [("by_subject", "subject_hash", subject)],
        *ALL_TIME,
        projection=(
            "decision_id",
            "erasure_status",
            "retention_class",
            "expires_at",
            "legal_hold",
            "model_id",
            "request_id",
        ),
    )
    for item in items:
        action = action_for(item, int(now.timestamp()))
        done = False  # a concurrent request that marked the record first did it: "already_done" here
        if action == "erase":
            answer_key = decision_idempotency_key(str(item["model_id"]), str(item["request_id"]))
            done = store.erase(item["decision_id"], at, answer_key=answer_key)
        elif action == "restrict":
            done = store.restrict(item["decision_id"], at)
        said = {"erase": "erased", "restrict": "restricted", "none": "already_done"}[action] if done else "already_done"
        outcomes.append(ErasedRecord(decision_id=item["decision_id"], action=said))
    result = receipt(new_ulid(now), at, subject, outcomes)
    store.keep_receipt(result.erasure_id, canonical_json(result))
    return result


class LegalHoldRequest(BaseModel):
    on: bool = Field(description="true to place the hold, false to lift it.")


class LegalHold(BaseModel):
    decision_id: str
    legal_hold: bool
    at: str


@router.put(
    "/v1/explanations/<decision_id>/legal-hold",
    summary="Place or lift a legal hold on one record",
    description="Sets the S3 Object Lock legal hold of the archived envelope (it cannot be deleted while held, "
    "whatever its retention) and marks the index item, so that an erasure request restricts the record instead "
    "of erasing its personal part.",
    middlewares=[requires(Role.privacy)],
    security=IAM_AUTH,
    responses={
        200: {"description": "The hold as set"},
        **AUTH_ERRORS,
        **documented(
            e400="Malformed JSON or not an object",
            e404="No such decision",
            e413="Body over 256 KB",
            e415="The body is not application/json",
            e503="Storage unavailable",
        ),
    },
    tags=["privacy"],
)
def legal_hold(
    decision_id: Annotated[str, Path(min_length=1, max_length=64)],
    request: Annotated[LegalHoldRequest, Body(embed=False)],
) -> LegalHold:
    at = iso(datetime.now(UTC))
    if not erasure_store().set_legal_hold(decision_id, request.on, at):
        raise UnknownRecord("no such decision", field="decision_id")
    return LegalHold(decision_id=decision_id, legal_hold=request.on, at=at)
