"""What a DynamoDB stream handler answers Lambda after a batch: metrics, and the first record to retry from.

Shared by the rollup and archive-copy handlers. A batch is processed in order up to its first
failure; with ReportBatchItemFailures, Lambda resumes the shard at the reported sequence number
(bisecting and retrying it, then sending it to the on-failure destination). Only keys, sequence
numbers and error codes are logged: the stream images hold segments, the pending items personal data.
"""

from collections import Counter
from collections.abc import Sequence
from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.data_classes.dynamo_db_stream_event import DynamoDBRecord


def batch_response(
    records: Sequence[DynamoDBRecord],
    outcomes: Sequence[str],
    error: Exception | None,
    *,
    metric: str,
    failure: str,
    logger: Logger,
    metrics: Metrics,
) -> dict[str, Any]:
    """`<metric>_<outcome>` counts and, after a failure, `<metric>Failed`, a warning and the record to retry from."""
    for outcome, count in Counter(outcomes).items():
        metrics.add_metric(name=f"{metric}_{outcome}", unit=MetricUnit.Count, value=count)
    if error is None:
        return {"batchItemFailures": []}
    failed = records[len(outcomes)]
    sequence_number = failed.dynamodb.sequence_number if failed.dynamodb else None
    logger.warning(
        f"{failure}; the batch will be retried from this record",
        extra={
            "sequence_number": sequence_number,
            "decision_id": (failed.dynamodb.keys or {}).get("decision_id") if failed.dynamodb else None,
            "error": type(error).__name__,
            "detail": _detail(error),
        },
    )
    metrics.add_metric(name=f"{metric}Failed", unit=MetricUnit.Count, value=len(records) - len(outcomes))
    return {"batchItemFailures": [{"itemIdentifier": sequence_number}]}


def _detail(error: Exception) -> str:
    """The error's message, or for a cancelled transaction which of its actions failed and why (codes only)."""
    reasons = getattr(error, "response", {}).get("CancellationReasons") or []
    failed = [f"{n}: {r.get('Code')}" for n, r in enumerate(reasons) if r.get("Code") not in (None, "None")]
    return ("cancelled at " + ", ".join(failed)) if failed else str(error)[:300]
