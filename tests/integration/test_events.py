"""Every sample event in events/ (also valid for `sam local invoke -e`) through its real handler, in moto."""

import json
from pathlib import Path

import boto3
import pytest

from infra import template as tpl
from infra.local.invocation import running
from tests.support import fresh_container, lambda_context

EVENTS = Path(__file__).resolve().parents[2] / "events"

EXPECTED = {
    "health.json": ("catalog", 200),
    "models.json": ("catalog", 200),
    "disclosure-en.json": ("catalog", 200),
    "disclosure-es-eu.json": ("catalog", 200),
    "decision-ticket-router-en.json": ("decisions", 200),
    "decision-ticket-router-es.json": ("decisions", 200),
    "decision-refund.json": ("decisions", 200),
    "decision-malformed-json.json": ("decisions", 400),
    "decision-missing-request-id.json": ("decisions", 422),
    "decision-unknown-model.json": ("decisions", 404),
    "decision-no-identity.json": ("decisions", 401),
    "decision-wrong-role.json": ("decisions", 403),
    # The customer's routes check the link's token before any lookup: the same 403 for each.
    "customer-view-bad-token.json": ("customer", 403),
    "customer-explanation-no-token.json": ("customer", 403),
    "customer-appeal-bad-token.json": ("customer", 403),
    "audit-list.json": ("audit", 200),
    "audit-get.json": ("audit", 404),
    "audit-fairness.json": ("audit", 200),
    "audit-reviews.json": ("audit", 200),
    "audit-attributions.json": ("audit", 200),
    "audit-report-page.json": ("audit", 200),
    "audit-by-chatbot.json": ("audit", 403),
    "privacy-erase.json": ("privacy", 200),
    "privacy-legal-hold.json": ("privacy", 404),
    "audit-verify.json": ("audit", 200),
    "review-queue.json": ("reviews", 200),
    "review-case.json": ("reviews", 404),
    "review-claim.json": ("reviews", 404),
    "review-resolve.json": ("reviews", 404),
    "review-by-auditor.json": ("reviews", 403),
    "reviewer-queue-page.json": ("reviews", 200),
    "reviewer-case-page.json": ("reviews", 404),
    "reviewer-case-form.json": ("reviews", 404),
    "audit-monitoring.json": ("audit", 200),
}


def test_every_event_file_is_covered():
    assert {p.name for p in EVENTS.glob("*.json")} == {
        *EXPECTED,
        "explanation-job.json",
        "review-notification.json",
        "integrity-schedule.json",
        "monitoring-schedule.json",
        "records-stream.json",
        "pending-records-stream.json",
    }


def test_the_explanation_job_event_through_the_worker(aws_env):
    """A job whose record does not exist (yet) is reported as failed, so SQS delivers it again later."""
    from functions.handlers.explanation_worker import lambda_handler

    event = json.loads((EVENTS / "explanation-job.json").read_text())
    response = lambda_handler(event, lambda_context("explanation-worker", timeout_s=300))
    assert response == {"batchItemFailures": [{"itemIdentifier": event["Records"][0]["messageId"]}]}


def test_the_review_notification_event_through_the_webhook_function(aws_env, monkeypatch):
    """With the webhook unreachable the notification is reported as failed, so SQS delivers it again later."""
    from functions.handlers.review_webhook import lambda_handler

    arn = boto3.client("secretsmanager").create_secret(Name="candor/review-webhook", SecretString="k")["ARN"]
    monkeypatch.setenv("CANDOR_REVIEW_WEBHOOK_URL", "http://127.0.0.1:9/nobody-listens")
    monkeypatch.setenv("CANDOR_REVIEW_WEBHOOK_SECRET_ARN", arn)
    fresh_container()
    event = json.loads((EVENTS / "review-notification.json").read_text())
    # Outside `running`: not recorded for the IAM check, whose deployment names one webhook secret (the e2e test's).
    response = lambda_handler(event, lambda_context("ReviewWebhookFunction"))
    assert response == {"batchItemFailures": [{"itemIdentifier": event["Records"][0]["messageId"]}]}
    fresh_container()


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_event_through_its_handler(aws_env, name):
    from functions.handlers import audit, catalog, customer, decisions, privacy, reviews

    module, status = EXPECTED[name]
    modules = {
        "catalog": catalog,
        "decisions": decisions,
        "customer": customer,
        "audit": audit,
        "privacy": privacy,
        "reviews": reviews,
    }
    handler = modules[module].lambda_handler
    event = json.loads((EVENTS / name).read_text())
    # As the function whose handler it is in the template, with its role's S3 answers.
    function = next(r.function for r in tpl.routes() if r.handler == f"{modules[module].__name__}.lambda_handler")
    with running(function):
        response = handler(event, lambda_context(function))
    assert response["statusCode"] == status, response["body"]
    if name.startswith("customer-view"):  # the page: HTML, even for its 403
        assert response["multiValueHeaders"]["Content-Type"][0].startswith("text/html")
        assert "This link is not valid" in response["body"]
        return
    if name == "audit-report-page.json":  # the auditor's report page: HTML with its charts' sections
        assert response["multiValueHeaders"]["Content-Type"][0].startswith("text/html")
        assert "<h1>Auditor report: refund-decision</h1>" in response["body"]
        assert "Fairness: age_band" in response["body"]
        return
    if name == "reviewer-queue-page.json":  # the reviewer's queue page
        assert response["multiValueHeaders"]["Content-Type"][0].startswith("text/html")
        assert "<h1>Review queue: refund-decision</h1>" in response["body"]
        return
    body = json.loads(response["body"])
    if status >= 400:
        assert set(body) == {"error"}
    elif module == "decisions":
        assert body["disclosure"]["ai_system"] is True
        assert body["links"]["customer_view"].startswith(aws_env["CANDOR_PUBLIC_BASE_URL"])


