"""The bench's AWS latency model: its distributions, the call timeline's round trips, and the hook."""

from __future__ import annotations

import random
import statistics

import pytest

from infra.bench.aws_latency import DEFAULT, LATENCIES, SOURCES, Latency, latency_of
from infra.bench.latency import DESIGNS, simulate
from infra.bench.latency_model import (
    Call,
    deployed_time,
    drawn_critical_path,
    emulator_time,
    rounds,
    union_length,
)


def call(name: str, start: float, sent: float, answered: float, drawn: float = 0.0) -> Call:
    service, operation = name.split(".")
    return Call(service, operation, start, sent, drawn or sent - start, answered)


def test_a_lognormal_drawn_many_times_has_the_median_and_p99_it_was_given():
    latency = Latency(30.0, 150.0, ("s3-whitepaper",))
    rng = random.Random(7)
    many = sorted(latency.draw(rng) * 1000 for _ in range(40000))
    assert statistics.median(many) == pytest.approx(30.0, rel=0.05)
    assert many[int(0.99 * len(many))] == pytest.approx(150.0, rel=0.1)


def test_every_latency_names_its_sources_and_what_is_assumed():
    for latency in [*LATENCIES.values(), DEFAULT]:
        assert latency.sources and all(source in SOURCES for source in latency.sources)
        assert 0 < latency.p50_ms < latency.p99_ms
        assert latency.assumed  # every p99 here is at least partly an assumption: say which


def test_unlisted_operations_fall_back_to_their_service_then_to_the_default():
    assert latency_of("s3", "HeadObject") is LATENCIES[("s3", "*")]
    assert latency_of("kms", "Decrypt") is DEFAULT
    assert latency_of("dynamodb", "PutItem") is LATENCIES[("dynamodb", "PutItem")]


def test_overlapping_calls_are_one_round_trip_and_the_rest_follow_in_order():
    timeline = [
        call("dynamodb.PutItem", 0.0, 5.0, 6.0),
        call("s3.PutObject", 10.0, 40.0, 42.0),
        call("s3.PutObject", 10.5, 25.0, 27.0, drawn=14.0),  # in flight with the first; slept 0.5 too long
        call("dynamodb.TransactWriteItems", 50.0, 60.0, 61.0),
    ]
    groups = rounds(timeline)
    assert [[c.name for c in group] for group in groups] == [
        ["dynamodb.PutItem"],
        ["s3.PutObject", "s3.PutObject"],
        ["dynamodb.TransactWriteItems"],
    ]
    assert drawn_critical_path(timeline) == pytest.approx(5.0 + 30.0 + 10.0)  # the parallel writes count once
    assert emulator_time(timeline) == pytest.approx(1.0 + 2.0 + 2.0 + 1.0)
    # 70 s of wall time, of which the three rounds spanned 6 + 32 + 11: replaced by 5 + 30 + 10
    assert deployed_time(70.0, timeline) == pytest.approx(70.0 - 49.0 + 45.0)


def test_calls_one_after_the_other_are_as_many_round_trips():
    timeline = [call("s3.PutObject", 0.0, 1.0, 2.0), call("s3.PutObject", 2.5, 3.0, 4.0)]
    assert len(rounds(timeline)) == 2


def test_union_length_counts_overlaps_once():
    assert union_length([(0.0, 2.0), (1.0, 3.0), (5.0, 6.0), (5.5, 5.7)]) == pytest.approx(4.0)
    assert union_length([]) == 0.0


def test_the_simulated_designs_get_faster_with_fewer_sequential_rounds():
    before, parallel, built, stream_copy, optimistic = (
        statistics.median(simulate(design, 4000, 3)) for design in DESIGNS.values()
    )
    # Objects in parallel, with or without the transaction, are close: a transaction is assumed
    # to take about as long as a PutItem and an UpdateItem one after the other.
    assert before > parallel and before > built
    assert built > stream_copy > optimistic
