"""Figure 8: the write load per DynamoDB partition key and per S3 key prefix at 10,000 decisions/s.

A write-rate model fed with the keys Candor's own code writes. Real decisions of the bundled
models (`functions.domain.decide.decide`, as in figure 5) are the templates; each simulated
decision is one of them with a fresh decision id, time and subject, arriving at a uniformly
random instant of its second. For each, `functions.stores.record_store.index_item` gives the
item, `archive_key` and `personal_key` the objects; the records table and each of its global
secondary indexes, as template.yaml defines them (key schema, projection), are charged the
write units of the item or index entry (DynamoDB's item size rules, 1 KB a unit), per
partition key value and per second. The decision's transaction writes the index item and the
pending record (both halves' bytes, `functions.stores.pending_records.pending_put`): a
transactional write costs twice the units (DynamoDB Developer Guide, "Capacity management for
transactions"; index entries are charged once); the archive copier's DeleteItem of the pending
record costs its size again. S3 is charged one PUT per object per key prefix (the copier's).

The limits (docs/benchmarks.md, "Partitions", cites them): 1,000 write units a second per
partition key value, of a table or of a GSI (a GSI that cannot keep up throttles the table's
writes), a hard limit: the goal; 40,000 write request units a second per on-demand table and
per GSI, a default quota that can be raised: a table above it is a quota to request;
3,500 PUTs a second per S3 prefix. S3 splits a bucket's key space into ranges as the load
grows, on any character of the key, but objects written in the same second share their ULID's
time characters and land at the end of one range: the "prefix" of an object here is its key
before the decision id (with the spread digit of `functions.domain.index_shards.object_spread`).
"""

from __future__ import annotations

import functools
import math
import random
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from infra.bench.stats import Figure, Row

TARGET = 10_000  # decisions a second, in total and of one model
KEY_WRITE_UNITS = 1_000  # per partition key value per second, table or GSI
TABLE_WRITE_UNITS = 40_000  # default on-demand quota, per table and per GSI
PREFIX_PUTS = 3_500  # per S3 prefix per second
GSI_ENTRY_OVERHEAD = 100  # bytes DynamoDB adds to an index entry (documented for storage; charged here too, to be safe)
_CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"


def attribute_size(value: Any) -> int:
    """Bytes of one attribute value by DynamoDB's rules (strings UTF-8; numbers 1 byte per 2 digits + 1)."""
    if isinstance(value, bool) or value is None:
        return 1
    if isinstance(value, str):
        return len(value.encode())
    if isinstance(value, int | float | Decimal):
        digits = Decimal(str(value)).normalize().as_tuple().digits
        return math.ceil(len(digits) / 2) + 1
    if isinstance(value, bytes):
        return len(value)
    if isinstance(value, Mapping):  # 3 bytes, and per element its name, its value and 1 byte
        return 3 + sum(len(str(k).encode()) + attribute_size(v) + 1 for k, v in value.items())
    if isinstance(value, list | tuple | set):
        return 3 + sum(attribute_size(v) + 1 for v in value)
    raise TypeError(f"no DynamoDB size for {type(value).__name__}")


def item_size(item: Mapping[str, Any]) -> int:
    """An item's size: the lengths of its attribute names and values."""
    return sum(len(name.encode()) + attribute_size(value) for name, value in item.items())


def write_units(size: int) -> int:
    return max(1, math.ceil(size / 1024))


@dataclass(frozen=True)
class Index:
    """A global secondary index of the records table, from the template."""

    name: str
    keys: tuple[str, ...]  # partition key first
    projection: str
    included: tuple[str, ...] = ()

    def entry(self, item: Mapping[str, Any], table_keys: tuple[str, ...]) -> dict[str, Any] | None:
        """The index entry of `item`; None when the item lacks a key attribute (a sparse index)."""
        if any(k not in item for k in self.keys):
            return None
        if self.projection == "ALL":
            return dict(item)
        names = {*table_keys, *self.keys, *(self.included if self.projection == "INCLUDE" else ())}
        return {k: v for k, v in item.items() if k in names}


@functools.cache
def records_table_indexes() -> tuple[tuple[str, ...], list[Index]]:
    """The records table's key and its GSIs, as template.yaml declares them."""
    from infra import template as tpl

    spec = tpl.tables(tpl.load_template())["RecordsTable"]
    table_keys = tuple(k["AttributeName"] for k in spec.key_schema)
    indexes = [
        Index(
            name=gsi["IndexName"],
            keys=tuple(k["AttributeName"] for k in gsi["KeySchema"]),
            projection=gsi["Projection"]["ProjectionType"],
            included=tuple(gsi["Projection"].get("NonKeyAttributes", ())),
        )
        for gsi in spec.global_secondary_indexes
    ]
    return table_keys, indexes


