"""A function's pool of instances (`infra.local.instances.FunctionInstances`), with stand-in workers: no processes."""

from __future__ import annotations

import threading
from typing import Any, ClassVar

import pytest

from infra.local import instances as module
from infra.local.instances import FunctionInstances, InvocationFailed, WorkerSettings


class FakeWorker:
    started: ClassVar[list[FakeWorker]] = []

    def __init__(self, spec: Any, number: int) -> None:
        self.name, self.dead = f"{spec.function}/{number}", False

    def start(self) -> FakeWorker:
        FakeWorker.started.append(self)
        return self

    def alive(self) -> bool:
        return not self.dead

    def stop(self) -> None:
        self.dead = True


class Local:
    name = "F/0"

    def alive(self) -> bool:
        return True


@pytest.fixture
def pool(monkeypatch: pytest.MonkeyPatch) -> FunctionInstances:
    FakeWorker.started = []
    monkeypatch.setattr(module, "WorkerInstance", FakeWorker)
    spec = WorkerSettings(environ={}, template_path="template.yaml").spec("F", "h.handler")
    return FunctionInstances("F", 3, Local(), spec)  # type: ignore[arg-type]


def test_the_in_process_instance_serves_first_and_workers_start_only_when_it_is_busy(pool: FunctionInstances) -> None:
    first = pool.acquire()
    assert first.name == "F/0" and not FakeWorker.started
    pool.release(first)
    assert pool.acquire().name == "F/0"  # sequential requests never start a worker
    second, third = pool.acquire(), pool.acquire()
    assert [second.name, third.name] == ["F/1", "F/2"] and pool.instances == 3


def test_at_the_maximum_a_request_waits_for_the_first_instance_to_free_up(pool: FunctionInstances) -> None:
    held = [pool.acquire() for _ in range(3)]
    got: list[str] = []
    waiting = threading.Thread(target=lambda: got.append(pool.acquire().name))
    waiting.start()
    waiting.join(timeout=0.2)
    assert waiting.is_alive() and len(FakeWorker.started) == 2  # no fourth instance
    pool.release(held[1])
    waiting.join(timeout=5)
    assert got == ["F/1"]


def test_an_instance_that_died_leaves_the_pool_and_a_new_one_takes_its_place(pool: FunctionInstances) -> None:
    pool.acquire()
    worker = pool.acquire()
    worker.stop()  # timed out: killed
    pool.release(worker)
    assert pool.instances == 1
    assert pool.acquire().name == "F/2"  # numbers are never reused


def test_a_failed_cold_start_frees_its_slot(pool: FunctionInstances, monkeypatch: pytest.MonkeyPatch) -> None:
    pool.acquire()

    def broken(self: FakeWorker) -> FakeWorker:
        raise InvocationFailed("ImportError: no module")

    monkeypatch.setattr(FakeWorker, "start", broken)
    with pytest.raises(InvocationFailed):
        pool.acquire()
    assert pool.instances == 1


def test_warm_starts_instances_up_to_the_maximum_and_leaves_them_free(pool: FunctionInstances) -> None:
    assert sorted(pool.warm(5)) == ["F/0", "F/1", "F/2"]
    assert pool.instances == 3
    assert {pool.acquire().name for _ in range(3)} == {"F/0", "F/1", "F/2"}  # no new start


def test_more_than_one_instance_needs_a_worker_spec() -> None:
    with pytest.raises(ValueError, match="worker spec"):
        FunctionInstances("F", 2, Local(), None)  # type: ignore[arg-type]
