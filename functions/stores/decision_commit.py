"""A decision's items (pending record, index item, referral) staged, then written in one DynamoDB transaction.

A decision is stored by ONE `TransactWriteItems`: the items its stores would write, and the
answer remembered for retries of its request_id, whose condition makes it idempotent
(`functions/stores/decision_idempotency.py`). All or nothing: no decision exists without its
record, no record without the answer a retry will get, and a replay stores nothing.

How the parts meet without the domain knowing: the route opens `one_commit()` around the
decision; `AwsRecordStore.put` and `AwsReferralQueue.refer` `stage()` their Puts instead of
sending them; the route then `take()`s them into the transaction. Outside a `one_commit()`
(the explanation worker, tests, benchmarks) the stores write their items themselves.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

from functions.domain.errors import DependencyUnavailable

# The Puts of the decision being committed (one per request; a ContextVar, because the
# local stack serves requests from threads). None: no commit is open, writers write themselves.
_staged: ContextVar[list[dict[str, Any]] | None] = ContextVar("candor_staged_index_puts", default=None)


@contextmanager
def one_commit() -> Iterator[None]:
    """Collect the Puts of the decision made inside, for the route to commit with its remembered answer.

    Fails closed: if the body returns while a staged put was never taken (never committed), the
    answer is replaced by a 503, since the decision it describes does not exist.
    """
    token = _staged.set([])
    try:
        yield
        if _staged.get():
            raise DependencyUnavailable("the record was written but its index item was never committed")
    finally:
        _staged.reset(token)


def commit_open() -> bool:
    """Whether a decision's commit is open here: puts staged now are sent in its transaction."""
    return _staged.get() is not None


def stage(put: dict[str, Any]) -> bool:
    """Hand a `Put` (TableName, Item, ConditionExpression) to the open commit; False if none is open."""
    staged = _staged.get()
    if staged is None:
        return False
    staged.append(put)
    return True


def take() -> list[dict[str, Any]]:
    staged = _staged.get()
    if not staged:
        return []
    taken = list(staged)
    staged.clear()
    return taken
