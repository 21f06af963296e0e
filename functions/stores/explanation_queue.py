"""The job queue of deferred explanations: one SQS message per pending explanation.

The message names the decision and its model only: the worker reads everything else from the
stored record, so nothing personal travels through the queue.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from botocore.exceptions import BotoCoreError, ClientError

from functions.domain.errors import DependencyUnavailable

if TYPE_CHECKING:
    from mypy_boto3_sqs import SQSClient


def job_body(decision_id: str, model_id: str) -> str:
    """The message body the worker reads (`explanation_job`)."""
    return json.dumps({"decision_id": decision_id, "model_id": model_id}, separators=(",", ":"))


@dataclass(frozen=True)
class ExplanationJob:
    decision_id: str
    model_id: str


def explanation_job(body: str) -> ExplanationJob:
    """Parse a message body; ValueError for anything but {decision_id, model_id} strings."""
    data: Any = json.loads(body)
    if not isinstance(data, dict) or not all(isinstance(data.get(k), str) for k in ("decision_id", "model_id")):
        raise ValueError("an explanation job is {decision_id, model_id}")
    return ExplanationJob(decision_id=data["decision_id"], model_id=data["model_id"])


@dataclass(frozen=True)
class SqsExplanationQueue:
    """The domain's ExplanationQueue on an SQS standard queue (SSE; a dead-letter queue behind it)."""

    queue_url: str
    sqs: SQSClient

    def enqueue(self, decision_id: str, model_id: str) -> None:
        """Send the job; DependencyUnavailable if SQS refuses or cannot be reached (the decision then fails closed)."""
        try:
            self.sqs.send_message(QueueUrl=self.queue_url, MessageBody=job_body(decision_id, model_id))
        except (ClientError, BotoCoreError) as error:
            code = error.response.get("Error", {}).get("Code", "ClientError") if isinstance(error, ClientError) else ""
            raise DependencyUnavailable(
                f"the explanation could not be queued: {code or type(error).__name__}"
            ) from error