@dataclass
class Load:
    """Write units per (table or index, partition key, second), PUTs per (S3 prefix, second)."""

    units: Counter[tuple[str, str, int]] = field(default_factory=Counter)
    totals: Counter[tuple[str, int]] = field(default_factory=Counter)
    puts: Counter[tuple[str, int]] = field(default_factory=Counter)
    entry_sizes: dict[str, list[int]] = field(default_factory=dict)

    def charge(self, where: str, key: str, second: int, size: int, *, transactional: bool = False) -> None:
        units = write_units(size) * (2 if transactional else 1)
        self.units[where, key, second] += units
        self.totals[where, second] += units
        self.entry_sizes.setdefault(where, []).append(size)

    def busiest(self, where: str) -> tuple[int, str]:
        """The most write units one partition key of `where` took in one second, and that key."""
        found = [(units, key) for (w, key, _), units in self.units.items() if w == where]
        return max(found) if found else (0, "-")

    def peak_total(self, where: str) -> int:
        return max((units for (w, _), units in self.totals.items() if w == where), default=0)

    def busiest_prefix(self, bucket: str) -> tuple[int, str]:
        found = [(puts, prefix) for (prefix, _), puts in self.puts.items() if prefix.startswith(bucket)]
        return max(found) if found else (0, "-")


def s3_prefix(key: str, decision_id: str) -> str:
    """The key before the decision id: what objects written in the same second share (a ULID starts with the time)."""
    return key[: key.index(decision_id)]


def _ulid(at: datetime, rng: random.Random) -> str:
    """A ULID as `functions.domain.ids.new_ulid` makes them, from a seeded generator (a reproducible run)."""
    value = (int(at.timestamp() * 1000) << 80) | rng.getrandbits(80)
    return "".join(_CROCKFORD[(value >> shift) & 31] for shift in range(125, -1, -5))


# What index_item writes differently for two copies of one decision; the rest is the template's.
_VARYING = ("decision_id", "decided_at", "day", "model_day", "model_outcome", "subject_hash", "archive_key")


class _Sizer:
    """Item and entry sizes: the template's invariant part measured once, the varying attributes each time."""

    def __init__(self, table_keys: tuple[str, ...], indexes: list[Index]) -> None:
        self.table_keys, self.indexes = table_keys, indexes
        self._invariant: dict[int, int] = {}

    def item(self, template_id: int, item: Mapping[str, Any]) -> int:
        if template_id not in self._invariant:
            self._invariant[template_id] = item_size({k: v for k, v in item.items() if k not in _VARYING})
        return self._invariant[template_id] + item_size({k: item[k] for k in _VARYING if k in item})

    def entry(self, index: Index, template_id: int, item: Mapping[str, Any]) -> int | None:
        if any(k not in item for k in index.keys):
            return None  # a sparse index: the item is not in it
        if index.projection == "ALL":
            return self.item(template_id, item) + GSI_ENTRY_OVERHEAD
        entry = index.entry(item, self.table_keys)
        return None if entry is None else item_size(entry) + GSI_ENTRY_OVERHEAD


def simulate(templates: list[Any], *, rate: int, seconds: int, shards: Iterable[int], seed: int = 8) -> dict[int, Load]:
    """`rate` decisions a second for `seconds`, each a copy of a random template; the load each shard count writes."""
    from functions.domain.audit import iso
    from functions.domain.seal import archived_json, personal_json
    from functions.stores.pending_records import PendingRecord, pending_put
    from functions.stores.record_store import archive_key, index_item, personal_key

    table_keys, indexes = records_table_indexes()
    sizer = _Sizer(table_keys, indexes)
    rng = random.Random(seed)
    start = datetime(2026, 12, 1, 12, tzinfo=UTC)
    loads = {n: Load() for n in shards}
    for second in range(seconds):
        for at in sorted(start + timedelta(seconds=second + rng.random()) for _ in range(rate)):
            number = rng.randrange(len(templates))
            template = templates[number]
            envelope = template.envelope.model_copy(
                update={
                    "decision_id": _ulid(at, rng),
                    "decided_at": iso(at),
                    "subject_hash": f"{rng.getrandbits(256):064x}",  # a customer among very many
                }
            )
            record = template.model_copy(update={"envelope": envelope})
            key = archive_key(envelope)
            personal = personal_key(envelope.decision_id)
            staged = PendingRecord(
                envelope.decision_id, envelope.decided_at, key, archived_json(record), "0" * 64, personal,
                personal_json(record),
            )  # fmt: skip
            pending = item_size({k: next(iter(v.values())) for k, v in pending_put("pending", staged)["Item"].items()})
            for n, load in loads.items():
                item = index_item(record, key, shards=n)
                load.charge("table", str(item[table_keys[0]]), second, sizer.item(number, item), transactional=True)
                load.charge("pending", envelope.decision_id, second, pending, transactional=True)
                load.charge("pending", envelope.decision_id, second, pending)  # the copier's DeleteItem
                for index in indexes:
                    size = sizer.entry(index, number, item)
                    if size is not None:
                        load.charge(index.name, str(item[index.keys[0]]), second, size)
                load.puts[s3_prefix(key, envelope.decision_id), second] += 1
                load.puts["personal:" + s3_prefix(personal, envelope.decision_id), second] += 1
    return loads


