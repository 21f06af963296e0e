"""moto's DynamoDB, made to isolate transactions as DynamoDB does, for the local stack.

DynamoDB runs a TransactWriteItems with serializable isolation from other writes, and all or
nothing (Developer Guide, "Isolation levels for DynamoDB transactions"). moto 5 gets "all or
nothing" by deep-copying every table a transaction touches before it starts and putting the
copies back if an item fails. Under concurrent requests (the local stack's server threads)
that breaks two ways: another write changes the table during the copy (`RuntimeError:
dictionary changed size during iteration`, a 500), or a restore undoes writes made since the
copy. And the copy costs time in proportion to the tables, so the decision path, which ends
in one transaction on the records and idempotency tables, slows down as they fill.

`serialise_dynamodb_requests()` (process-wide, once) runs moto's DynamoDB requests one at a
time (the server is bound by the GIL anyway), and backs a transaction up item by item: the
items it touches, as they were, restored if it is cancelled; the whole-table copies become
no-ops.
"""

from __future__ import annotations

import copy
import threading
from typing import Any

_DYNAMODB_REQUESTS = threading.RLock()


def serialise_dynamodb_requests() -> None:
    from moto.dynamodb import models
    from moto.dynamodb.responses import DynamoHandler

    original_call = DynamoHandler.call_action
    if getattr(original_call, "candor_serialised", False):
        return

    def call_action(self: Any) -> Any:
        with _DYNAMODB_REQUESTS:
            return original_call(self)

    call_action.candor_serialised = True  # type: ignore[attr-defined]
    DynamoHandler.call_action = call_action  # type: ignore[method-assign]

    original_transaction = models.DynamoDBBackend.transact_write_items

    def transact_write_items(self: Any, transact_items: list[dict[str, Any]]) -> None:
        with _DYNAMODB_REQUESTS:
            before = [_touched(self, item) for item in transact_items]
            try:
                original_transaction(self, transact_items)
            except Exception:
                for table_name, key, item in reversed(before):
                    _restore(self, table_name, key, item)
                raise

    models.DynamoDBBackend.transact_write_items = transact_write_items  # type: ignore[method-assign]
    models.copy = _TablesNotCopied()  # type: ignore[assignment]  # what its whole-table backup calls


class _TablesNotCopied:
    """`copy` as moto's DynamoDB module sees it: deepcopy of a Table is the table itself."""

    def deepcopy(self, value: Any, memo: dict[int, Any] | None = None) -> Any:
        from moto.dynamodb.models.table import Table

        return value if isinstance(value, Table) else copy.deepcopy(value, memo)

    def __getattr__(self, name: str) -> Any:
        return getattr(copy, name)


def _touched(backend: Any, transact_item: dict[str, Any]) -> tuple[str, dict[str, Any], Any]:
    """(table, key, the item as it is now or None) for one item of a transaction."""
    _, op = next(iter(transact_item.items()))
    table_name = op["TableName"]
    if "Item" in op:  # a Put names its key inside the item
        table = backend.get_table(table_name)
        key = {table.hash_key_attr: op["Item"][table.hash_key_attr]}
        if table.range_key_attr is not None:
            key[table.range_key_attr] = op["Item"][table.range_key_attr]
    else:
        key = op["Key"]
    current = backend.get_item(table_name, key)
    return table_name, key, copy.deepcopy(current.to_json()["Attributes"]) if current is not None else None


def _restore(backend: Any, table_name: str, key: dict[str, Any], attributes: dict[str, Any] | None) -> None:
    if attributes is None:
        if backend.get_item(table_name, key) is not None:
            backend.delete_item(table_name, key)
    else:
        backend.put_item(table_name, attributes)
