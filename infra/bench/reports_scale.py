"""Figure 5: the auditor's fairness and attribution reports over 10k and 100k records.

Records are made by Candor's own code and stored through its own write path:
`functions.domain.decide.decide` (the real model registry, notices and keys) decides a few
hundred distinct `refund-decision` requests into a capturing store; copies of those sealed
records, each with a fresh decision id, timestamp and salt, are re-sealed with
`functions.domain.seal` (`personal_digest`, `seal`) and written with
`functions.stores.record_store.AwsRecordStore.put` (archive object, personal object, index
item) into a moto server (`infra.local.aws`, the local stack's AWS), spread over four days.
moto runs in a child process, so that the report's memory (tracemalloc) and CPU here are
the audit function's alone.

The reports are the audit function itself: `functions.handlers.audit.lambda_handler` given
the API Gateway events `GET /v1/reports/fairness` (age_band x gender) and
`GET /v1/reports/attributions` over a window holding every record; they Query the index
day by day (`RecordIndex.stream`, pages of 1000) and fold the items in one pass.

moto cannot hold 100k records in bench time (about 40 record puts/s here) nor answer
Query at DynamoDB's speed (its Query re-projects every item in Python: ~2 ms per item). So
the figure has two parts: (a) the reports against moto over the records stored there, and
(b) the same handler at 10k and 100k records with every Query answered, at the HTTP
layer, by a page that moto returned for these records (botocore still parses each page;
only moto's work and the network are left out). (b) is what the goal is judged on.
"""

from __future__ import annotations

import contextlib
import io
import json
import statistics
import subprocess
import sys
import threading
import time
import tracemalloc
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any

from functions.coldstart import forget_everything
from infra.bench.middleware import bench_environment, environment
from infra.bench.profile import REPO
from infra.bench.stats import Figure, Row, Summary

MODEL = "refund-decision"
DAYS = 4
PUT_THREADS = 4
GOAL_SECONDS = 5.0
GOAL_MB = 300.0
EVENTS = REPO / "events"
_MOTO_CHILD = (
    "import sys\n"
    "from infra.local.aws import start_moto\n"
    "endpoint = start_moto()\n"
    "print(endpoint.url, flush=True)\n"
    "sys.stdin.read()\n"  # serve until the parent closes our stdin
    "endpoint.stop()\n"
)


