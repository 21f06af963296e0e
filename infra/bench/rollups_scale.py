"""Figure 5, rollups: the same reports read from rollups, at 100k and 10M records, beside the index pass.

The rollup items of 100,000 and of 10,000,000 `refund-decision` decisions spread over 31 days
are written straight into the rollups table of a moto server (`infra.local_aws`, in a child
process), as the rollup function would have left them (hour and day items; the model total,
each age band and gender, and their intersection). The audit function
(`functions.handlers.audit.lambda_handler`) then answers `GET /v1/reports/fairness` (age_band x
gender) and `GET /v1/reports/attributions` over a window of whole hours (05:00 of the first
day to 19:00 of the last): a few Queries of rollups, however many decisions. The rollup
path's correctness (equal to the index pass on the same records, counted once under
redelivery, unchanged by erasure) is tested in `tests/integration/test_rollups.py` with records
that went through the real stream.

Not measured here: the index edges of a window that does not start or end on a settled hour
(they are read record by record, as in the index figure above, and hold at most the records of
two partial hours plus the settle time, whatever the window's length).
"""

from __future__ import annotations

import random
import time
from datetime import UTC, datetime, timedelta
from typing import Any

from infra.bench.reports_scale import REPORTS, AuditFunction, _label, measure, moto_process
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


def _write(dynamodb: Any, table: str, items: list[dict[str, Any]]) -> None:
    for start in range(0, len(items), 25):
        request = {table: [{"PutRequest": {"Item": item}} for item in items[start : start + 25]]}
        while request:
            request = dynamodb.batch_write_item(RequestItems=request).get("UnprocessedItems") or {}


def run(quick: bool) -> Figure:
    figure = Figure(
        5, "Reports from rollups", f"fairness and attribution reports over 10,000,000 records in {GOAL_SECONDS:g} s"
    )
    add_rows(figure, quick)
    return figure


def add_rows(figure: Figure, quick: bool) -> bool:
    """Measure the rollup path at 100k and 10M records; add its rows; whether the 1 s goal was met."""
    from infra.local_aws import provision, session_client

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
        dynamodb = session_client("dynamodb", aws_url)
        for size in sizes:
            written = time.perf_counter()
            items = rollup_items(size, first_day)
            _write(dynamodb, env["CANDOR_ROLLUPS_TABLE"], items)
            written_s = time.perf_counter() - written
            audit = AuditFunction(env, window)
            results = {report: measure(audit, report, runs) for report in REPORTS}
            expected = sum(_split(size, DAYS * 24)[5 : (DAYS - 1) * 24 + 19])
            for report, result in results.items():
                if result["records"] != expected:
                    raise RuntimeError(f"the {report} report counted {result['records']}, the rollups hold {expected}")
                figure.rows += [
                    Row(
                        f"{report} report from rollups, {_label(size)} records: time",
                        f"audit handler, event in to response out; {result['queries']} Query calls to moto "
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
            figure.details[f"rollups_{_label(size)}"] = {"items": len(items), "write_seconds": written_s}
            # The next size writes the same keys (the same hours and groups): each item is replaced.
    figure.notes.append(
        "Rollups: the window is whole hours (05:00 of the first day to 19:00 of the 31st), read as 29 day items and "
        "33 hour items per dimension; a window with partial hours at its ends also reads those hours' records from "
        "the index, as in the rows above."
    )
    return met
