"""Lambda entry point of the explanation worker (SQS event source; the decisions function's container image).

Each message asks for one pending explanation to be completed. Powertools' batch processor
reports the messages that failed (ReportBatchItemFailures): only those come back after the
visibility timeout, and after the queue's maxReceiveCount they move to the dead-letter queue.
"""

from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from functions.api.worker_dependencies import worker_services
from functions.tracing import handler_tracer

logger = Logger()
tracer = handler_tracer()
metrics = Metrics()
# A batch whose every message failed is reported like any other (all listed as failures) rather
# than raised: the retry is the same, and the Errors metric stays for crashes of the worker itself.
processor = BatchProcessor(event_type=EventType.SQS, raise_on_entire_batch_failure=False)


@tracer.capture_method(capture_response=False)
def complete_one(record: SQSRecord, lambda_context: LambdaContext) -> str:
    remaining = lambda_context.get_remaining_time_in_millis() / 1000
    try:
        outcome = worker_services().complete(record.body, remaining)
    except Exception as error:
        # The body holds ids only; never the record. The message returns to the queue for a retry.
        logger.warning(
            "explanation job failed; it will be retried",
            extra={
                "message_id": record.message_id,
                "receive_count": record.attributes.approximate_receive_count,
                "error": type(error).__name__,
                "detail": str(error)[:300],
            },
        )
        metrics.add_metric(name="ExplanationJobsFailed", unit=MetricUnit.Count, value=1)
        raise
    logger.info("explanation job done", extra={"message_id": record.message_id, "outcome": outcome})
    metrics.add_metric(name=f"ExplanationJobs_{outcome}", unit=MetricUnit.Count, value=1)
    return outcome


@logger.inject_lambda_context(log_event=False)
@tracer.capture_lambda_handler(capture_response=False)
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return dict(
        process_partial_response(event=event, record_handler=complete_one, processor=processor, context=context)
    )
