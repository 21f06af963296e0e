"""Figure 9: the latency a chat turn gets from Candor under a model of AWS's latency.

The decisions handler itself (`functions.handlers.decisions.lambda_handler`), its stores on
moto's in-process `mock_aws` with the template's resources (`infra.local.aws.provision`), and
every boto3 client slowed by `infra.bench.latency_model.injected_latency`: per call, a latency
drawn from `infra/bench/aws_latency.py` (seeded). Per decision the call timeline gives the
sequential round trips; each round trip's time here (moto's work, the sleeps' overrun) is
replaced by the latency drawn for it: what is left is Candor's CPU (botocore's included) plus
the modelled AWS time, i.e. what a deployed turn would take.

Measured side by side, in turns: the handler; the bare model call (`runtime.predict` +
`runtime.explain`, as figure 2); one DynamoDB conditional `PutItem` through the same hook,
the physical floor of "durably stored before the answer". The chat turn's added latency is
handler minus bare call, per round. Besides, the design options are simulated from the same
parameters (AWS time only): the write sequences of each earlier design, the built one (no lock:
one transaction, the archive copied from the pending table's stream), and the single-put floor
(docs/records.md).
"""

from __future__ import annotations

import json
import math
import random
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from infra.bench.aws_latency import SOURCES, latency_of
from infra.bench.latency_model import (
    Call,
    Timeline,
    deployed_time,
    drawn_critical_path,
    emulator_time,
    injected_latency,
    rounds,
)
from infra.bench.middleware import ENV, MODELS, environment, event_stream, handler_call
from infra.bench.stats import Figure, Row, Summary

SEED = 13
GOAL_P50, GOAL_P99, GOAL_ROUND_TRIPS = 1.5, 2.0, 2

# Write sequences on the decision path, as rounds of calls in flight together (simulated).
DESIGNS: dict[str, list[list[tuple[str, str]]]] = {
    "before: lock, archive, personal, index, completion (5 sequential)": [
        [("dynamodb", "PutItem")],
        [("s3", "PutObject")],
        [("s3", "PutObject")],
        [("dynamodb", "PutItem")],
        [("dynamodb", "UpdateItem")],
    ],
    "objects in parallel only (4)": [
        [("dynamodb", "PutItem")],
        [("s3", "PutObject"), ("s3", "PutObject")],
        [("dynamodb", "PutItem")],
        [("dynamodb", "UpdateItem")],
    ],
    "before the copier: lock, objects in parallel, index + completion in one transaction (3)": [
        [("dynamodb", "PutItem")],
        [("s3", "PutObject"), ("s3", "PutObject")],
        [("dynamodb", "TransactWriteItems")],
    ],
    "a lock, then pending record + index + completion in one transaction; archive copied from the stream (2)": [
        [("dynamodb", "PutItem")],
        [("dynamodb", "TransactWriteItems")],
    ],
    "built: no lock; remembered answer + pending record + index in one transaction (optimistic idempotency) (1)": [
        [("dynamodb", "TransactWriteItems")]
    ],
}


@contextmanager
def latency_handler() -> Iterator[tuple[Callable[..., Any], Any, Timeline, Any]]:
    """The real decisions handler on moto with AWS latency injected: (handler, models, timeline, DynamoDB client)."""
    import boto3
    from moto import mock_aws

    from functions.coldstart import forget_everything
    from infra.local.aws import DUMMY_CREDENTIALS, REGION, provision

    base = {**DUMMY_CREDENTIALS, "AWS_DEFAULT_REGION": REGION, "AWS_REGION": REGION}
    powertools = {name: value for name, value in ENV.items() if name != "CANDOR_SUBJECT_KEY"}  # the secret, as deployed
    with environment(base), mock_aws():
        env = provision(None, public_base_url="https://candor.bench")
        env.pop("AWS_ENDPOINT_URL", None)
        with environment({**env, **powertools}), injected_latency(SEED) as timeline:
            forget_everything()  # every client, the idempotency store's too, is built after the hook
            from functions.api.decision_dependencies import decision_services
            from functions.handlers import decisions

            try:
                yield decisions.lambda_handler, decision_services().models, timeline, boto3.client("dynamodb")
            finally:
                forget_everything()


def conditional_put(dynamodb: Any, table: str) -> Callable[[], None]:
    count = 0

    def put() -> None:
        nonlocal count
        count += 1
        dynamodb.put_item(
            TableName=table,
            Item={"id": {"S": f"bench-put-{count}"}, "status": {"S": "COMPLETED"}},
            ConditionExpression="attribute_not_exists(id)",
        )

    return put


def timed_calls(fn: Callable[[], object], timeline: Timeline) -> tuple[float, list[Call]]:
    """(what the call would take deployed, in seconds; its AWS calls)."""
    timeline.clear()
    start = time.perf_counter()
    fn()
    wall = time.perf_counter() - start
    calls = timeline.snapshot()
    return deployed_time(wall, calls), calls


