"""The explanation worker against moto: real queue, real record store, a fake model through the registry seam.

A deferred decision is stored pending with its job queued; the worker handler, given the SQS
event Lambda would send, completes it with a second write-once object and the index item's
completion attributes; the auditor's and the customer's reads then show the completed explanation.

The remote (black-box) model itself is faked here (`models_registry` of the worker's composition
root). The end-to-end run with a real deferred remote model behind the local stack's model server
belongs in `tests/e2e/test_deferred_explanations.py` (see its docstring).
"""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import timedelta
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from functions.domain.customer_links import sign_token
from functions.domain.decide import decide
from functions.domain.errors import DependencyUnavailable
from functions.schemas.api import DecisionResponse
from functions.stores.completion_store import AwsCompletionStore, completion_key
from functions.stores.explanation_queue import SqsExplanationQueue, job_body
from functions.stores.record_store import AwsRecordStore, put_new_object
from infra import template as tpl
from infra.local.gateway import LambdaContext, make_event
from infra.local.invocation import running
from infra.local.sqs_event_source import failed_ids, sqs_event
from tests.support import erase, lambda_context, record_store
from tests.unit.domain.test_decide import BASE, NOW, request
from tests.unit.domain.test_explanation_policy import WEIGHTS, remote, with_manifest
from tests.unit.fakes import FakeCatalog, FixedRuntime, MemoryRecordStore

DEFERRED = remote(timing="deferred")


def context(function: str = "ExplanationWorkerFunction", timeout_s: float = 300) -> LambdaContext:
    return lambda_context(function, timeout_s)


@pytest.fixture
def store(aws_env: dict[str, str]) -> AwsRecordStore:
    return record_store(aws_env, boto3.client("dynamodb"), boto3.client("s3"))


