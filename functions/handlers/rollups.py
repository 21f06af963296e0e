"""Lambda entry point of the rollup function (DynamoDB stream event source of the records and appeals tables).

Each stream record adds at most one contribution to the rollups (functions/domain/rollups.py),
counted once by the store however often it is delivered; a batch's contributions are summed
into as few transactions as fit (`AwsRollupStore.count_all`). On a failure the handler reports
the first record not counted (ReportBatchItemFailures): Lambda retries from it, bisecting the
batch, and sends the ones that keep failing to the on-failure destination (alarmed).
"""

from collections import Counter
from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.data_classes import DynamoDBStreamEvent
from aws_lambda_powertools.utilities.typing import LambdaContext

from functions.rollup_service import rollup_service
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
    for outcome, count in Counter(batch.outcomes).items():
        metrics.add_metric(name=f"RollupRecords_{outcome}", unit=MetricUnit.Count, value=count)
    if batch.error is None:
        return {"batchItemFailures": []}
    failed = records[len(batch.outcomes)]
    sequence_number = failed.dynamodb.sequence_number if failed.dynamodb else None
    # Keys and sequence numbers only: the images hold segments, which never go to the logs.
    logger.warning(
        "rollup failed; the batch will be retried from this record",
        extra={
            "sequence_number": sequence_number,
            "error": type(batch.error).__name__,
            "detail": _detail(batch.error),
        },
    )
    metrics.add_metric(name="RollupRecordsFailed", unit=MetricUnit.Count, value=len(records) - len(batch.outcomes))
    return {"batchItemFailures": [{"itemIdentifier": sequence_number}]}


def _detail(error: Exception) -> str:
    """The error's message, or for a cancelled transaction which of its actions failed and why (codes only)."""
    reasons = getattr(error, "response", {}).get("CancellationReasons") or []
    failed = [f"{n}: {r.get('Code')}" for n, r in enumerate(reasons) if r.get("Code") not in (None, "None")]
    return ("cancelled at " + ", ".join(failed)) if failed else str(error)[:300]