def measure(model_id: str, runs: int) -> dict[str, Any]:
    with latency_handler() as (handler, models, timeline, dynamodb):
        import os

        events = event_stream(MODELS[model_id], f"latency-{model_id}")
        runtime = models.runtime(model_id)
        inputs = json.loads(events()[0]["body"])["inputs"]
        decide = handler_call(handler, events)
        put = conditional_put(dynamodb, os.environ["CANDOR_IDEMPOTENCY_TABLE"])
        for _ in range(3):  # cold start: model load, clients, secrets
            decide(), put()
        out: dict[str, list[Any]] = {"turn": [], "bare": [], "put": [], "round_trips": [], "aws": [], "moto": []}
        sequence: list[list[str]] = []
        for _ in range(runs):
            turn, calls = timed_calls(decide, timeline)
            start = time.perf_counter()
            runtime.explain(inputs, runtime.predict(inputs), math.inf)
            bare = time.perf_counter() - start
            put_time, _ = timed_calls(put, timeline)
            groups = rounds(calls)
            sequence = [[c.name for c in group] for group in groups]
            out["turn"].append(turn * 1000)
            out["bare"].append(bare * 1000)
            out["put"].append(put_time * 1000)
            out["round_trips"].append(float(len(groups)))
            out["aws"].append(drawn_critical_path(calls) * 1000)
            out["moto"].append(emulator_time(calls) * 1000)
        return out | {"sequence": sequence}


def simulate(design: Sequence[Sequence[tuple[str, str]]], samples: int, seed: int) -> list[float]:
    """AWS time of a write sequence in ms: per round, the slowest of its calls; rounds add up."""
    rng = random.Random(seed)
    return [sum(max(latency_of(*call).draw(rng) for call in group) for group in design) * 1000 for _ in range(samples)]


def _p99(summary: Summary) -> float:
    return summary.p99 if summary.p99 is not None else summary.p90


def model_rows(model_id: str, data: dict[str, Any], added: Summary, put: Summary, trips: Summary) -> list[Row]:
    tail = "p99" if added.p99 is not None else "p90"
    return [
        Row(f"{model_id}: chat turn added", "handler minus bare call, same round, AWS time as drawn", "ms", added),
        Row(f"{model_id}: bare model call", "runtime.predict + runtime.explain", "ms", Summary.of(data["bare"])),
        Row(f"{model_id}: one conditional PutItem", "DynamoDB, same hook, same rounds", "ms", put),
        Row(f"{model_id}: added / put, p50", "p50 added / p50 put", "x", value=added.median / put.median),
        Row(f"{model_id}: added / put, {tail}", f"{tail} added / {tail} put", "x", value=_p99(added) / _p99(put)),
        Row(f"{model_id}: sequential round trips", "groups of overlapping AWS calls per decision", "calls", trips),
        Row(f"{model_id}: modelled AWS time", "drawn latency on the critical path", "ms", Summary.of(data["aws"])),
        Row(f"{model_id}: moto's own time (left out)", "emulator time in the calls", "ms", Summary.of(data["moto"])),
    ]


def run(quick: bool) -> Figure:
    figure = Figure(
        9,
        "Chat-turn latency under an AWS latency model",
        f"added latency at most {GOAL_P50}x one DynamoDB conditional put at p50 and {GOAL_P99}x its p99; "
        f"at most {GOAL_ROUND_TRIPS} sequential AWS round trips per decision",
    )
    runs = 12 if quick else 1000  # p99 from the 10 slowest turns, not 3
    met = True
    for model_id in MODELS:
        data = measure(model_id, runs)
        added = Summary.of([t - b for t, b in zip(data["turn"], data["bare"], strict=True)])
        put, trips = Summary.of(data["put"]), Summary.of(data["round_trips"])
        figure.rows += model_rows(model_id, data, added, put, trips)
        figure.details[f"{model_id} call sequence"] = " | ".join(" + ".join(group) for group in data["sequence"])
        met = met and added.median <= GOAL_P50 * put.median and _p99(added) <= GOAL_P99 * _p99(put)
        met = met and trips.p90 <= GOAL_ROUND_TRIPS
    samples = 2000 if quick else 20000
    floor = Summary.of(simulate([[("dynamodb", "PutItem")]], samples, SEED))
    for number, (name, design) in enumerate(DESIGNS.items()):
        simulated = Summary.of(simulate(design, samples, SEED + 1 + number))
        figure.rows.append(
            Row(
                f"simulated: {name}",
                f"AWS time only; p50 {simulated.median / floor.median:.1f}x, p99 "
                f"{_p99(simulated) / _p99(floor):.1f}x one conditional put",
                "ms",
                simulated,
            )
        )
    figure.rows.append(Row("simulated: one conditional PutItem", "the floor", "ms", floor))
    figure.details["sources"] = SOURCES
    figure.notes.append("latency parameters and their sources: infra/bench/aws_latency.py (p99s mostly assumptions)")
    figure.goal_met = met
    return figure
