"""AWS latency injected into every boto3 client, and the call timeline it leaves per decision.

`injected_latency(seed)` adds a botocore handler on `before-send` to every session created
inside it (botocore's `BUILTIN_HANDLERS`, the way moto installs its own responder; ours is
put first, so it runs before moto answers): it sleeps for a latency drawn from
`infra.bench.aws_latency` for that service and operation, then lets the request go on to the
emulator (moto). A `before-parse` handler notes when the emulator has answered. Each call
leaves a `Call` on the `Timeline`:

    start ........ sent ............ answered
    | modelled AWS | emulator's own  |
    | (the sleep)  | time (moto)     |

What a deployed turn would take is the wall time with each round trip's span replaced by
the latencies drawn for it (`deployed_time`): moto's own work and any overrun of the sleeps on
a busy machine are left out, Candor's CPU between the calls stays. The number of sequential
round trips is the number of groups of overlapping calls, in time order: calls in flight
together are one round trip.
"""

from __future__ import annotations

import contextlib
import random
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from infra.bench.aws_latency import latency_of


@dataclass
class Call:
    service: str
    operation: str
    start: float
    sent: float
    drawn: float = 0.0  # the latency drawn for it (the sleep may overrun it on a busy machine)
    answered: float | None = None

    @property
    def name(self) -> str:
        return f"{self.service}.{self.operation}"


@dataclass
class Timeline:
    """The calls made since the last `clear()`, from any thread."""

    calls: list[Call] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _current: dict[int, Call] = field(default_factory=dict)

    def clear(self) -> None:
        with self._lock:
            self.calls = []
            self._current = {}

    def begin(self, call: Call) -> None:
        with self._lock:
            self.calls.append(call)
            self._current[threading.get_ident()] = call

    def answered(self, at: float) -> None:
        with self._lock:
            call = self._current.pop(threading.get_ident(), None)
        if call is not None:
            call.answered = at

    def snapshot(self) -> list[Call]:
        with self._lock:
            return list(self.calls)


def union_length(intervals: Sequence[tuple[float, float]]) -> float:
    """Total time covered by the intervals (overlaps counted once)."""
    total, end = 0.0, float("-inf")
    for lo, hi in sorted(intervals):
        if hi <= end:
            continue
        total += hi - max(lo, end)
        end = hi
    return total


def rounds(calls: Sequence[Call]) -> list[list[Call]]:
    """The calls grouped into sequential round trips: a call that starts before the others end joins them."""
    groups: list[list[Call]] = []
    end = float("-inf")
    for call in sorted(calls, key=lambda c: c.start):
        finished = call.answered if call.answered is not None else call.sent
        if groups and call.start < end:
            groups[-1].append(call)
        else:
            groups.append([call])
        end = max(end, finished)
    return groups


def deployed_time(wall: float, calls: Sequence[Call]) -> float:
    """What a call sequence taking `wall` seconds here would take deployed.

    Each round trip's span (first start to last answer: the sleeps, their overruns on a busy
    machine, and moto's own work) is replaced by its drawn latencies: the latest of its calls'
    start plus drawn latency, from the round's first start. Candor's CPU between the rounds stays.
    """
    for group in rounds(calls):
        first = min(c.start for c in group)
        answered = max(c.answered if c.answered is not None else c.sent for c in group)
        wall += max(c.start + c.drawn for c in group) - first - (answered - first)
    return wall


def drawn_critical_path(calls: Sequence[Call]) -> float:
    """The drawn latencies on the critical path: per round trip, the slowest (from the round's first start)."""
    return sum(max(c.start + c.drawn for c in g) - min(c.start for c in g) for g in rounds(calls))


def emulator_time(calls: Sequence[Call]) -> float:
    """The emulator's own share of the wall time: not part of what AWS would take."""
    return union_length([(c.sent, c.answered) for c in calls if c.answered is not None])


class _Injector:
    def __init__(self, seed: int, timeline: Timeline) -> None:
        self._rng = random.Random(seed)
        self._lock = threading.Lock()
        self.timeline = timeline

    def before_send(self, event_name: str, **_: Any) -> None:
        _event, service, operation = event_name.split(".", 2)  # before-send.<service id>.<operation>
        start = time.perf_counter()
        with self._lock:  # seeded; parallel threads may take their draws in either order
            delay = latency_of(service, operation).draw(self._rng)
        time.sleep(delay)
        self.timeline.begin(Call(service, operation, start, time.perf_counter(), delay))

    def before_parse(self, **_: Any) -> None:
        self.timeline.answered(time.perf_counter())


@contextlib.contextmanager
def injected_latency(seed: int) -> Iterator[Timeline]:
    """AWS latency in every boto3 client created inside (build clients after entering); yields the timeline."""
    import boto3
    from botocore import handlers

    injector = _Injector(seed, Timeline())
    ours = [("before-send", injector.before_send), ("before-parse", injector.before_parse)]
    handlers.BUILTIN_HANDLERS[:0] = ours  # first: the sleep comes before moto's answer
    saved_session, boto3.DEFAULT_SESSION = boto3.DEFAULT_SESSION, None  # the default session is rebuilt with them
    try:
        yield injector.timeline
    finally:
        for spec in ours:
            handlers.BUILTIN_HANDLERS.remove(spec)
        boto3.DEFAULT_SESSION = saved_session
