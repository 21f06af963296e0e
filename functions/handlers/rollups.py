"""Lambda entry point of the rollup function (DynamoDB stream event source of the records and appeals tables).

Each stream record adds at most one contribution to the rollups (functions/domain/rollups.py),
counted once by the store however often it is delivered; a batch's contributions are summed
into as few transactions as fit (`AwsRollupStore.count_all`). On a failure the handler reports
the first record not counted (ReportBatchItemFailures): Lambda retries from it, bisecting the
batch, and sends the ones that keep failing to the on-failure destination (alarmed).
"""

from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.utilities.data_classes import DynamoDBStreamEvent
from aws_lambda_powertools.utilities.typing import LambdaContext

from functions.rollup_service import rollup_service
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
    batch = rollup_service().count_batch(records)
    return batch_response(
        records,
        batch.outcomes,
        batch.error,
        metric="RollupRecords",
        failure="rollup failed",
        logger=logger,
        metrics=metrics,
    )
