"""Lambda entry point of the review webhook (SQS event source; the small zip, stdlib HTTP).

Each message is one resolved review's notification. It is posted, signed, to the operator's
URL; a non-2xx answer, a timeout or a refused connection fails that message (ReportBatchItemFailures):
SQS brings it back after the visibility timeout, and after the queue's maxReceiveCount it waits in
ReviewNotificationDeadLetterQueue, alarmed, for a redrive.
"""

import json
import time
import urllib.error
import urllib.request
from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from functions.coldstart import per_container
from functions.domain.review_webhook import notification_body, signed_headers
from functions.schemas.settings import review_webhook_settings
from functions.stores import aws_clients
from functions.tracing import handler_tracer

logger = Logger()
tracer = handler_tracer()
metrics = Metrics()
processor = BatchProcessor(event_type=EventType.SQS, raise_on_entire_batch_failure=False)


class WebhookRefused(Exception):
    """The endpoint answered, but not 2xx."""


@per_container
def signing_secret() -> bytes:
    """The HMAC key: the secret's string, read once per container (rotate it by redeploying or a cold start)."""
    arn = review_webhook_settings().review_webhook_secret_arn
    return aws_clients.secretsmanager().get_secret_value(SecretId=arn)["SecretString"].encode()


def post(url: str, body: bytes, headers: dict[str, str], timeout: float) -> int:
    """POST the body; the HTTP status, WebhookRefused for a non-2xx one (URLError / timeout propagate)."""
    request = urllib.request.Request(url, data=body, headers=headers, method="POST")  # noqa: S310 - the operator's URL
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310
            status = int(response.status)
    except urllib.error.HTTPError as error:
        raise WebhookRefused(f"the webhook answered {error.code}") from error
    if not 200 <= status < 300:
        raise WebhookRefused(f"the webhook answered {status}")
    return status


@tracer.capture_method(capture_response=False)
def send_one(record: SQSRecord) -> int:
    settings = review_webhook_settings()
    try:
        body = notification_body(json.loads(record.body))
        status = post(
            settings.review_webhook_url,
            body,
            signed_headers(signing_secret(), int(time.time()), body),
            settings.review_webhook_timeout_seconds,
        )
    except Exception as error:
        # The body names a decision and a verdict, nothing personal; the error says what went wrong.
        logger.warning(
            "review notification not delivered; it will be retried",
            extra={
                "message_id": record.message_id,
                "receive_count": record.attributes.approximate_receive_count,
                "error": type(error).__name__,
                "detail": str(error)[:300],
            },
        )
        metrics.add_metric(name="ReviewNotificationsFailed", unit=MetricUnit.Count, value=1)
        raise
    metrics.add_metric(name="ReviewNotificationsDelivered", unit=MetricUnit.Count, value=1)
    return status


@logger.inject_lambda_context(log_event=False)
@tracer.capture_lambda_handler(capture_response=False)
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return dict(process_partial_response(event=event, record_handler=send_one, processor=processor, context=context))
