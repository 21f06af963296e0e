"""Lambda's SQS event source mapping, locally: poll a queue, invoke the handler, delete what succeeded.

As in AWS: the handler gets a batch of at most `BatchSize` records in Lambda's SQS event shape;
with `ReportBatchItemFailures` only the messages it lists in `batchItemFailures` stay on the
queue (an error or an unreadable response keeps the whole batch); the rest are deleted. Messages
kept come back after the queue's visibility timeout, and after `maxReceiveCount` receipts SQS
(moto) moves them to the dead-letter queue. Messages that match none of the mapping's
FilterCriteria are deleted unseen by the handler, as Lambda does (`infra.local.event_filters`;
a JSON body is matched as JSON, any other body as a string).
"""

from __future__ import annotations

import json
import logging
import traceback
from typing import Any

from infra.local.aws import REGION
from infra.local.event_filters import EventFilter
from infra.local.function_logs import FunctionLogs
from infra.local.polling import Handler, PollingThread, invoke
from infra.template import QueueSubscription

logger = logging.getLogger(__name__)


def sqs_event(messages: list[dict[str, Any]], queue_arn: str) -> dict[str, Any]:
    """Lambda's SQS event for messages as ReceiveMessage returned them (all attributes requested)."""
    return {
        "Records": [
            {
                "messageId": m["MessageId"],
                "receiptHandle": m["ReceiptHandle"],
                "body": m["Body"],
                "attributes": dict(m.get("Attributes") or {}),
                "messageAttributes": {
                    name: {
                        "stringValue": value.get("StringValue"),
                        "binaryValue": value.get("BinaryValue"),
                        "stringListValues": [],
                        "binaryListValues": [],
                        "dataType": value["DataType"],
                    }
                    for name, value in (m.get("MessageAttributes") or {}).items()
                },
                "md5OfBody": m["MD5OfBody"],
                "eventSource": "aws:sqs",
                "eventSourceARN": queue_arn,
                "awsRegion": REGION,
            }
            for m in messages
        ]
    }


def filtered_view(record: dict[str, Any]) -> dict[str, Any]:
    """What Lambda matches an SQS record against: its body parsed when it is JSON, as written otherwise."""
    try:
        return {**record, "body": json.loads(record["body"])}
    except ValueError:
        return record


def failed_ids(response: Any, batch: list[str], report_batch_item_failures: bool) -> set[str]:
    """The message ids Lambda would leave on the queue after this response."""
    if not report_batch_item_failures:
        return set()
    if not isinstance(response, dict):
        return set(batch) if response is not None else set()
    failures = response.get("batchItemFailures") or []
    ids = {f.get("itemIdentifier") for f in failures if isinstance(f, dict)}
    if not all(isinstance(i, str) and i in batch for i in ids):
        return set(batch)  # an unknown or empty identifier fails the whole batch, as in Lambda
    return {str(i) for i in ids}


class SqsEventSource(PollingThread):
    """A polling thread standing in for one event source mapping of the template."""

    def __init__(
        self,
        subscription: QueueSubscription,
        queue_url: str,
        handler: Handler,
        sqs: Any,
        *,
        logs: FunctionLogs | None = None,
        wait_seconds: int = 1,
    ) -> None:
        self.subscription = subscription
        self.queue_url = queue_url
        self.handler = handler
        self.sqs = sqs
        self.logs = logs
        self.wait_seconds = wait_seconds
        self.filter = EventFilter(subscription.filters)  # a pattern Lambda would refuse fails here
        self.queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"][
            "QueueArn"
        ]
        super().__init__(f"sqs-{subscription.function}", queue_url, pause_seconds=0)  # the receive waits itself

    def poll_once(self) -> int:
        """Receive one batch, delete what the filters drop, invoke the handler with the rest, delete what
        succeeded; the number of messages received."""
        received = self.sqs.receive_message(
            QueueUrl=self.queue_url,
            MaxNumberOfMessages=min(self.subscription.batch_size, 10),
            WaitTimeSeconds=self.wait_seconds,
            MessageSystemAttributeNames=["All"],
            MessageAttributeNames=["All"],
        )
        received_messages = received.get("Messages") or []
        records = sqs_event(received_messages, self.queue_arn)["Records"]
        matched = {r["messageId"] for r in records if self.filter.matches(filtered_view(r))}
        self._delete([m for m in received_messages if m["MessageId"] not in matched])
        messages = [m for m in received_messages if m["MessageId"] in matched]
        if not messages:
            return len(received_messages)
        batch = [m["MessageId"] for m in messages]
        keep = set(batch)  # a handler that raises leaves the whole batch for a retry
        try:
            response = invoke(self.subscription, self.handler, sqs_event(messages, self.queue_arn), self.logs)
            keep = failed_ids(response, batch, self.subscription.report_batch_item_failures)
        except Exception:
            logger.error(
                "%s failed on a batch of %d:\n%s", self.subscription.function, len(batch), traceback.format_exc()
            )
        self._delete([m for m in messages if m["MessageId"] not in keep])
        return len(received_messages)

    def _delete(self, messages: list[dict[str, Any]]) -> None:
        if messages:
            entries = [{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(messages)]
            self.sqs.delete_message_batch(QueueUrl=self.queue_url, Entries=entries)
