"""Lambda's DynamoDB stream event source mapping, locally: read a table's stream, invoke the handler.

As in AWS: the handler gets batches of at most `BatchSize` records, oldest first, in Lambda's
DynamoDB event shape (`eventSourceARN` added, `ApproximateCreationDateTime` in epoch seconds);
with `ReportBatchItemFailures` the shard restarts at the first sequence number it lists (an
error or an unreadable response restarts at the batch's first record), and a record that fails
more than `MaximumRetryAttempts` times is skipped after its description is sent to the
on-failure destination queue. Records that match none of the mapping's FilterCriteria are
dropped as they are read, before batching (`infra.local.event_filters`): they count as
processed and never reach the handler. Not reproduced: bisecting a failing batch (with partial
batch responses it only isolates a record faster).
"""

from __future__ import annotations

import json
import logging
import traceback
from datetime import datetime
from typing import Any

from infra.local.aws import REGION
from infra.local.event_filters import EventFilter
from infra.local.function_logs import FunctionLogs
from infra.local.polling import Handler, PollingThread, function_arn, invoke
from infra.template import StreamSubscription

logger = logging.getLogger(__name__)


def lambda_stream_record(record: dict[str, Any], stream_arn: str) -> dict[str, Any]:
    """One record as Lambda hands it to the function (and matches it against the filters), from
    GetRecords' answer (boto3's parsed shape)."""
    dynamodb = dict(record["dynamodb"])
    created = dynamodb.get("ApproximateCreationDateTime")
    if isinstance(created, datetime):
        dynamodb["ApproximateCreationDateTime"] = int(created.timestamp())
    return {**record, "dynamodb": dynamodb, "eventSourceARN": stream_arn, "awsRegion": REGION}


def lambda_stream_event(records: list[dict[str, Any]], stream_arn: str) -> dict[str, Any]:
    """Lambda's event for stream records as GetRecords returned them (boto3's parsed shape)."""
    return {"Records": [lambda_stream_record(r, stream_arn) for r in records]}


def first_failure(response: Any, batch: list[str], report_batch_item_failures: bool) -> str | None:
    """The sequence number the shard restarts at after this response; None when the batch succeeded."""
    if not report_batch_item_failures or not isinstance(response, dict):
        return None if response is not None or not report_batch_item_failures else batch[0]
    failed = [f.get("itemIdentifier") for f in response.get("batchItemFailures") or [] if isinstance(f, dict)]
    if not failed:
        return None
    if not all(isinstance(i, str) and i in batch for i in failed):
        return batch[0]  # an unknown identifier fails the whole batch, as in Lambda
    return min((str(i) for i in failed), key=batch.index)


class StreamEventSource(PollingThread):
    """A polling thread standing in for one DynamoDB event source mapping of the template."""

    def __init__(
        self,
        subscription: StreamSubscription,
        stream_arn: str,
        handler: Handler,
        streams: Any,
        *,
        sqs: Any = None,
        failure_queue_url: str | None = None,
        logs: FunctionLogs | None = None,
        idle_seconds: float = 0.5,
    ) -> None:
        self.subscription, self.stream_arn, self.handler, self.streams = subscription, stream_arn, handler, streams
        self.sqs, self.failure_queue_url, self.idle_seconds = sqs, failure_queue_url, idle_seconds
        self.logs = logs
        self.filter = EventFilter(subscription.filters)  # a pattern Lambda would refuse fails here
        self._iterators: dict[str, str | None] = {}
        self._pending: dict[str, list[dict[str, Any]]] = {}
        self._attempts: dict[str, int] = {}
        super().__init__(f"stream-{subscription.function}", stream_arn, pause_seconds=idle_seconds)

    def poll_once(self) -> int:
        """Read what is new on every shard and hand what the filters let through to the handler in batches;
        the number of records handled (those filtered out count: processed, as in Lambda)."""
        handled = 0
        shards = self.streams.describe_stream(StreamArn=self.stream_arn)["StreamDescription"]["Shards"]
        for shard in shards:
            shard_id = shard["ShardId"]
            if shard_id not in self._iterators:
                self._iterators[shard_id] = self.streams.get_shard_iterator(
                    StreamArn=self.stream_arn, ShardId=shard_id, ShardIteratorType="TRIM_HORIZON"
                )["ShardIterator"]
            iterator = self._iterators[shard_id]
            pending = self._pending.setdefault(shard_id, [])
            if iterator is not None:
                answer = self.streams.get_records(ShardIterator=iterator, Limit=1000)
                records = [lambda_stream_record(r, self.stream_arn) for r in answer.get("Records", [])]
                delivered = [r for r in records if self.filter.matches(r)]
                handled += len(records) - len(delivered)
                pending.extend(delivered)
                self._iterators[shard_id] = answer.get("NextShardIterator")
            while pending:
                batch = pending[: self.subscription.batch_size]
                handled += self._invoke(shard_id, batch)
        return handled

    def _invoke(self, shard_id: str, batch: list[dict[str, Any]]) -> int:
        """One invocation; drops from the shard's pending records what succeeded (or was given up on)."""
        numbers = [r["dynamodb"]["SequenceNumber"] for r in batch]
        try:
            response = invoke(self.subscription, self.handler, {"Records": batch}, self.logs)
            restart = first_failure(response, numbers, self.subscription.report_batch_item_failures)
        except Exception:
            logger.error("%s failed on a batch:\n%s", self.subscription.function, traceback.format_exc())
            restart = numbers[0]
        pending = self._pending[shard_id]
        done = len(batch) if restart is None else numbers.index(restart)
        del pending[:done]
        if restart is not None:
            self._attempts[restart] = self._attempts.get(restart, 0) + 1
            limit = self.subscription.maximum_retry_attempts  # -1: until the record expires (never, here)
            if 0 <= limit < self._attempts[restart]:
                self._give_up(shard_id, pending.pop(0))
                done += 1
        return done

    def _give_up(self, shard_id: str, record: dict[str, Any]) -> None:
        number = record["dynamodb"]["SequenceNumber"]
        logger.error("%s gave up on stream record %s", self.subscription.function, number)
        if self.sqs is not None and self.failure_queue_url:
            # What Lambda sends to an on-failure destination: where the batch was, never the records.
            description = {
                "requestContext": {
                    "condition": "RetryAttemptsExhausted",
                    "functionArn": function_arn(self.subscription.function),
                },
                "DDBStreamBatchInfo": {
                    "shardId": shard_id,
                    "startSequenceNumber": number,
                    "endSequenceNumber": number,
                    "batchSize": 1,
                    "streamArn": self.stream_arn,
                },
            }
            self.sqs.send_message(QueueUrl=self.failure_queue_url, MessageBody=json.dumps(description))
