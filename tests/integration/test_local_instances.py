"""The local stack's instances: worker processes per function, as Lambda scales out (`infra.local.instances`)."""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
import requests

from infra.local.stack import LocalStack

PROBE = "tests.dummy_handlers.instance_probe"


@pytest.fixture(scope="module")
def stack() -> Iterator[LocalStack]:
    options = {"instances": 3, "preload": False, "event_sources": False, "timeout_scale": 1}
    with LocalStack(handlers={"CatalogFunction": PROBE}, **options) as running:  # type: ignore[arg-type]
        yield running


def probe(stack: LocalStack, sleep: float = 0) -> requests.Response:
    return requests.get(f"{stack.api_url}/v1/health", params={"sleep": sleep}, timeout=120)


def test_overlapping_requests_scale_out_to_worker_processes_up_to_the_maximum(stack: LocalStack) -> None:
    barrier = threading.Barrier(6)

    def call(_: int) -> dict[str, Any]:
        barrier.wait()
        response = probe(stack, sleep=1.5)
        assert response.status_code == 200, response.text
        return {**response.json(), "instance": response.headers["X-Local-Instance"]}

    with ThreadPoolExecutor(6) as pool:
        answers = list(pool.map(call, range(6)))

    instances = {a["instance"] for a in answers}
    assert 1 < len(instances) <= 3
    assert len({a["pid"] for a in answers}) == len(instances)  # one process per instance
    assert stack.gateway is not None and stack.gateway.instances["CatalogFunction"].instances <= 3
    for answer in answers:  # what the gateway's process gives its handlers, every worker gives too
        assert answer["running"] == "CatalogFunction"
        assert answer["s3_semantics"] is True
        assert answer["table"] == "candor-records"
        assert 0 < answer["remaining_ms"] <= 5000  # the template's Timeout, counted per invocation
    log = (stack.logs_dir / "CatalogFunction.log").read_text()
    for pid in {a["pid"] for a in answers} - {os.getpid()}:
        assert f'"pid": {pid}' in log  # each worker's stdout lands in the function's log


def test_each_worker_keeps_its_own_module_state(stack: LocalStack) -> None:
    names = stack.scale(3, ["CatalogFunction"], warm=True)
    assert len(set(names)) == 3
    barrier = threading.Barrier(3)

    def call(_: int) -> requests.Response:
        barrier.wait()
        return probe(stack, sleep=1)

    with ThreadPoolExecutor(3) as pool:
        responses = list(pool.map(call, range(3)))
    assert {r.headers["X-Local-Instance"] for r in responses} == set(names)
    by_pid: dict[int, list[int]] = {}
    for body in (r.json() for r in responses):
        by_pid.setdefault(body["pid"], []).append(body["invocations"])
    assert len(by_pid) == 3  # three processes, each counting its own invocations


def test_a_worker_past_the_functions_timeout_is_stopped_and_replaced(stack: LocalStack) -> None:
    stack.scale(3, ["CatalogFunction"], warm=True)
    gate = threading.Barrier(2)

    def slow() -> requests.Response:
        gate.wait()
        return probe(stack, sleep=8)  # CatalogFunction's Timeout is 5 s

    with ThreadPoolExecutor(2) as pool:  # the first occupies the in-process instance, the second a worker
        responses = list(pool.map(lambda _: slow(), range(2)))
    timed_out = [r for r in responses if r.status_code == 502]
    assert len(timed_out) == 1, [(r.status_code, r.text) for r in responses]
    assert timed_out[0].json()["error"]["code"] == "internal_error"
    assert "/pid-" in timed_out[0].headers["X-Local-Instance"]
    assert probe(stack).status_code == 200  # a new instance takes its place when needed


def test_scaling_back_stops_idle_workers(stack: LocalStack) -> None:
    stack.scale(3, ["CatalogFunction"], warm=True)
    stack.scale(1, ["CatalogFunction"])
    assert stack.gateway is not None and stack.gateway.instances["CatalogFunction"].instances == 1
    assert json.loads(probe(stack).text)["log_stream"].startswith("CatalogFunction/0/")
