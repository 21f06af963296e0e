"""The queue of review notifications: one SQS message per resolved review, for the webhook function.

The message is the notification itself (ids, verdict, outcome, digest; nothing personal, no reason).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import TYPE_CHECKING

from botocore.exceptions import BotoCoreError, ClientError

from functions.domain.errors import DependencyUnavailable
from functions.domain.review_webhook import notification
from functions.schemas.review import SealedReview

if TYPE_CHECKING:
    from mypy_boto3_sqs import SQSClient


@dataclass(frozen=True)
class SqsReviewNotifications:
    """Review notifications on an SQS standard queue (SSE-KMS; a dead-letter queue behind it)."""

    queue_url: str
    sqs: SQSClient

    def enqueue(self, sealed: SealedReview) -> None:
        """Send the notification; DependencyUnavailable if SQS refuses or cannot be reached."""
        try:
            self.sqs.send_message(
                QueueUrl=self.queue_url, MessageBody=json.dumps(notification(sealed), separators=(",", ":"))
            )
        except (ClientError, BotoCoreError) as error:
            reason = type(error).__name__
            raise DependencyUnavailable(f"the review notification could not be queued: {reason}") from error