@pytest.fixture
def worker(aws_env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> Any:
    """The worker's handler, its registry seam holding the toy model as a remote, deferred model."""
    from functions.api import worker_dependencies
    from functions.handlers import explanation_worker

    catalog = FakeCatalog({"toy": FixedRuntime(DEFERRED, (0.3, 0.7), WEIGHTS)})
    monkeypatch.setattr(worker_dependencies, "models_registry", lambda: catalog)
    return explanation_worker.lambda_handler


def decided(aws_env: dict[str, str], store: AwsRecordStore) -> DecisionResponse:
    """A deferred decision through the real store and queue: stored pending, its job queued."""
    queue = SqsExplanationQueue(queue_url=aws_env["CANDOR_EXPLANATION_QUEUE_URL"], sqs=boto3.client("sqs"))
    services = replace(with_manifest(DEFERRED, MemoryRecordStore(), queue), records=store)
    answer = decide("toy", request(), services, BASE)
    assert answer.explanation.status == "pending"
    return answer


def received(aws_env: dict[str, str]) -> dict[str, Any]:
    """The queue's next batch as Lambda's SQS event (the queue delays new jobs by a couple of seconds)."""
    sqs = boto3.client("sqs")
    url = aws_env["CANDOR_EXPLANATION_QUEUE_URL"]
    messages = sqs.receive_message(
        QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=5, MessageSystemAttributeNames=["All"]
    )["Messages"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    return sqs_event(messages, arn)


def test_the_worker_completes_a_pending_record_from_the_sqs_event(aws_env, store, worker):
    answer = decided(aws_env, store)
    event = received(aws_env)
    (message,) = event["Records"]
    assert json.loads(message["body"]) == {"decision_id": answer.decision_id, "model_id": "toy"}

    assert worker(event, context()) == {"batchItemFailures": []}

    stored = store.get(answer.decision_id)
    assert stored is not None and stored.completion is not None
    completion = stored.completion.completion
    assert completion.envelope_sha256 == stored.record.content_sha256
    assert completion.explanation.status == "complete" and completion.explanation.contributions
    assert stored.record.envelope.explanation.status == "pending"  # the sealed envelope is never rewritten
    item = stored.item
    assert item["completion_key"] == completion_key(stored.record.envelope)
    assert item["completion_key"].startswith(f"completions/model=toy/date={NOW.date().isoformat()}/")
    assert item["completion_sha256"] == stored.completion.content_sha256
    assert item["explanation_status"] == "complete"
    assert {k: float(v) for k, v in item["attributions"].items()} == {
        c.feature: c.attribution for c in completion.explanation.contributions
    }  # what the attribution report reads
    head = boto3.client("s3").head_object(Bucket=aws_env["CANDOR_ARCHIVE_BUCKET"], Key=item["completion_key"])
    assert head["ServerSideEncryption"] == "aws:kms"


def test_a_redelivered_job_is_a_success_that_writes_nothing(aws_env, store, worker):
    answer = decided(aws_env, store)
    event = received(aws_env)
    assert worker(event, context()) == {"batchItemFailures": []}
    first = store.get(answer.decision_id)

    assert worker(event, context()) == {"batchItemFailures": []}  # at-least-once delivery: the same job again

    again = store.get(answer.decision_id)
    assert again is not None and first is not None and again.completion == first.completion
    versions = boto3.client("s3").list_object_versions(
        Bucket=aws_env["CANDOR_ARCHIVE_BUCKET"], Prefix=first.item["completion_key"]
    )
    assert len(versions["Versions"]) == 1


def test_a_job_without_a_record_is_reported_failed_and_stays_on_the_queue(aws_env, store, worker):
    sqs = boto3.client("sqs")
    url = aws_env["CANDOR_EXPLANATION_QUEUE_URL"]
    answer = decided(aws_env, store)
    sqs.send_message(QueueUrl=url, MessageBody=job_body("01KNOSUCHDECISION000000000", "toy"))
    event = received(aws_env)
    if len(event["Records"]) < 2:  # the two jobs may arrive in separate receives
        event["Records"] += received(aws_env)["Records"]
    orphan = next(r for r in event["Records"] if "NOSUCH" in r["body"])

    response = worker(event, context())

    assert response == {"batchItemFailures": [{"itemIdentifier": orphan["messageId"]}]}
    batch = [r["messageId"] for r in event["Records"]]
    assert failed_ids(response, batch, report_batch_item_failures=True) == {orphan["messageId"]}
    completed = store.get(answer.decision_id)
    assert completed is not None and completed.completion is not None  # the good job in the batch went through


def test_a_job_for_an_erased_record_completes_it_not_explained_without_a_retry(aws_env, store, worker):
    from functions.domain.completion import ERASED_REASON

    answer = decided(aws_env, store)
    erase(aws_env, answer.decision_id)  # before the worker runs
    event = received(aws_env)

    with running("ExplanationWorkerFunction"):
        response = worker(event, context())

    batch = [r["messageId"] for r in event["Records"]]
    assert failed_ids(response, batch, report_batch_item_failures=True) == set()  # deleted: no retry, no DLQ
    stored = store.get(answer.decision_id)
    assert stored is not None and stored.completion is not None
    assert stored.item["explanation_status"] == "not_explained"
    assert stored.completion.completion.explanation.status_reason == ERASED_REASON


def test_the_template_redrives_failed_jobs_to_the_dead_letter_queue_after_five_receipts(aws_env):
    sqs = boto3.client("sqs")
    attributes = sqs.get_queue_attributes(QueueUrl=aws_env["CANDOR_EXPLANATION_QUEUE_URL"], AttributeNames=["All"])
    redrive = json.loads(attributes["Attributes"]["RedrivePolicy"])
    assert redrive["maxReceiveCount"] == 5 and redrive["deadLetterTargetArn"].endswith(":candor-explanations-dlq")
    spec = tpl.queues()["ExplanationQueue"]
    assert attributes["Attributes"]["VisibilityTimeout"] == str(spec.visibility_timeout)


def test_a_model_failure_fails_the_job_for_a_retry(aws_env, store, worker, monkeypatch):
    from functions.api import worker_dependencies

    answer = decided(aws_env, store)
    failing = FakeCatalog({"toy": FixedRuntime(DEFERRED, (0.3, 0.7), WEIGHTS, explanation_fails=True)})
    monkeypatch.setattr(worker_dependencies, "models_registry", lambda: failing)
    event = received(aws_env)
    assert worker(event, context()) == {"batchItemFailures": [{"itemIdentifier": event["Records"][0]["messageId"]}]}
    stored = store.get(answer.decision_id)
    assert stored is not None and stored.completion is None and "completion_sha256" not in stored.item


def test_the_completion_object_cannot_be_overwritten(aws_env, store, worker):
    answer = decided(aws_env, store)
    worker(received(aws_env), context())
    stored = store.get(answer.decision_id)
    assert stored is not None and stored.completion is not None
    key = stored.item["completion_key"]

    with pytest.raises(ClientError, match="PreconditionFailed"):
        put_new_object(boto3.client("s3"), aws_env["CANDOR_ARCHIVE_BUCKET"], key, b"{}", aws_env["CANDOR_KMS_KEY_ID"])
    other = stored.completion.model_copy(update={"content_sha256": "0" * 64})
    assert AwsCompletionStore(store).save(stored.record, other) is False  # the first completion stands
    assert store.get(answer.decision_id).completion == stored.completion


def test_an_object_at_the_key_that_does_not_complete_the_record_is_refused(aws_env, store):
    from functions.domain.completion import complete_explanation

    runtime = FixedRuntime(DEFERRED, (0.3, 0.7), WEIGHTS)
    one, two = (store.get(decided(aws_env, store).decision_id) for _ in range(2))
    assert one is not None and two is not None
    foreign = complete_explanation(one.record, None, runtime, deadline=1e12, now=NOW)
    put_new_object(  # one's completion, at two's key
        boto3.client("s3"),
        aws_env["CANDOR_ARCHIVE_BUCKET"],
        completion_key(two.record.envelope),
        json.dumps(foreign.model_dump(mode="json")).encode(),
        aws_env["CANDOR_KMS_KEY_ID"],
    )
    own = complete_explanation(two.record, None, runtime, deadline=1e12, now=NOW)
    with pytest.raises(DependencyUnavailable, match="does not complete this record"):
        AwsCompletionStore(store).save(two.record, own)
    assert "completion_sha256" not in store.get(two.record.envelope.decision_id).item


def test_a_crash_between_the_object_and_the_item_is_finished_by_the_retry(aws_env, store, worker):
    from functions.domain.completion import complete_explanation

    answer = decided(aws_env, store)
    stored = store.get(answer.decision_id)
    assert stored is not None
    runtime = FixedRuntime(DEFERRED, (0.3, 0.7), WEIGHTS)
    earlier = complete_explanation(stored.record, None, runtime, deadline=1e12, now=NOW + timedelta(seconds=3))
    key = completion_key(stored.record.envelope)
    put_new_object(  # the object of an attempt that died before its UpdateItem
        boto3.client("s3"),
        aws_env["CANDOR_ARCHIVE_BUCKET"],
        key,
        json.dumps(earlier.model_dump(mode="json")).encode(),
        aws_env["CANDOR_KMS_KEY_ID"],
    )
    assert store.get(answer.decision_id).completion is None  # not served: no item yet

    assert worker(received(aws_env), context()) == {"batchItemFailures": []}

    finished = store.get(answer.decision_id)
    assert finished is not None and finished.completion == earlier  # the earlier object stands
    assert finished.item["completion_sha256"] == earlier.content_sha256


def _api(event: dict[str, Any], handler: Any, function: str) -> tuple[int, Any]:
    response = handler(event, context(function, 29))
    return response["statusCode"], json.loads(response["body"])


def test_auditor_and_customer_see_pending_then_the_completed_explanation(aws_env, store, worker):
    from functions.api.customer_dependencies import customer_services
    from functions.handlers import audit, customer

    answer = decided(aws_env, store)
    routes = tpl.routes()
    audit_get = make_event("GET", f"/v1/explanations/{answer.decision_id}", routes=routes, role="auditor")
    token = sign_token(answer.decision_id, NOW + timedelta(days=90), customer_services().link_key)
    customer_get = make_event(
        "GET", f"/v1/explanations/{answer.decision_id}", routes=routes, query={"token": token}, role=None
    )

    status, before = _api(audit_get, audit.lambda_handler, "AuditFunction")
    assert status == 200 and before["completion"] is None
    assert before["record"]["envelope"]["explanation"]["status"] == "pending"
    status, view = _api(customer_get, customer.lambda_handler, "CustomerFunction")
    assert status == 200 and view["reasons"] == [] and view["summary"] == answer.explanation.summary  # "calculando"

    worker(received(aws_env), context())

    status, after = _api(audit_get, audit.lambda_handler, "AuditFunction")
    assert status == 200 and after["verified"] is True and after["completion_verified"] is True
    completed = after["completion"]["completion"]["explanation"]
    assert completed["status"] == "complete"
    assert after["record"]["envelope"]["explanation"]["status"] == "pending"  # the envelope as sealed
    status, view = _api(customer_get, customer.lambda_handler, "CustomerFunction")
    assert status == 200 and view["summary"] == completed["summary"] != answer.explanation.summary
    assert [r["weight"] for r in view["reasons"]] == [c["attribution"] for c in completed["contributions"]]


def test_a_queue_that_refuses_the_job_is_a_dependency_failure(aws_env):
    missing = aws_env["CANDOR_EXPLANATION_QUEUE_URL"] + "-gone"
    with pytest.raises(DependencyUnavailable, match="could not be queued"):
        SqsExplanationQueue(queue_url=missing, sqs=boto3.client("sqs")).enqueue("01KDECISION", "toy")


def test_the_decisions_function_queues_jobs_only_when_the_queue_is_configured(aws_env, monkeypatch):
    from functions.api.decision_dependencies import decision_services
    from tests.support import fresh_container

    queue = decision_services().explanation_queue
    assert isinstance(queue, SqsExplanationQueue) and queue.queue_url == aws_env["CANDOR_EXPLANATION_QUEUE_URL"]
    monkeypatch.delenv("CANDOR_EXPLANATION_QUEUE_URL")
    fresh_container()
    assert decision_services().explanation_queue is None  # deferred explanations are then computed inline
