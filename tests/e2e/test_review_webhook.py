"""The operator's webhook over the local stack: a resolved review is queued, posted signed, retried, dead-lettered.

The webhook is a local HTTP server in a thread; the review function and the webhook function are
the stack's (the webhook one fed by its SQS event source mapping, as in AWS). The test is the
receiver and checks the signature as docs/reviewers.md tells operators to.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from functions.stores import aws_clients
from tests.e2e.conftest import Client
from tests.e2e.customer import decided
from tests.e2e.test_storage_failure import failing
from tests.support import fresh_container

SECRET = "whsec-local-test-key-0123456789abcdef"


class Webhook(ThreadingHTTPServer):
    """Records each POST (headers, body) and answers `status`."""

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.status = 200
        self.received: list[tuple[dict[str, str], bytes]] = []

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/hooks/candor"


class _Handler(BaseHTTPRequestHandler):
    server: Webhook

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self.server.received.append(({k.lower(): v for k, v in self.headers.items()}, body))
        self.send_response(self.server.status)
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        pass


def waited(condition: Callable[[], Any], timeout_s: float = 60) -> Any:
    deadline = time.monotonic() + timeout_s
    while not (found := condition()) and time.monotonic() < deadline:
        time.sleep(0.2)
    return found


@pytest.fixture(scope="module")
def secret_arn(api: Client) -> str:
    """ReviewWebhookSecretArn: one secret, as one deployment names one."""
    return str(api.aws("secretsmanager").create_secret(Name="candor/review-webhook", SecretString=SECRET)["ARN"])


@pytest.fixture
def webhook(api: Client, secret_arn: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[Webhook]:
    """The stack as deployed with ReviewWebhookUrl and ReviewWebhookSecretArn set (locally: the same variables)."""
    server = Webhook()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    # The template's 180 s visibility timeout, shortened on the local queue so that retries come at once. Set
    # before anything is queued, and left so: a receive already waiting when it changes keeps the old timeout.
    api.aws("sqs").set_queue_attributes(
        QueueUrl=queue_url(api, "candor-reviewnotificationqueue"), Attributes={"VisibilityTimeout": "0"}
    )
    monkeypatch.setenv("CANDOR_REVIEW_NOTIFICATION_QUEUE_URL", queue_url(api, "candor-reviewnotificationqueue"))
    monkeypatch.setenv("CANDOR_REVIEW_WEBHOOK_URL", server.url)
    monkeypatch.setenv("CANDOR_REVIEW_WEBHOOK_SECRET_ARN", secret_arn)
    fresh_container()  # a new deployment: the functions read their settings again
    yield server
    server.shutdown()
    server.server_close()
    monkeypatch.undo()
    fresh_container()


def queue_url(api: Client, name: str) -> str:
    return str(api.aws("sqs").get_queue_url(QueueName=name)["QueueUrl"])


def resolved_case(api: Client, turn: str) -> dict[str, Any]:
    """A fresh decision, appealed, claimed and overturned by the reviewer over HTTP: the sealed review."""
    decision_id, token, _ = decided(api, turn)
    appealed = api.call(
        "POST", f"/v1/explanations/{decision_id}/appeal", role=None, params={"token": token}, json={"reason": "Wrong"}
    )
    assert appealed.status_code == 201, appealed.text
    case = api.call("GET", f"/v1/reviews/{decision_id}", role="reviewer").json()
    original = case["record"]["envelope"]["outcome"]["label"]
    new_outcome = next(label for label in case["labels"] if label != original)
    assert api.call("POST", f"/v1/reviews/{decision_id}/claim", role="reviewer").status_code == 200
    resolved = api.call(
        "POST",
        f"/v1/reviews/{decision_id}/resolve",
        role="reviewer",
        json={"verdict": "overturned", "reason": "Fotos del daño aportadas", "new_outcome": new_outcome},
    )
    assert resolved.status_code == 201, resolved.text
    return dict(resolved.json())


def posts_for(server: Webhook, decision_id: str) -> list[tuple[dict[str, str], bytes]]:
    return [(headers, body) for headers, body in server.received if json.loads(body)["decision_id"] == decision_id]


def test_a_resolved_review_is_posted_to_the_webhook_signed(api: Client, webhook: Webhook) -> None:
    sealed = resolved_case(api, "demo-refund-2")
    review = sealed["review"]
    posts = waited(lambda: posts_for(webhook, review["decision_id"]))
    assert len(posts) == 1
    headers, body = posts[0]
    # The receiver's check (docs/reviewers.md): HMAC-SHA256 of "<timestamp>.<body>", compared in constant time.
    expected = hmac.new(SECRET.encode(), headers["x-candor-timestamp"].encode() + b"." + body, hashlib.sha256)
    assert hmac.compare_digest(headers["x-candor-signature"], "sha256=" + expected.hexdigest())
    assert abs(time.time() - int(headers["x-candor-timestamp"])) < 300
    assert headers["content-type"] == "application/json"
    assert json.loads(body) == {
        "event": "review.resolved",
        "decision_id": review["decision_id"],
        "verdict": "overturned",
        "outcome_in_force": review["final_outcome"],
        "resolved_at": review["resolved_at"],
        "review_sha256": sealed["content_sha256"],
    }
    assert b"Fotos" not in body and b"subject" not in body  # no reason text, nothing personal


def test_a_webhook_answering_500_gets_retries_then_the_dead_letter_queue(api: Client, webhook: Webhook) -> None:
    webhook.status = 500
    sqs = api.aws("sqs")
    decision_id = resolved_case(api, "demo-refund-1")["review"]["decision_id"]
    dead_letters = queue_url(api, "candor-reviewnotificationdeadletterqueue")

    def dead_lettered() -> list[dict[str, Any]]:
        found = sqs.receive_message(QueueUrl=dead_letters, MaxNumberOfMessages=10, VisibilityTimeout=0)
        return [m for m in found.get("Messages") or [] if json.loads(m["Body"])["decision_id"] == decision_id]

    assert waited(dead_lettered), "the refused notification never reached the dead-letter queue"
    assert len(posts_for(webhook, decision_id)) == 5  # maxReceiveCount: each receipt posted once, all refused


def test_a_notification_that_cannot_be_queued_leaves_the_review_standing(api: Client, webhook: Webhook) -> None:
    with failing(aws_clients.sqs(), "SendMessage"):  # SQS unreachable for the review function's own client
        sealed = resolved_case(api, "demo-refund-2")  # 201 all the same: the sealed review is stored
    decision_id = sealed["review"]["decision_id"]
    case = api.call("GET", f"/v1/reviews/{decision_id}", role="reviewer").json()
    assert case["appeal"]["status"] == "overturned"
    assert case["review"]["content_sha256"] == sealed["content_sha256"]
    assert not posts_for(webhook, decision_id)
