"""Sharded index keys against moto: listings, reports and digests read the same records whatever the shard count.

The same records are indexed twice, unsharded (one shard: the keys Candor wrote before sharding)
and over 8 shards, in two tables of the template's schema; every reader must give the same
answer from both, and a reader that asks more shards than were written still finds everything.
"""

from __future__ import annotations

import base64
import json
import random
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest
from boto3.dynamodb.types import TypeSerializer

from functions.domain.audit import Window, decode_cursor, encode_cursor, model_partitions, plan_listing
from functions.domain.errors import MalformedRequest
from functions.domain.index_shards import shard_of
from functions.domain.integrity import Windowing
from functions.domain.seal import seal
from functions.schemas.record import RecordedOutcome
from functions.stores.integrity_records import AwsRecordSource
from functions.stores.record_index import RecordIndex
from functions.stores.record_store import archive_key, index_item
from infra import template as tpl
from infra.local.aws import _create_table
from tests.unit.domain.records import sample_envelope, sample_personal

SHARDS = 8
MODELS = ("ticket-router", "refund-decision")
LABELS = ("billing", "shipping", "refunds")
WINDOW = Window(datetime(2026, 11, 25, 6, tzinfo=UTC), datetime(2026, 11, 27, 18, tzinfo=UTC))
_serializer = TypeSerializer()


def _records(count: int) -> list[Any]:
    """Records over four days (some outside the window), two models, three labels, many decided the same millisecond."""
    rng = random.Random(13)
    personal = sample_personal()
    base = sample_envelope(personal)
    moments = [
        datetime(2026, 11, 24, 20, tzinfo=UTC) + timedelta(minutes=rng.randrange(4 * 24 * 60)) for _ in range(40)
    ]
    records = []
    for n in range(count):
        envelope = base.model_copy(
            update={
                "decision_id": f"01JF{rng.getrandbits(100):022X}"[:26],
                "request_id": f"chat-{n}",
                "decided_at": rng.choice(moments).isoformat(timespec="milliseconds").replace("+00:00", "Z"),
                "model": base.model.model_copy(update={"id": rng.choice(MODELS)}),
                "outcome": RecordedOutcome(
                    label=rng.choice(LABELS), score=0.5, threshold=None, adverse=None, probabilities={}
                ),
            }
        )
        records.append(seal(envelope, personal))
    return records


RECORDS = _records(160)


def _index(dynamodb: Any, table: str, shards: int) -> None:
    for record in RECORDS:
        item = index_item(record, archive_key(record.envelope), shards=shards)
        dynamodb.put_item(TableName=table, Item={k: _serializer.serialize(v) for k, v in item.items()})


@pytest.fixture
def tables(aws_env: dict[str, str]) -> tuple[Any, str, str]:
    """(client, unsharded table, sharded table), both holding RECORDS."""
    dynamodb = boto3.client("dynamodb")
    spec = tpl.tables(tpl.load_template())["RecordsTable"]
    _create_table(dynamodb, "records-sharded", spec, aws_env["CANDOR_KMS_KEY_ID"])
    _index(dynamodb, aws_env["CANDOR_RECORDS_TABLE"], shards=1)
    _index(dynamodb, "records-sharded", shards=SHARDS)
    return dynamodb, aws_env["CANDOR_RECORDS_TABLE"], "records-sharded"


def _expected(model_id: str | None = None, outcome: str | None = None) -> list[str]:
    start, end = WINDOW.bounds
    chosen = [
        r.envelope
        for r in RECORDS
        if start <= r.envelope.decided_at <= end
        and r.envelope.model.id == (model_id or r.envelope.model.id)
        and r.envelope.outcome.label == (outcome or r.envelope.outcome.label)
    ]
    return [e.decision_id for e in sorted(chosen, key=lambda e: (e.decided_at, e.decision_id), reverse=True)]


