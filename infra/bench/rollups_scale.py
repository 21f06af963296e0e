"""Figure 5, rollups: the same reports read from rollups, at 100k and 10M records, beside the index pass.

The rollup items of 100,000 and of 10,000,000 `refund-decision` decisions spread over 31 days
are made as the rollup function would have left them (hour and day items; the model total,
each age band and gender, and their intersection). The audit function
(`functions.handlers.audit.lambda_handler`, environment of a provisioned moto account) then
answers `GET /v1/reports/fairness` (age_band x gender) and `GET /v1/reports/attributions` over a
window of whole hours (05:00 of the first day to 19:00 of the last): a few Queries of rollups,
however many decisions. Each Query is answered at the HTTP layer by `RollupReplay`, with
DynamoDB's semantics (`pk = :pk AND sk BETWEEN :low AND :high`, sorted by `sk`, pages of 1 MB)
over those items: botocore signs the request and parses the page; DynamoDB's own time is left
out, as in the index figure's replayed rows. (moto answers one of these Queries in 2-4 s on this
machine, as it walks every item of the table in Python: 11,625 of them.) The rollup
path's correctness (equal to the index pass on the same records, counted once under
redelivery, unchanged by erasure) is tested in `tests/integration/test_rollups.py` with records
that went through the real stream.

Not measured here: the index edges of a window that does not start or end on a settled hour
(they are read record by record, as in the index figure above, and hold at most the records of
two partial hours plus the settle time, whatever the window's length).
"""

from __future__ import annotations

import json
import random
import time
from datetime import UTC, datetime, timedelta
from typing import Any

from infra.bench.reports_scale import REPORTS, AuditFunction, _label, _response, measure, moto_process
from infra.bench.stats import Figure, Row, Summary

MODEL = "refund-decision"
DAYS = 31
GOAL_SECONDS = 1.0
AGES = {"18-24": 0.70, "25-44": 0.72, "45-64": 0.69, "65+": 0.50}  # favourable shares: the planted proxy bias
GENDERS = ("f", "m")
FEATURES = ("order_value", "days_since_delivery", "prior_refunds_12m", "channel", "payment_method", "is_member")


