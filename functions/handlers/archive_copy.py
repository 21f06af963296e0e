"""Lambda entry point of the archive copier (DynamoDB stream event source of the pending-records table).

Each stream record names a pending record (KEYS_ONLY); the copier writes its archive and personal
objects and deletes the item (`functions/stores/archive_copier.py`). On a failure the handler
reports the first record not copied (ReportBatchItemFailures): Lambda retries from it, bisecting
the batch, and sends the ones that keep failing to the on-failure destination (alarmed). The
record stays pending, and readable, until an operator redrives it (docs/records.md).
"""

from collections import Counter
from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.data_classes import DynamoDBStreamEvent
from aws_lambda_powertools.utilities.typing import LambdaContext

from functions.archive_copy_service import archive_copy_service
from functions.tracing import handler_tracer

logger = Logger()
tracer = handler_tracer()
metrics = Metrics()


@logger.inject_lambda_context(log_event=False)
@tracer.capture_lambda_handler(capture_response=False)
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    records = list(DynamoDBStreamEvent(event).records)
    batch = archive_copy_service().copy_batch(records)
    for outcome, count in Counter(batch.outcomes).items():
        metrics.add_metric(name=f"ArchiveCopies_{outcome}", unit=MetricUnit.Count, value=count)
    if batch.error is None:
        return {"batchItemFailures": []}
    failed = records[len(batch.outcomes)]
    sequence_number = failed.dynamodb.sequence_number if failed.dynamodb else None
    keys = failed.dynamodb.keys if failed.dynamodb else {}
    # The decision id and the error only: the item's bytes (personal data) never go to the logs.
    logger.warning(
        "archive copy failed; the batch will be retried from this record",
        extra={
            "sequence_number": sequence_number,
            "decision_id": keys.get("decision_id"),
            "error": type(batch.error).__name__,
            "detail": str(batch.error)[:300],
        },
    )
    metrics.add_metric(name="ArchiveCopiesFailed", unit=MetricUnit.Count, value=len(records) - len(batch.outcomes))
    return {"batchItemFailures": [{"itemIdentifier": sequence_number}]}
