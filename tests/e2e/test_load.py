"""Load: many concurrent decisions over HTTP; every success has exactly one verifiable record."""

import os
from concurrent.futures import ThreadPoolExecutor

import pytest

from functions.domain.seal import verify
from infra.training.synthetic import refund_requests, ticket_messages
from tests.support import record_store

pytestmark = pytest.mark.e2e

N = int(os.environ.get("LOAD_DECISIONS", "500"))
THREADS = 8


def test_concurrent_decisions_lose_nothing(api):
    refunds = refund_requests(N // 2, seed=77)
    messages = ticket_messages(N - N // 2, seed=77)
    jobs = [("refund-decision", {"request_id": f"load-r-{n}", "subject_id": f"load-{n % 50}", "inputs": r["inputs"],
             "segments": r["segments"]}) for n, r in enumerate(refunds)]  # fmt: skip
    jobs += [("ticket-router", {"request_id": f"load-t-{n}", "locale": "es" if lang == "es" else "en",
              "inputs": {"text": text}}) for n, (text, _, lang) in enumerate(messages)]  # fmt: skip
    items_before, _ = api.stored()

    with ThreadPoolExecutor(THREADS) as pool:
        responses = list(pool.map(lambda job: api.decide(*job), jobs))

    answers = [r.json() for r in responses if r.status_code == 200]
    assert len(answers) == N, {r.status_code for r in responses}
    assert all(a["disclosure"]["ai_system"] is True and a["disclosure"]["notice"] for a in answers)
    assert len({a["decision_id"] for a in answers}) == N
    assert api.stored()[0] == items_before + N

    env = api.stack.env
    store = record_store(env, api.aws("dynamodb"), api.aws("s3"))
    for answer in answers:
        stored = store.get(answer["decision_id"])
        assert stored is not None
        assert verify(stored.record)
        assert stored.record.envelope.disclosure.notice_id == answer["disclosure"]["notice_id"]
