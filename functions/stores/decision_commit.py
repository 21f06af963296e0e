"""A decision's index item and its idempotency completion, written in one DynamoDB transaction.

The decision path used to end in two sequential writes: the records table's conditional
`PutItem` (the decision exists), then Powertools' `UpdateItem` of the idempotency record
(a retry gets this answer). Between the two, a crash left a stored decision whose request
was still "in progress": once that lock expired, a retry decided again and stored a
second record for the same request_id. One `TransactWriteItems` does both or neither, in
one round trip (IAM: the `PutItem` and `UpdateItem` permissions the role already has).

How the two halves meet without the domain knowing: the route opens `one_commit()` around
the idempotent call; `AwsRecordStore.put` writes the objects, then `stage()`s its index put
instead of sending it; Powertools then calls `save_success`, whose `_update_record`
(`functions/stores/transactional_idempotency.py`) sends the staged put with the completion. Outside a
`one_commit()` (the explanation worker, tests, benchmarks) the store writes its item itself.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

from functions.domain.errors import DependencyUnavailable

# The index puts of the decision being committed (one per request; a ContextVar, because the
# local stack serves requests from threads). None: no commit is open, writers write themselves.
_staged: ContextVar[list[dict[str, Any]] | None] = ContextVar("candor_staged_index_puts", default=None)


@contextmanager
def one_commit() -> Iterator[None]:
    """Collect the index put of the decision made inside, for the idempotency completion to send.

    Fails closed: if the body returns while a staged put was never sent (the completion did not
    run), the answer is replaced by a 503, since the decision it describes does not exist.
    """
    token = _staged.set([])
    try:
        yield
        if _staged.get():
            raise DependencyUnavailable("the record was written but its index item was never committed")
    finally:
        _staged.reset(token)


def commit_open() -> bool:
    """Whether a decision's commit is open here: puts staged now are sent with its completion."""
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