def _listing(index: RecordIndex, shards: int, limit: int, **query: str | None) -> tuple[list[str], int]:
    """Every page of a listing, each next page from the cursor the previous one gave; the ids and the page count."""
    groups, _ = plan_listing(
        WINDOW, model_id=query.get("model_id"), outcome=query.get("outcome"), subject_hash=None, shards=shards
    )
    ids: list[str] = []
    position: Any = (0, None)
    for pages in range(1, 1000):
        page = index.page(groups, *WINDOW.bounds, limit=limit, position=position, projection=("decision_id",))
        assert len(page.items) <= limit
        ids += [item["decision_id"] for item in page.items]
        if page.next is None:
            return ids, pages
        cursor = encode_cursor(page.next, WINDOW, "q")
        position, window = decode_cursor(cursor, "q")  # what the route does with the next request
        assert window.bounds == WINDOW.bounds
    raise AssertionError("the listing never ended")


@pytest.mark.parametrize("limit", [1, 7, 1000])
@pytest.mark.parametrize("outcome", [None, "refunds"])
def test_a_sharded_listing_pages_through_the_same_records_in_the_same_order(tables, limit, outcome):
    dynamodb, unsharded, sharded = tables
    expected = _expected("ticket-router", outcome)
    assert len(expected) > 20

    flat, _ = _listing(
        RecordIndex(table=unsharded, dynamodb=dynamodb), 1, limit, model_id="ticket-router", outcome=outcome
    )
    spread, pages = _listing(
        RecordIndex(table=sharded, dynamodb=dynamodb), SHARDS, limit, model_id="ticket-router", outcome=outcome
    )

    assert flat == expected
    assert spread == expected  # none lost, none twice, ties in one order, across page and day boundaries
    assert pages >= len(expected) // limit


def test_the_records_are_spread_over_every_shard(tables):
    dynamodb, _, sharded = tables
    shards = {shard_of(r.envelope.decision_id, SHARDS) for r in RECORDS}
    assert shards == set(range(SHARDS))
    answer = dynamodb.scan(TableName=sharded, ProjectionExpression="#d", ExpressionAttributeNames={"#d": "day"})
    keys = {item["day"]["S"] for item in answer["Items"]}
    assert "2026-11-26" in keys and "2026-11-26#7" in keys  # shard 0 keeps the unsharded key


def test_items_written_with_fewer_shards_are_all_read_with_more(tables):
    """Raising the shard count is safe: the unsharded items (shard 0's keys) are read by an 8-shard reader."""
    dynamodb, unsharded, _ = tables
    ids, _ = _listing(RecordIndex(table=unsharded, dynamodb=dynamodb), SHARDS, 9, model_id="refund-decision")
    assert ids == _expected("refund-decision")


def test_reports_stream_every_record_of_every_shard(tables):
    dynamodb, unsharded, sharded = tables
    for table, shards in ((unsharded, 1), (sharded, SHARDS)):
        index = RecordIndex(table=table, dynamodb=dynamodb)
        items = list(
            index.stream(
                model_partitions(WINDOW, "ticket-router", shards),
                *WINDOW.bounds,
                projection=("decision_id", "outcome"),
                batch=3,
            )
        )
        assert sorted(i["decision_id"] for i in items) == sorted(_expected("ticket-router"))


def test_integrity_digests_cover_every_shard(tables, aws_env):
    dynamodb, unsharded, sharded = tables
    start, end = datetime(2026, 11, 26, tzinfo=UTC), datetime(2026, 11, 27, tzinfo=UTC)
    expected = sorted(r.envelope.decision_id for r in RECORDS if r.envelope.decided_at.startswith("2026-11-26"))
    assert len(expected) > 40
    for table, shards in ((unsharded, 1), (sharded, SHARDS)):
        source = AwsRecordSource(
            table=table,
            bucket=aws_env["CANDOR_ARCHIVE_BUCKET"],
            windowing=Windowing(hours=24),
            dynamodb=dynamodb,
            s3=boto3.client("s3"),
            index_shards=shards,
        )
        assert sorted(r.decision_id for r in source.indexed(start, end)) == expected


@pytest.mark.parametrize(
    "boundary", [{"decision_id": {"S": "x"}}, ["2026-11-27T10:00:00.000Z"], ["", "x"], [1, "x"], "x"]
)
def test_a_cursor_with_a_forged_boundary_is_refused(boundary):
    cursor = encode_cursor((0, None), WINDOW, "q")
    data = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    forged = base64.urlsafe_b64encode(json.dumps(data | {"k": boundary}).encode()).decode()
    with pytest.raises(MalformedRequest):
        decode_cursor(forged, "q")