def test_the_records_stream_event_through_the_rollup_function(aws_env):
    from functions.handlers.rollups import lambda_handler

    event = json.loads((EVENTS / "records-stream.json").read_text())
    for _ in range(2):  # delivered twice, counted once
        assert lambda_handler(event, lambda_context("RollupFunction")) == {"batchItemFailures": []}
    item = boto3.client("dynamodb").get_item(
        TableName=aws_env["CANDOR_ROLLUPS_TABLE"],
        Key={
            "pk": {"S": '["refund-decision","H","2026-08-03","age_band","gender"]'},
            "sk": {"S": '2026-08-03T05#["25-44","f"]'},
        },
    )["Item"]
    assert item["n"] == {"N": "1"} and item["o:approve"] == {"N": "1"}


def test_the_pending_records_stream_event_through_the_archive_copier(aws_env):
    from functions.handlers.archive_copy import lambda_handler
    from functions.stores.record_store import personal_key

    event = json.loads((EVENTS / "pending-records-stream.json").read_text())
    decision_id = event["Records"][0]["dynamodb"]["Keys"]["decision_id"]["S"]
    with running("ArchiveCopyFunction"):  # nothing pending under that id: already copied, nothing to do
        assert lambda_handler(event, lambda_context("ArchiveCopyFunction")) == {"batchItemFailures": []}
    dynamodb, s3 = boto3.client("dynamodb"), boto3.client("s3")
    dynamodb.put_item(
        TableName=aws_env["CANDOR_PENDING_TABLE"],
        Item={
            "decision_id": {"S": decision_id},
            "decided_at": {"S": "2026-08-03T05:12:00.000Z"},
            "archive_key": {"S": f"records/model=refund-decision/date=2026-08-03/0-{decision_id}.json"},
            "sealed": {"B": b'{"content_sha256":"x","envelope":{}}'},
            "content_sha256": {"S": "x"},
            "personal_key": {"S": personal_key(decision_id)},
            "personal": {"B": b'{"inputs":{}}'},
        },
    )
    with running("ArchiveCopyFunction"):
        assert lambda_handler(event, lambda_context("ArchiveCopyFunction")) == {"batchItemFailures": []}
    assert "Item" not in dynamodb.get_item(
        TableName=aws_env["CANDOR_PENDING_TABLE"], Key={"decision_id": {"S": decision_id}}
    )
    personal = s3.get_object(Bucket=aws_env["CANDOR_PERSONAL_BUCKET"], Key=personal_key(decision_id))
    assert personal["Body"].read() == b'{"inputs":{}}'


def test_the_monitoring_schedule_event_through_the_monitoring_function(aws_env):
    """The hourly run at the event's time: the refund model's monitor, over a window with no record yet."""
    from functions.handlers.monitoring import lambda_handler

    event = json.loads((EVENTS / "monitoring-schedule.json").read_text())
    with running("MonitoringFunction"):
        response = lambda_handler(event, lambda_context("MonitoringFunction", timeout_s=300))
        again = lambda_handler(event, lambda_context("MonitoringFunction", timeout_s=300))
    (report,) = response["reports"]
    assert report["model_id"] == "refund-decision"
    assert (report["status"], report["violations"]) == ("not_enough_data", [])
    assert report["report"] == "monitoring/refund-decision/2026/08/03/0900.json"
    assert again["reports"] == response["reports"]  # a redelivered event: the same report, written once
    stored = boto3.client("s3").get_object(Bucket=aws_env["CANDOR_ARCHIVE_BUCKET"], Key=report["report"])
    assert json.loads(stored["Body"].read())["report"]["previous_report_sha256"] is None


def test_monitoring_reports_chain_and_a_rewritten_one_fails_its_signature(aws_env):
    from functions.handlers.monitoring import lambda_handler
    from functions.monitoring_service import monitoring_service

    event = json.loads((EVENTS / "monitoring-schedule.json").read_text())
    with running("MonitoringFunction"):
        first = lambda_handler(event, lambda_context("MonitoringFunction", timeout_s=300))["reports"][0]
        later = {**event, "time": event["time"].replace("T09:", "T10:")}
        second = lambda_handler(later, lambda_context("MonitoringFunction", timeout_s=300))["reports"][0]
        store = monitoring_service().store
        older, newer = store.get(first["report"]), store.get(second["report"])
    assert older is not None and newer is not None and newer.report is not None
    assert newer.report.previous_report_sha256 == older.sha256
    assert older.signature_valid and newer.signature_valid

    s3, bucket = boto3.client("s3"), aws_env["CANDOR_ARCHIVE_BUCKET"]
    stored = json.loads(s3.get_object(Bucket=bucket, Key=first["report"])["Body"].read())
    stored["report"]["status"] = "ok"  # a violation rewritten away (a new version of the object)
    s3.put_object(Bucket=bucket, Key=first["report"], Body=json.dumps(stored).encode())
    with running("AuditFunction"):
        rewritten = store.get(first["report"])
    assert rewritten is not None and not rewritten.signature_valid
