"""A decision's idempotency, optimistic: its answer stored for retries in the transaction that stores its record.

No lock is taken before the model runs. The decision is made, sealed and staged
(`functions/stores/decision_commit.py`); then ONE `TransactWriteItems` puts the remembered
answer together with the staged items (pending record, index item, referral). The Put's
condition, "no live answer for this request_id", is what makes decisions idempotent:

- the first request to commit stores its decision; every later one with the same request_id
  (a retry, or a duplicate sent at the same moment) is cancelled whole, stores nothing, and
  answers the first answer, which the cancellation itself returns
  (`ReturnValuesOnConditionCheckFailure`: no second read);
- a duplicate whose commit meets the first one's still in flight (`TransactionConflict`)
  answers 409 `request_in_progress`: asked again a moment later, it gets the first answer;
- the same request_id with another body answers 409 `idempotency_conflict`.

Against a lock taken first (Powertools Idempotency, used before), a decision is one sequential
round trip instead of two, and a function that times out leaves no lock for retries to wait
on. The price: a retry runs the model and its explanation again before it learns that it is a
replay, and so does each duplicate sent at once (for a remote model, one call each).

The item keeps Powertools' layout (`id`, `expiration`, `status`, `data`, `validation`) and key
(`functions/stores/idempotency_keys.py`), so that erasure finds and deletes it, and items and
locks written by the earlier version are honoured.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from botocore.exceptions import BotoCoreError, ClientError

from functions.domain.errors import DependencyUnavailable, IdempotencyConflict, RequestInProgress

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

COMPLETED, IN_PROGRESS = "COMPLETED", "INPROGRESS"

# Free for this request_id: never answered, its answer expired (TTL deletes within days, not at once),
# or a lock left by the earlier Powertools version whose invocation has ended.
_FREE = "attribute_not_exists(#id) OR #expiry < :now OR (#status = :in_progress AND #lock_expiry < :now_ms)"


def request_hash(request: dict[str, Any]) -> str:
    """Powertools' payload hash of the request (SHA-256 of its JSON, keys sorted), so that stored items compare."""
    return hashlib.sha256(json.dumps(request, sort_keys=True).encode()).hexdigest()


@dataclass(frozen=True)
class DecisionLedger:
    """The remembered answers of decisions, keyed by model and request_id, committed with each decision's items."""

    table: str
    ttl_seconds: int
    dynamodb: DynamoDBClient
    clock: Callable[[], float] = field(default=time.time)

    def commit(self, key: str, hashed_request: str, answer: str, staged: Sequence[dict[str, Any]]) -> str | None:
        """Store `answer` and the staged Puts in one transaction; None when stored, else the first answer to replay.

        Raises IdempotencyConflict (this request_id was decided with another body), RequestInProgress
        (its first decision is committing right now), DependencyUnavailable (nothing was stored).
        """
        now = self.clock()
        remembered: Any = {
            "TableName": self.table,
            "Item": {
                "id": {"S": key},
                "expiration": {"N": str(int(now) + self.ttl_seconds)},
                "status": {"S": COMPLETED},
                "data": {"S": answer},
                "validation": {"S": hashed_request},
            },
            "ConditionExpression": _FREE,
            "ExpressionAttributeNames": {
                "#id": "id",
                "#expiry": "expiration",
                "#status": "status",
                "#lock_expiry": "in_progress_expiration",
            },
            "ExpressionAttributeValues": {
                ":now": {"N": str(int(now))},
                ":now_ms": {"N": str(int(now * 1000))},
                ":in_progress": {"S": IN_PROGRESS},
            },
            "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
        }
        try:
            items: Any = [{"Put": remembered}, *({"Put": put} for put in staged)]
            self.dynamodb.transact_write_items(TransactItems=items)
        except ClientError as error:
            return first_answer(error, hashed_request)
        except BotoCoreError as error:
            raise DependencyUnavailable(f"the decision could not be stored: {type(error).__name__}") from error
        return None


def first_answer(error: ClientError, hashed_request: str) -> str:
    """The stored answer a cancelled commit met; raises unless it was cancelled by an answer for the same request."""
    reasons: list[dict[str, Any]] = error.response.get("CancellationReasons") or []  # type: ignore[assignment]
    mine = reasons[0] if reasons else {}
    code = mine.get("Code") or error.response.get("Error", {}).get("Code", "")
    if code == "TransactionConflict":
        raise RequestInProgress("a request with this request_id is still being processed", field="request_id")
    stored = mine.get("Item") if code == "ConditionalCheckFailed" else None
    if stored is None:
        causes = ", ".join(str(reason.get("Code")) for reason in reasons) or code
        raise DependencyUnavailable(f"the decision could not be stored: {causes}") from error
    if stored.get("status", {}).get("S") != COMPLETED:
        raise RequestInProgress("a request with this request_id is still being processed", field="request_id")
    if stored.get("validation", {}).get("S") != hashed_request:
        raise IdempotencyConflict("this request_id was already used with a different body", field="request_id")
    return str(stored["data"]["S"])
