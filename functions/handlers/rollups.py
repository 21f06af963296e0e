"""Lambda entry point of the rollup function (DynamoDB stream event source of the records and appeals tables).

Each stream record adds at most one contribution to the rollups (functions/domain/rollups.py),
counted once by the store however often it is delivered. Powertools' batch processor reports the
records that failed (ReportBatchItemFailures): Lambda retries from the first of them, bisecting
the batch, and sends the ones that keep failing to the on-failure destination (alarmed).
"""

from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.dynamo_db_stream_event import DynamoDBRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from functions.rollup_service import rollup_service
from functions.tracing import handler_tracer

logger = Logger()
tracer = handler_tracer()
metrics = Metrics()
processor = BatchProcessor(event_type=EventType.DynamoDBStreams, raise_on_entire_batch_failure=False)


@tracer.capture_method(capture_response=False)
def count_one(record: DynamoDBRecord) -> str:
    try:
        outcome = rollup_service().count(record)
    except Exception as error:
        # Keys and sequence numbers only: the images hold segments, which never go to the logs.
        logger.warning(
            "rollup failed; the record will be retried",
            extra={
                "sequence_number": record.dynamodb.sequence_number if record.dynamodb else None,
                "error": type(error).__name__,
                "detail": str(error)[:300],
            },
        )
        metrics.add_metric(name="RollupRecordsFailed", unit=MetricUnit.Count, value=1)
        raise
    metrics.add_metric(name=f"RollupRecords_{outcome}", unit=MetricUnit.Count, value=1)
    return outcome


@logger.inject_lambda_context(log_event=False)
@tracer.capture_lambda_handler(capture_response=False)
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return dict(process_partial_response(event=event, record_handler=count_one, processor=processor, context=context))