@contextlib.contextmanager
def moto_process() -> Iterator[str]:
    """A moto server (`infra.local.aws.start_moto`) in a child process; yields its URL."""
    child = subprocess.Popen(  # noqa: S603  # our own interpreter on our own code
        [sys.executable, "-c", _MOTO_CHILD],
        cwd=REPO,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert child.stdout is not None
        url = child.stdout.readline().strip()
        if not url.startswith("http"):
            raise RuntimeError("the moto child did not start")
        yield url
    finally:
        if child.stdin is not None:
            child.stdin.close()
        try:
            child.wait(timeout=10)
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait()


class CapturingStore:
    """A RecordStore that keeps the sealed records `decide` hands it (they are stored later, in bulk)."""

    def __init__(self) -> None:
        self.records: list[Any] = []

    def put(self, record: Any) -> None:
        self.records.append(record)

    def refer(self, referral: Any) -> None:
        """The ReferralQueue too: a decision the review policy refers is a record like any other here."""


def decided_records(n: int, env: dict[str, str]) -> list[Any]:
    """`n` distinct refund-decision requests through the real `decide()`; their sealed records."""
    import dataclasses

    from functions.api import decision_dependencies
    from functions.domain.decide import decide
    from functions.schemas.api import DecisionRequest
    from infra.training.synthetic import refund_requests

    store = CapturingStore()
    with environment(env):
        forget_everything()
        try:
            services = dataclasses.replace(decision_dependencies.decision_services(), records=store, referrals=store)
            for i, sample in enumerate(refund_requests(n, seed=505)):
                request = DecisionRequest(
                    request_id=f"scale-{i}",
                    subject_id=f"customer-{i % 997}",
                    locale=("en-GB", "es-ES")[i % 2],
                    jurisdiction=("EU", "default", "US-CA")[i % 3],
                    inputs=sample["inputs"],
                    segments=sample["segments"],
                )
                decide(MODEL, request, services, "http://127.0.0.1:3000")
        finally:
            forget_everything()
    return store.records


def resealed(record: Any, at: datetime, serial: int) -> Any:
    """The same decision as a new record: fresh id, time and salt, sealed again by the domain's own functions."""
    from functions.domain.audit import iso
    from functions.domain.ids import new_ulid
    from functions.domain.seal import new_salt, personal_digest, seal

    personal = record.personal.model_copy(update={"salt": new_salt()})
    envelope = record.envelope.model_copy(
        update={
            "decision_id": new_ulid(at),
            "decided_at": iso(at),
            "request_id": f"scale-copy-{serial}",
            "personal_sha256": personal_digest(personal),
        }
    )
    return seal(envelope, personal)


def record_store(env: dict[str, str], aws_url: str) -> Any:
    import boto3
    from botocore.config import Config

    from functions.stores.record_store import AwsRecordStore

    session = boto3.Session(
        aws_access_key_id="testing",
        aws_secret_access_key="testing",  # noqa: S106  # moto's dummy credentials
        region_name=env["AWS_DEFAULT_REGION"],
    )
    config = Config(max_pool_connections=PUT_THREADS * 2, retries={"max_attempts": 5, "mode": "standard"})
    return AwsRecordStore(
        table=env["CANDOR_RECORDS_TABLE"],
        bucket=env["CANDOR_ARCHIVE_BUCKET"],
        personal_bucket=env["CANDOR_PERSONAL_BUCKET"],
        kms_key_id=env["CANDOR_KMS_KEY_ID"],
        dynamodb=session.client("dynamodb", endpoint_url=aws_url, config=config),
        s3=session.client("s3", endpoint_url=aws_url, config=config),
        index_shards=int(env["CANDOR_INDEX_SHARDS"]),
    )


class Population:
    """Records in moto, all inside [start, end): grown in steps, each copy of a decided record re-sealed."""

    def __init__(self, store: Any, templates: list[Any], start: datetime, end: datetime) -> None:
        self.store, self.templates, self.start, self.end = store, templates, start, end
        self.count = 0
        self.seconds = 0.0

    def grow_to(self, total: int, pool: ThreadPoolExecutor) -> None:
        """Put records until `total` are stored (times evenly spread over the window, order shuffled by stride)."""
        began = time.perf_counter()
        span = (self.end - self.start) / total
        lock = threading.Lock()
        serials = iter(range(self.count, total))

        def put_one(_: int) -> None:
            with lock:
                serial = next(serials)
            at = self.start + span * ((serial * 7919) % total) + timedelta(microseconds=serial % 1000)
            template = self.templates[serial % len(self.templates)]
            self.store.put(resealed(template, at, serial))

        list(pool.map(put_one, range(total - self.count)))
        self.count = total
        self.seconds += time.perf_counter() - began


def _event(name: str, query: dict[str, str]) -> dict[str, Any]:
    event = json.loads((EVENTS / name).read_text(encoding="utf-8"))
    event["queryStringParameters"] = query
    event["multiValueQueryStringParameters"] = {k: [v] for k, v in query.items()}
    return event


class QueryClock:
    """Seconds spent inside DynamoDB Query calls (request build, HTTP to moto, moto's work, response parse)."""

    def __init__(self) -> None:
        self.seconds = 0.0
        self.calls = 0
        self._started = 0.0

    def attach(self, client: Any) -> None:
        events = client.meta.events
        events.register("provide-client-params.dynamodb.Query", self._begin)
        events.register("after-call.dynamodb.Query", self._end)

    def _begin(self, **_: Any) -> None:
        self._started = time.perf_counter()

    def _end(self, **_: Any) -> None:
        self.seconds += time.perf_counter() - self._started
        self.calls += 1


class AuditFunction:
    """The audit Lambda handler in this process, pointed at the moto server, with its Query calls clocked."""

    def __init__(self, env: dict[str, str], window: tuple[str, str]) -> None:
        from infra.local.gateway import LambdaContext

        self.env, self.window = env, window
        self.clock = QueryClock()
        self.context = LambdaContext(
            function_name="candor-audit",
            memory_limit_in_mb=1024,
            invoked_function_arn="arn:aws:lambda:eu-west-1:123456789012:function:candor-audit",
            aws_request_id="bench-reports",
            timeout_s=30,
        )
        with environment(env):
            forget_everything()
            from functions.stores import aws_clients

            self.client = aws_clients.dynamodb()
            self.clock.attach(self.client)

    def call(self, report: str) -> dict[str, Any]:
        from functions.handlers.audit import lambda_handler

        start, end = self.window
        query = {"model_id": MODEL, "from": start, "to": end}
        if report == "fairness":
            event = _event("audit-fairness.json", query | {"attribute": "age_band", "attribute2": "gender"})
        else:
            event = _event("audit-attributions.json", query)
        with environment(self.env), contextlib.redirect_stdout(io.StringIO()):
            response = lambda_handler(event, self.context)
        if response["statusCode"] != 200:
            raise RuntimeError(f"the audit handler answered {response['statusCode']}: {response['body'][:500]}")
        return dict(json.loads(response["body"]))


class Replay:
    """Answers the records table's Query calls with pages moto returned, `total` items spread over the partitions.

    Registered on the client's `before-send` event: botocore builds and signs the request and
    parses the page as it would DynamoDB's answer. Queries of other tables (appeals) get an
    empty page.
    """

    def __init__(self, table: str, pages: dict[tuple[str, ...], list[dict[str, Any]]], page_size: int) -> None:
        self.table, self.page_size, self.total, self.keys = table, page_size, 0, [""]
        self._items = {projection: _cycled(items, page_size) for projection, items in pages.items()}
        self._json: dict[tuple[tuple[str, ...], int], str] = {}  # serialised once: the stub costs ~nothing

    def serve(self, total: int, keys: list[str]) -> None:
        """From now on, `total` records spread evenly over the partitions `keys` (model_day values, every shard)."""
        self.total, self.keys = total, keys

    def attach(self, client: Any) -> None:
        client.meta.events.register_first("before-send.dynamodb.Query", self._answer)

    def detach(self, client: Any) -> None:
        client.meta.events.unregister("before-send.dynamodb.Query", self._answer)

    def _answer(self, request: Any, **_: Any) -> Any:
        from botocore.awsrequest import AWSResponse

        query = json.loads(request.body)
        if query["TableName"] != self.table:
            return _response(AWSResponse, request.url, '{"Items": [], "Count": 0, "ScannedCount": 0}')
        projection = tuple(
            sorted(query["ExpressionAttributeNames"][p.strip()] for p in query["ProjectionExpression"].split(","))
        )
        key = query["ExpressionAttributeValues"][":k"]["S"]
        number = self.keys.index(key)
        share = self.total // len(self.keys) + (number < self.total % len(self.keys))
        served = int(query.get("ExclusiveStartKey", {}).get("decision_id", {}).get("S", "0"))
        count = min(self.page_size, query.get("Limit", self.page_size), share - served)  # as DynamoDB: Limit
        if (projection, count) not in self._json:
            self._json[projection, count] = json.dumps(self._items[projection][:count])
        page = f'{{"Count": {count}, "ScannedCount": {count}, "Items": {self._json[projection, count]}'
        if served + count < share:
            last = {"decision_id": {"S": str(served + count)}, "model_day": {"S": key}}
            page += f', "LastEvaluatedKey": {json.dumps(last)}'
        return _response(AWSResponse, request.url, page + "}")


def _cycled(items: list[dict[str, Any]], size: int) -> list[dict[str, Any]]:
    return [items[i % len(items)] for i in range(size)]


class _Raw(io.BytesIO):
    def stream(self, **_: Any) -> Iterator[bytes]:
        yield self.read()


def _response(cls: Any, url: str, page: str) -> Any:
    body = page.encode()
    headers = {"Content-Type": "application/x-amz-json-1.0", "Content-Length": str(len(body))}
    return cls(url, 200, headers, _Raw(body))


def recorded_pages(env: dict[str, str], aws_url: str, window: tuple[str, str]) -> dict[tuple[str, ...], list[Any]]:
    """Items as moto answers the two reports' Queries (their projections), from every partition of the window."""
    client = record_store(env, aws_url).dynamodb
    keys = _model_day_keys(window, int(env["CANDOR_INDEX_SHARDS"]))
    pages: dict[tuple[str, ...], list[Any]] = {}
    for projection in (("outcome", "segments", "erasure_status"), ("outcome", "attributions", "notice_id")):
        names = {f"#p{i}": name for i, name in enumerate(projection)}
        items: list[Any] = []
        for key in keys:
            items += client.query(
                TableName=env["CANDOR_RECORDS_TABLE"],
                IndexName="by_model_day",
                KeyConditionExpression="#k = :k",
                ExpressionAttributeNames={"#k": "model_day"} | names,
                ExpressionAttributeValues={":k": {"S": key}},
                ProjectionExpression=", ".join(names),
                Limit=1000,
            )["Items"]
        pages[tuple(sorted(projection))] = items
    return pages


def measure(audit: AuditFunction, report: str, runs: int) -> dict[str, Any]:
    """Wall time and time in Query over `runs` calls, then one call under tracemalloc for the peak."""
    seconds: list[float] = []
    query_seconds: list[float] = []
    body: dict[str, Any] = {}
    for _ in range(runs):
        before, calls_before = audit.clock.seconds, audit.clock.calls
        started = time.perf_counter()
        body = audit.call(report)
        seconds.append(time.perf_counter() - started)
        query_seconds.append(audit.clock.seconds - before)
        queries = audit.clock.calls - calls_before
    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        baseline, _ = tracemalloc.get_traced_memory()
        audit.call(report)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    records = body["records"] if report == "fairness" else body["current"]["records"]
    return {
        "seconds": seconds,
        "query_seconds": query_seconds,
        "queries": queries,
        "peak_mb": (peak - baseline) / 2**20,
        "records": records,
    }


REPORTS = ("fairness", "attributions")


def _label(size: int) -> str:
    return f"{size // 1000}k" if size >= 1000 and size % 1000 == 0 else str(size)


def _rows(figure: Figure, prefix: str, result: dict[str, Any], query_note: str, runs_note: str) -> None:
    figure.rows += [
        Row(
            f"{prefix}: time",
            f"audit handler, event in to response out, {runs_note}",
            "s",
            Summary.of(result["seconds"]),
        ),
        Row(f"{prefix}: of which Query", query_note, "s", Summary.of(result["query_seconds"])),
        Row(
            f"{prefix}: peak memory",
            "tracemalloc peak over one handler call, above what was allocated before",
            "MB",
            value=result["peak_mb"],
        ),
    ]


def run(quick: bool) -> Figure:
    from infra.local.aws import provision

    moto_size, sizes, distinct, runs = (150, (1000, 5000), 30, 1) if quick else (2000, (10_000, 100_000), 400, 3)
    figure = Figure(
        5,
        "Reports at scale",
        f"fairness and attribution reports over {sizes[1]:,} records in at most {GOAL_SECONDS:g} s and "
        f"{GOAL_MB:g} MB, memory flat from {sizes[0]:,} to {sizes[1]:,}; from rollups, over 100,000 and "
        "10,000,000 records in at most 1 s",
    )
    end = datetime.now(UTC).replace(microsecond=0)
    start = end - timedelta(days=DAYS)
    window = (start.isoformat().replace("+00:00", "Z"), (end + timedelta(minutes=1)).isoformat().replace("+00:00", "Z"))
    replayed: dict[int, dict[str, dict[str, Any]]] = {}
    with moto_process() as aws_url, ThreadPoolExecutor(PUT_THREADS) as pool:
        # The pass over the index that rollups replace for whole hours (their rows: rollups_scale.py).
        env = {k: v for k, v in provision(aws_url).items() if k != "CANDOR_ROLLUPS_TABLE"}
        env |= {"POWERTOOLS_TRACE_DISABLED": "true", "POWERTOOLS_METRICS_NAMESPACE": "Candor"}
        keys = _model_day_keys(window, int(env["CANDOR_INDEX_SHARDS"]))
        decided_started = time.perf_counter()
        templates = decided_records(distinct, bench_environment())
        decided_s = time.perf_counter() - decided_started
        population = Population(record_store(env, aws_url), templates, start, end)
        population.grow_to(moto_size, pool)
        audit = AuditFunction(env, window)
        try:
            on_moto = {report: measure(audit, report, 1) for report in REPORTS}
            replay = Replay(env["CANDOR_RECORDS_TABLE"], recorded_pages(env, aws_url, window), page_size=1000)
            replay.attach(audit.client)
            for size in sizes:
                replay.serve(size, keys)
                replayed[size] = {report: measure(audit, report, runs) for report in REPORTS}
        finally:
            forget_everything()
    figure.details["generation"] = {
        "distinct_decisions": distinct,
        "decide_seconds": decided_s,
        "put_seconds": population.seconds,
        "records": population.count,
        "puts_per_second": population.count / population.seconds,
        "put_threads": PUT_THREADS,
        "days": DAYS,
    }
    for report, result in on_moto.items():
        _check(report, result, moto_size)
        _rows(
            figure,
            f"{report} report, {_label(moto_size)} records in moto",
            result,
            "inside the DynamoDB client's Query calls: HTTP, moto's Query, parsing",
            f"{result['queries']} Query calls over {len(keys)} partitions (days x shards)",
        )
    met = True
    for size, reports in replayed.items():
        for report, result in reports.items():
            _check(report, result, size)
            _rows(
                figure,
                f"{report} report, {_label(size)} records (Query pages replayed)",
                result,
                "inside the DynamoDB client's Query calls: request, botocore parsing of the replayed page",
                f"{result['queries']} Query calls",
            )
            if size == sizes[1]:
                met = met and statistics.median(result["seconds"]) <= GOAL_SECONDS and result["peak_mb"] <= GOAL_MB
    for report in REPORTS:
        small, large = replayed[sizes[0]][report], replayed[sizes[1]][report]
        growth = large["peak_mb"] / small["peak_mb"]
        figure.rows.append(
            Row(
                f"{report} report: memory growth",
                f"peak at {sizes[1]:,} / peak at {sizes[0]:,} records ({sizes[1] // sizes[0]}x the records)",
                "x",
                value=growth,
            )
        )
        met = met and growth <= 1.5
    figure.rows.append(
        Row(
            "record generation into moto",
            f"{distinct} requests through decide(), {moto_size:,} copies re-sealed and put through AwsRecordStore "
            f"({PUT_THREADS} threads)",
            "records/s",
            value=population.count / population.seconds,
        )
    )
    # Side by side: the same reports from rollups (infra/bench/rollups_scale.py), at 100k and 10M records.
    from infra.bench import rollups_scale

    met = rollups_scale.add_rows(figure, quick) and met
    figure.goal_met = met
    figure.notes.append(
        f"moto stores about {population.count / population.seconds:.0f} records/s and its Query projects every item "
        f"in Python, so {sizes[1]:,} records cannot be generated or read back in bench time: the goal is judged on "
        "the audit handler with Query pages (recorded from moto) replayed at the HTTP layer; a deployed report "
        f"adds one DynamoDB round trip per page of 1000 items ({sizes[1] // 1000} sequential pages at "
        f"{_label(sizes[1])})."
    )
    return figure


def _check(report: str, result: dict[str, Any], size: int) -> None:
    if result["records"] != size:
        raise RuntimeError(f"the {report} report counted {result['records']} records, {size} were stored or served")


def _model_day_keys(window: tuple[str, str], shards: int) -> list[str]:
    """The model_day partition keys the reports read: every shard of every day of the window."""
    from functions.domain.index_shards import every_shard

    return [key for day in _days_newest_first(window) for key in every_shard(f"{MODEL}#{day.isoformat()}", shards)]


def _days_newest_first(window: tuple[str, str]) -> list[Any]:
    """The window's day partitions, in the order the audit routes query them."""
    from functions.domain.audit import Window

    return Window(datetime.fromisoformat(window[0]), datetime.fromisoformat(window[1])).days_newest_first()
