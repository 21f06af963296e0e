"""RecordIndex's merge of a group's shards, against a fake Query that returns ties in the least helpful order.

DynamoDB orders a Query by the sort key only: items of one `decided_at` come back in any order,
and a page may end among them. moto happens to order them helpfully, so this is checked here.
"""

from __future__ import annotations

import random
from typing import Any

import pytest

from functions.domain.index_shards import every_shard, shard_of
from functions.stores.record_index import RecordIndex


class TiesReversedQuery:
    """Query on one GSI: BETWEEN on decided_at, newest first, ties by ascending decision_id, Limit, paging."""

    def __init__(self, items: list[dict[str, str]]) -> None:
        self.items, self.calls = items, 0

    def query(self, **request: Any) -> dict[str, Any]:
        self.calls += 1
        values = request["ExpressionAttributeValues"]
        key, start, end = values[":k"]["S"], values[":start"]["S"], values[":end"]["S"]
        chosen = [i for i in self.items if i["model_day"] == key and start <= i["decided_at"] <= end]
        chosen.sort(key=lambda i: i["decision_id"])
        chosen.sort(key=lambda i: i["decided_at"], reverse=True)  # stable: ties stay in ascending id
        after = request.get("ExclusiveStartKey")
        if after:
            chosen = chosen[[i["decision_id"] for i in chosen].index(after["decision_id"]["S"]) + 1 :]
        page = chosen[: request["Limit"]]
        answer: dict[str, Any] = {"Items": [{k: {"S": v} for k, v in i.items()} for i in page]}
        if len(chosen) > len(page):
            answer["LastEvaluatedKey"] = {"decision_id": {"S": page[-1]["decision_id"]}}
        return answer


def _items(shards: int) -> list[dict[str, str]]:
    rng = random.Random(3)
    moments = [f"2026-11-26T10:00:00.00{n}Z" for n in range(4)]
    items = []
    for _ in range(80):
        decision_id = f"01JF{rng.getrandbits(100):022X}"[:26]
        key = every_shard("m#2026-11-26", shards)[shard_of(decision_id, shards)]
        items.append({"decision_id": decision_id, "decided_at": rng.choice(moments), "model_day": key})
    return items


@pytest.mark.parametrize("shards", [1, 3])
@pytest.mark.parametrize("limit", [1, 2, 5, 13, 80, 200])
def test_pages_follow_decided_at_then_decision_id_whatever_order_ties_come_in(shards, limit):
    items = _items(shards)
    index = RecordIndex(table="records", dynamodb=TiesReversedQuery(items))  # type: ignore[arg-type]
    group = tuple(("by_model_day", "model_day", k) for k in every_shard("m#2026-11-26", shards))
    served: list[str] = []
    position: Any = (0, None)
    while True:
        page = index.page([group], "2026-11-26", "2026-11-27", limit=limit, position=position)
        assert len(page.items) <= limit
        served += [i["decision_id"] for i in page.items]
        if page.next is None:
            break
        position = page.next
    newest_first = sorted(items, key=lambda i: (i["decided_at"], i["decision_id"]), reverse=True)
    expected = [i["decision_id"] for i in newest_first]
    assert served == expected


def test_a_decision_keeps_its_shard_and_the_shards_are_even():
    assert shard_of("01JF0000000000000000000000", 32) == 17  # stable: the keys of a stored record never move
    assert shard_of("01JF0000000000000000000000", 1) == 0
    rng = random.Random(5)
    counts = [0] * 32
    for _ in range(32_000):  # ULIDs of one millisecond: only their random part differs
        counts[
            shard_of("01JF0000AB" + "".join(rng.choice("0123456789ABCDEFGHJKMNPQRSTVWXYZ") for _ in range(16)), 32)
        ] += 1
    assert min(counts) >= 850 and max(counts) <= 1150


def test_shard_0_is_the_unsharded_key():
    assert every_shard("m#2026-11-26", 3) == ["m#2026-11-26", "m#2026-11-26#1", "m#2026-11-26#2"]
    assert every_shard("2026-11-26", 1) == ["2026-11-26"]