def _split(total: int, parts: int) -> list[int]:
    return [total // parts + (1 if i < total % parts else 0) for i in range(parts)]


def rollup_items(records: int, first_day: datetime, seed: int = 5) -> list[dict[str, Any]]:
    """Hour and day items holding `records` decisions spread evenly over DAYS days (DynamoDB JSON)."""
    from functions.domain.rollups import DAY, HOUR, partition_key, sort_key

    rng = random.Random(seed)
    items: dict[tuple[str, str], dict[str, float]] = {}

    def add(pk: str, sk: str, counts: dict[str, float]) -> None:
        bucket = items.setdefault((pk, sk), {})
        for name, value in counts.items():
            bucket[name] = bucket.get(name, 0) + value

    for hour_index, in_hour in enumerate(_split(records, DAYS * 24)):
        moment = first_day + timedelta(hours=hour_index)
        periods = {HOUR: moment.strftime("%Y-%m-%dT%H"), DAY: moment.date().isoformat()}
        # groups: the counts per age band and gender, and their intersection
        cells = _split(in_hour, len(AGES) * len(GENDERS))
        favourable_total = 0
        for index, count in enumerate(cells):
            age, gender = list(AGES)[index // 2], GENDERS[index % 2]
            favourable = round(count * AGES[age])
            favourable_total += favourable
            counts: dict[str, float] = {"n": count, "o:approve": favourable, "o:deny": count - favourable}
            for period in periods.values():
                add(partition_key(MODEL, period, ["age_band"]), sort_key(period, [age]), counts)
                add(partition_key(MODEL, period, ["gender"]), sort_key(period, [gender]), counts)
                add(partition_key(MODEL, period, ["age_band", "gender"]), sort_key(period, [age, gender]), counts)
        totals: dict[str, float] = {
            "n": in_hour,
            "notices": in_hour,
            "o:approve": favourable_total,
            "o:deny": in_hour - favourable_total,
            "x:complete": in_hour,
        }
        for rank, feature in enumerate(FEATURES, start=1):
            totals[f"abs:{feature}"] = round(in_hour * rng.uniform(0.5, 1.0) / rank, 9)
            totals[f"sum:{feature}"] = round(in_hour * rng.uniform(-0.2, 0.2) / rank, 9)
        for period in periods.values():
            add(partition_key(MODEL, period), sort_key(period), totals)
    return [
        {"pk": {"S": pk}, "sk": {"S": sk}, **{name: {"N": str(value)} for name, value in counts.items()}}
        for (pk, sk), counts in items.items()
    ]


class RollupReplay:
    """Answers Query calls on the rollups table from `items`, as DynamoDB would (key condition, order, 1 MB pages)."""

    def __init__(self, table: str, items: list[dict[str, Any]]) -> None:
        self.table = table
        self.partitions: dict[str, list[tuple[str, dict[str, Any]]]] = {}
        for item in items:
            self.partitions.setdefault(item["pk"]["S"], []).append((item["sk"]["S"], item))
        for rows in self.partitions.values():
            rows.sort(key=lambda row: row[0])

    def attach(self, client: Any) -> None:
        client.meta.events.register_first("before-send.dynamodb.Query", self._answer)

    def _answer(self, request: Any, **_: Any) -> Any:
        from botocore.awsrequest import AWSResponse

        query = json.loads(request.body)
        if query["TableName"] != self.table:
            return _response(AWSResponse, request.url, '{"Items": [], "Count": 0, "ScannedCount": 0}')
        values = query["ExpressionAttributeValues"]
        low, high = values[":low"]["S"], values[":high"]["S"]
        after = query.get("ExclusiveStartKey", {}).get("sk", {}).get("S")
        rows = [
            item
            for sk, item in self.partitions.get(values[":pk"]["S"], [])
            if low <= sk <= high and (after is None or sk > after)
        ]
        page, size = [], 0
        for item in rows:
            size += len(json.dumps(item))
            if size > 1_000_000:
                break
            page.append(item)
        body = {"Items": page, "Count": len(page), "ScannedCount": len(page)}
        if len(page) < len(rows):
            body["LastEvaluatedKey"] = {"pk": page[-1]["pk"], "sk": page[-1]["sk"]}
        return _response(AWSResponse, request.url, json.dumps(body))


def run(quick: bool) -> Figure:
    figure = Figure(
        5, "Reports from rollups", f"fairness and attribution reports over 10,000,000 records in {GOAL_SECONDS:g} s"
    )
    figure.goal_met = add_rows(figure, quick)
    return figure


def add_rows(figure: Figure, quick: bool) -> bool:
    """Measure the rollup path at 100k and 10M records; add its rows; whether the 1 s goal was met."""
    from infra.local.aws import provision

    sizes, runs = ((10_000, 1_000_000), 1) if quick else ((100_000, 10_000_000), 5)
    first_day = (datetime.now(UTC) - timedelta(days=DAYS + 2)).replace(hour=0, minute=0, second=0, microsecond=0)
    window = (
        (first_day + timedelta(hours=5)).isoformat().replace("+00:00", "Z"),
        (first_day + timedelta(days=DAYS - 1, hours=19, milliseconds=-1))
        .isoformat(timespec="milliseconds")
        .replace("+00:00", "Z"),
    )
    met = True
    with moto_process() as aws_url:
        env = provision(aws_url) | {"POWERTOOLS_TRACE_DISABLED": "true", "POWERTOOLS_METRICS_NAMESPACE": "Candor"}
        for size in sizes:
            made = time.perf_counter()
            items = rollup_items(size, first_day)
            made_s = time.perf_counter() - made
            audit = AuditFunction(env, window)
            RollupReplay(env["CANDOR_ROLLUPS_TABLE"], items).attach(audit.client)
            audit.call("fairness")  # warm: imports and the model registry are the cold-start figure's
            results = {report: measure(audit, report, runs) for report in REPORTS}
            expected = sum(_split(size, DAYS * 24)[5 : (DAYS - 1) * 24 + 19])
            for report, result in results.items():
                if result["records"] != expected:
                    raise RuntimeError(f"the {report} report counted {result['records']}, the rollups hold {expected}")
                figure.rows += [
                    Row(
                        f"{report} report from rollups, {_label(size)} records: time",
                        f"audit handler, event in to response out; {result['queries']} Query calls replayed "
                        f"({len(items):,} rollup items in the table)",
                        "s",
                        Summary.of(result["seconds"]),
                    ),
                    Row(
                        f"{report} report from rollups, {_label(size)} records: peak memory",
                        "tracemalloc peak over one handler call",
                        "MB",
                        value=result["peak_mb"],
                    ),
                ]
                met = met and sorted(result["seconds"])[len(result["seconds"]) // 2] <= GOAL_SECONDS
            figure.details[f"rollups_{_label(size)}"] = {"items": len(items), "make_seconds": made_s}
    figure.notes.append(
        "Rollups: the window is whole hours (05:00 of the first day to 19:00 of the 31st), read as 29 day items and "
        "33 hour items per dimension; a window with partial hours at its ends also reads those hours' records from "
        "the index, as in the rows above."
    )
    return met
