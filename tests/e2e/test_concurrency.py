"""What only concurrency shows: simultaneous requests on one record, served by several instances at once.

In AWS, two retries of one request_id reach two Lambda instances at the same moment. Here the
functions these tests race run up to INSTANCES instances each, started before the race (as
provisioned concurrency would), so the requests really overlap in separate processes; the
`X-Local-Instance` header of each response says which one answered. Each test fires its
requests from threads released together by a barrier, then checks what DynamoDB and S3 hold
with boto3 against the local moto server.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
import requests
from boto3.dynamodb.types import TypeDeserializer

from functions.stores.idempotency_keys import decision_idempotency_key
from functions.stores.record_store import personal_key
from tests.e2e.bodies import body
from tests.e2e.customer import decided

pytestmark = pytest.mark.e2e

INSTANCES = 4
RACED = ("DecisionsFunction", "CustomerFunction", "PrivacyFunction")


@pytest.fixture(scope="module")
def racing(api: Any) -> Iterator[Any]:
    """The shared stack with its raced functions at INSTANCES instances, each warmed by a first request.

    A fresh instance builds its clients and loads its models on its first event: primed, every
    instance reaches the contested writes as fast as the others, so the races are real races.
    """
    names = api.stack.scale(INSTANCES, RACED, warm=True)
    assert len(set(names)) == INSTANCES * len(RACED)
    decision_id, token, _ = decided(api, "demo-chat-1")
    model_id, request = body("demo-chat-1")
    query = {"token": token}
    first_events = {
        "DecisionsFunction": lambda n: send(
            api, "POST", f"/v1/decisions/{model_id}", "chatbot", json={**request, "request_id": f"{uuid.uuid4()}"}
        ),
        "CustomerFunction": lambda n: send(api, "GET", f"/v1/explanations/{decision_id}", None, params=query),
        "PrivacyFunction": lambda n: send(api, "DELETE", f"/v1/subjects/nobody-{uuid.uuid4()}", "privacy"),
    }
    for function, call in first_events.items():
        served: set[str] = set()
        for _ in range(10):
            served |= instances(together(2 * INSTANCES, call))
            if len(served) == INSTANCES:
                break
        assert len(served) == INSTANCES, f"{function}: only {sorted(served)} took a first event"
    yield api
    api.stack.scale(1, RACED)


def together(count: int, call: Callable[[int], requests.Response]) -> list[requests.Response]:
    """`call(n)` for n in range(count), from `count` threads released at the same moment."""
    barrier = threading.Barrier(count)

    def run(n: int) -> requests.Response:
        barrier.wait()
        return call(n)

    with ThreadPoolExecutor(count) as pool:
        return list(pool.map(run, range(count)))


def send(api: Any, method: str, path: str, role: str | None, **kwargs: Any) -> requests.Response:
    """One request on its own connection (a requests.Session is not for sharing between threads)."""
    headers = {"Authorization": f"Bearer {api.stack.tokens[role]}"} if role else {}
    return requests.request(method, f"{api.stack.api_url}{path}", headers=headers, timeout=120, **kwargs)


def instances(responses: list[requests.Response]) -> set[str]:
    return {r.headers["X-Local-Instance"] for r in responses}


def item(api: Any, table: str, key: str, value: str) -> dict[str, Any] | None:
    found = api.aws("dynamodb").get_item(TableName=api.stack.env[table], Key={key: {"S": value}}, ConsistentRead=True)
    return {k: TypeDeserializer().deserialize(v) for k, v in found["Item"].items()} if "Item" in found else None


def keys(api: Any, bucket: str, prefix: str) -> list[str]:
    api.stack.drain()  # every record's objects copied from the pending table first
    listing = api.aws("s3").list_objects_v2(Bucket=api.stack.env[bucket], Prefix=prefix)
    return [o["Key"] for o in listing.get("Contents", [])]


def test_twelve_simultaneous_retries_store_one_record_and_answer_one_decision(racing: Any) -> None:
    api = racing
    model_id, request = body("demo-refund-1", subject_id=f"race-{uuid.uuid4()}")
    path = f"/v1/decisions/{model_id}"
    archived, personal = (
        len(keys(api, "CANDOR_ARCHIVE_BUCKET", "records/")),
        len(keys(api, "CANDOR_PERSONAL_BUCKET", "")),
    )

    responses = together(12, lambda _: send(api, "POST", path, "chatbot", json=request))

    assert {r.status_code for r in responses} <= {200, 409}, [(r.status_code, r.text) for r in responses]
    answered = [r for r in responses if r.status_code == 200]
    assert answered, "no retry got the decision"
    assert len({r.content for r in answered}) == 1  # byte for byte the first answer
    for refused in (r for r in responses if r.status_code == 409):
        assert refused.json()["error"]["code"] == "request_in_progress"
    assert len(instances(responses)) > 1  # they did run in separate processes at once

    decision_id = answered[0].json()["decision_id"]
    records = api.aws("dynamodb").scan(
        TableName=api.stack.env["CANDOR_RECORDS_TABLE"],
        FilterExpression="request_id = :r",
        ExpressionAttributeValues={":r": {"S": request["request_id"]}},
        ConsistentRead=True,
    )["Items"]
    assert [r["decision_id"]["S"] for r in records] == [decision_id]
    assert len(keys(api, "CANDOR_ARCHIVE_BUCKET", "records/")) == archived + 1  # no orphan halves either
    assert len(keys(api, "CANDOR_PERSONAL_BUCKET", "")) == personal + 1
    remembered = item(api, "CANDOR_IDEMPOTENCY_TABLE", "id", decision_idempotency_key(model_id, request["request_id"]))
    assert remembered is not None and remembered["status"] == "COMPLETED"

    later = send(api, "POST", path, "chatbot", json=request)  # once it is done, every retry gets that answer
    assert later.status_code == 200 and later.content == answered[0].content


def test_simultaneous_appeals_record_one_and_answer_it_to_all(racing: Any) -> None:
    api = racing
    decision_id, token, _ = decided(api, "demo-refund-1")
    path = f"/v1/explanations/{decision_id}/appeal"

    responses = together(
        10, lambda n: send(api, "POST", path, None, params={"token": token}, json={"reason": f"reason number {n}"})
    )

    assert sorted(r.status_code for r in responses) == [200] * 9 + [201], [r.text for r in responses]
    created = next(r.json() for r in responses if r.status_code == 201)
    assert all(r.json() == created for r in responses)  # the others get the one recorded, as documented
    assert len(instances(responses)) > 1
    stored = item(api, "CANDOR_APPEALS_TABLE", "decision_id", decision_id)
    assert stored is not None and stored["appeal_id"] == created["appeal_id"]
    assert stored["reason"].startswith("reason number ")


@pytest.mark.parametrize("round_", range(3))  # the interleavings vary: a few rounds, each on its own subject
def test_simultaneous_erasures_erase_once_and_say_so_once(racing: Any, round_: int) -> None:
    api = racing
    subject = f"erase-race-{uuid.uuid4()}"
    model_id, request = body("demo-chat-1", subject_id=subject)  # ticket-router: standard retention, erasable
    decision = api.decide(model_id, request)
    assert decision.status_code == 200, decision.text
    decision_id = decision.json()["decision_id"]
    receipts_before = set(keys(api, "CANDOR_ARCHIVE_BUCKET", "erasures/"))

    responses = together(8, lambda _: send(api, "DELETE", f"/v1/subjects/{subject}", "privacy"))

    assert [r.status_code for r in responses] == [200] * 8, [r.text for r in responses]
    assert len(instances(responses)) > 1
    receipts = [r.json() for r in responses]
    assert all([record["decision_id"] for record in r["records"]] == [decision_id] for r in receipts)
    erasing = [r for r in receipts if r["erased"] == 1]
    assert len(erasing) == 1, [r["records"] for r in receipts]  # one erasure; the others found it done
    assert all(r["already_done"] == 1 for r in receipts if r is not erasing[0])

    stored = item(api, "CANDOR_RECORDS_TABLE", "decision_id", decision_id)
    assert stored is not None
    assert stored["erasure_status"] == "erased"
    assert stored["erasure_at"] == erasing[0]["requested_at"]  # the state is the one receipt's erasure
    assert "segments" not in stored
    versions = api.aws("s3").list_object_versions(
        Bucket=api.stack.env["CANDOR_PERSONAL_BUCKET"], Prefix=personal_key(decision_id)
    )
    assert not versions.get("Versions") and not versions.get("DeleteMarkers")
    assert (
        item(api, "CANDOR_IDEMPOTENCY_TABLE", "id", decision_idempotency_key(model_id, request["request_id"])) is None
    )
    written = set(keys(api, "CANDOR_ARCHIVE_BUCKET", "erasures/")) - receipts_before
    assert written == {f"erasures/{r['erasure_id']}.json" for r in receipts}  # each request keeps its receipt


def test_simultaneous_legal_hold_changes_leave_the_flag_and_the_object_lock_agreeing(racing: Any) -> None:
    api = racing
    decision_id, _, _ = decided(api, "demo-refund-1")
    api.stack.drain()  # Object Lock applies to the archive copy: a hold waits for it (docs/records.md)
    archive_key = item(api, "CANDOR_RECORDS_TABLE", "decision_id", decision_id)["archive_key"]  # type: ignore[index]
    s3, bucket = api.aws("s3"), api.stack.env["CANDOR_ARCHIVE_BUCKET"]
    path = f"/v1/explanations/{decision_id}/legal-hold"

    seen: set[str] = set()
    for round_ in range(10):  # the interleavings vary: several rounds, each checked
        wanted = [(n + round_) % 2 == 0 for n in range(8)]
        responses = together(8, lambda n: send(api, "PUT", path, "privacy", json={"on": wanted[n]}))  # noqa: B023
        assert [r.status_code for r in responses] == [200] * 8, [(r.status_code, r.text) for r in responses]
        seen |= instances(responses)
        flag = item(api, "CANDOR_RECORDS_TABLE", "decision_id", decision_id)["legal_hold"]  # type: ignore[index]
        lock = s3.get_object_legal_hold(Bucket=bucket, Key=archive_key)["LegalHold"]["Status"]
        assert flag == (lock == "ON"), f"round {round_}: the index says {flag}, Object Lock says {lock}"
    assert len(seen) > 1
    api.call("PUT", path, role="privacy", json={"on": False})