@dataclass(frozen=True)
class Scenario:
    name: str
    templates: list[Any]


def scenarios(records: Iterable[Any]) -> list[Scenario]:
    """One model deciding one outcome at the whole rate (the worst case for a model's keys), and both models mixed."""
    records = list(records)
    refunds = [r for r in records if r.envelope.model.id == "refund-decision"]
    common = Counter(r.envelope.outcome.label for r in refunds).most_common(1)[0][0]
    return [
        Scenario(f"one model, one outcome ({common})", [r for r in refunds if r.envelope.outcome.label == common]),
        Scenario("two models, their outcomes", records),
    ]


def decided(distinct: int) -> list[Any]:
    """Sealed records of `distinct` requests to each bundled model, through the real `decide()`."""
    import dataclasses

    from functions.api import decision_dependencies
    from functions.coldstart import forget_everything
    from functions.domain.decide import decide
    from functions.schemas.api import DecisionRequest
    from infra.bench.middleware import bench_environment, environment
    from infra.bench.reports_scale import CapturingStore
    from infra.training.synthetic import refund_requests, ticket_messages

    store = CapturingStore()
    requests: list[tuple[str, dict[str, Any]]] = [
        ("refund-decision", {"inputs": s["inputs"], "segments": s["segments"]}) for s in refund_requests(distinct, 808)
    ]
    requests += [("ticket-router", {"inputs": {"text": text}}) for text, _, _ in ticket_messages(distinct, 808)]
    with environment(bench_environment()):
        forget_everything()
        try:
            services = dataclasses.replace(decision_dependencies.decision_services(), records=store)
            for i, (model, body) in enumerate(requests):
                request = DecisionRequest(
                    request_id=f"partitions-{i}",
                    subject_id=f"customer-{i}",
                    locale=("en-GB", "es-ES")[i % 2],
                    jurisdiction=("EU", "default", "US-CA")[i % 3],
                    **body,
                )
                decide(model, request, services, "http://127.0.0.1:3000")
        finally:
            forget_everything()
    return store.records


def run(quick: bool) -> Figure:
    from functions.schemas.settings import DEFAULT_INDEX_SHARDS

    seconds, distinct = (1, 4) if quick else (3, 100)
    figure = Figure(
        8,
        "Partitions",
        f"{TARGET:,} decisions/s of one model with no DynamoDB partition key over {KEY_WRITE_UNITS:,} write units/s; "
        f"a table or index above the {TABLE_WRITE_UNITS:,} default quota names an increase to request",
    )
    _, indexes = records_table_indexes()
    places = ["table", *(i.name for i in indexes), "pending"]
    met = True
    chosen = scenarios(decided(distinct))
    for scenario in chosen[:1] if quick else chosen:  # quick: the worst case only
        loads = simulate(scenario.templates, rate=TARGET, seconds=seconds, shards=(1, DEFAULT_INDEX_SHARDS))
        for shards, load in loads.items():
            label = f"{scenario.name}, {shards} shard{'s' * (shards > 1)}"
            worst = {where: load.busiest(where) for where in places}
            for where in places:
                units, key = worst[where]
                sizes = load.entry_sizes.get(where, [0])
                figure.rows.append(
                    Row(
                        f"{label}: busiest key of {where}",
                        "write units in its busiest second",
                        "WCU/s",
                        value=units,
                        note=f"{key!r}; {where} in all: {load.peak_total(where):,} WCU/s at peak; entries "
                        f"{min(sizes):,}-{max(sizes):,} bytes",
                    )
                )
            for bucket in ("records/", "personal:"):
                puts, prefix = load.busiest_prefix(bucket)
                figure.rows.append(
                    Row(
                        f"{label}: busiest S3 prefix ({'archive' if bucket == 'records/' else 'personal'})",
                        "PUTs in its busiest second",
                        "PUT/s",
                        value=puts,
                        note=prefix.removeprefix("personal:"),
                    )
                )
            if shards > 1:
                met &= all(units <= KEY_WRITE_UNITS for units, _ in worst.values())
                quotas = {w: load.peak_total(w) for w in places if load.peak_total(w) > TABLE_WRITE_UNITS}
                for where, units in quotas.items():
                    figure.notes.append(
                        f"{label}: {where} peaks at {units:,} WCU/s, above the {TABLE_WRITE_UNITS:,} default quota: "
                        "request a higher table-level write throughput quota (adjustable, Service Quotas)"
                    )
            figure.details[label] = {
                "busiest_keys": {where: {"units": u, "key": k} for where, (u, k) in worst.items()},
                "peak_totals": {where: load.peak_total(where) for where in places},
                "templates": len(scenario.templates),
                "seconds": seconds,
            }
    figure.goal_met = met
    figure.notes.append(
        "Every simulated decision's keys come from index_item, archive_key and personal_key; sizes by DynamoDB's "
        f"item size rules, plus {GSI_ENTRY_OVERHEAD} bytes per index entry; the keys of 1 shard are those Candor "
        "wrote before sharding."
    )
    return figure
