"""Lambda entry point of the archive copier (DynamoDB stream event source of the pending-records table).

Each stream record names a pending record (KEYS_ONLY); the copier writes its archive and personal
objects and deletes the item (`functions/stores/archive_copier.py`). On a failure the handler
reports the first record not copied (ReportBatchItemFailures): Lambda retries from it, bisecting
the batch, and sends the ones that keep failing to the on-failure destination (alarmed). The
record stays pending, and readable, until an operator redrives it (docs/records.md).
"""

from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.utilities.data_classes import DynamoDBStreamEvent
from aws_lambda_powertools.utilities.typing import LambdaContext

from functions.archive_copy_service import archive_copy_service
from functions.stream_batch import batch_response
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
    return batch_response(
        records,
        batch.outcomes,
        batch.error,
        metric="ArchiveCopies",
        failure="archive copy failed",
        logger=logger,
        metrics=metrics,
    )
