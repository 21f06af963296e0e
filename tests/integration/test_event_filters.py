"""The local stack's event source mappings apply their FilterCriteria before invoking, as Lambda does.

The archive copier's mapping (PendingRecordsTable's stream) lets INSERT and MODIFY through: the
copier's own deletes are on the stream but never reach it. No SQS mapping of the template has
filters; the SQS poller's are checked on a mapping given some.
"""

from __future__ import annotations

import dataclasses
import json
from typing import Any

import boto3

from functions.stores.pending_records import PendingRecord, pending_put
from infra import template as tpl
from infra.local.sqs_event_source import SqsEventSource
from infra.local.stack import LocalStack
from tests import dummy_handlers


def _pending(serial: int) -> PendingRecord:
    decision_id = f"01JG{serial:022d}"
    return PendingRecord(
        decision_id=decision_id,
        decided_at="2026-11-27T10:00:00Z",
        archive_key=f"records/2026/11/27/{decision_id}.json",
        sealed=b'{"sealed": true}',
        content_sha256="0" * 64,
        personal_key=f"personal/{decision_id}.json",
        personal=b'{"inputs": {}}',
    )


def test_the_archive_copier_never_receives_its_own_deletes() -> None:
    dummy_handlers.STREAM_EVENT_NAMES.clear()
    handlers = {"ArchiveCopyFunction": "tests.dummy_handlers.recording_archive_copy"}
    with LocalStack(handlers=handlers, preload=False) as stack:
        dynamodb = boto3.client("dynamodb", endpoint_url=stack.aws_url, region_name="eu-west-1")
        table = stack.env["CANDOR_PENDING_TABLE"]
        dynamodb.put_item(**pending_put(table, _pending(1)))  # type: ignore[arg-type]
        stack.drain()  # copied, then deleted by the copier: a REMOVE on the stream
        # One shard, read in order: once the second item is copied, the poller has passed the first's REMOVE.
        dynamodb.put_item(**pending_put(table, _pending(2)))  # type: ignore[arg-type]
        stack.drain()
        stream = dynamodb.describe_table(TableName=table)["Table"]["LatestStreamArn"]
        on_stream = _event_names(stack.aws_url, stream)
    assert on_stream == ["INSERT", "REMOVE", "INSERT", "REMOVE"]  # the deletes are there to be filtered
    assert dummy_handlers.STREAM_EVENT_NAMES == ["INSERT", "INSERT"]


def _event_names(aws_url: str, stream_arn: str) -> list[str]:
    """Every record's eventName on the stream, read from its start (an administrator's view)."""
    streams = boto3.client("dynamodbstreams", endpoint_url=aws_url, region_name="eu-west-1")
    names: list[str] = []
    for shard in streams.describe_stream(StreamArn=stream_arn)["StreamDescription"]["Shards"]:
        iterator = streams.get_shard_iterator(
            StreamArn=stream_arn, ShardId=shard["ShardId"], ShardIteratorType="TRIM_HORIZON"
        )["ShardIterator"]
        names.extend(r["eventName"] for r in streams.get_records(ShardIterator=iterator)["Records"])
    return names


def test_the_sqs_poller_deletes_what_the_filters_drop_and_hands_over_the_rest(aws_env: dict[str, str]) -> None:
    (jobs,) = [s for s in tpl.queue_subscriptions() if s.function == "ExplanationWorkerFunction"]
    subscription = dataclasses.replace(jobs, batch_size=10, filters=('{"body": {"priority": ["high"]}}',))
    handed: list[str] = []

    def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
        handed.extend(r["body"] for r in event["Records"])
        return {"batchItemFailures": []}

    sqs, url = boto3.client("sqs"), aws_env["CANDOR_EXPLANATION_QUEUE_URL"]
    for body in ({"priority": "high", "n": 1}, {"priority": "low"}, "priority=high", {"priority": "high", "n": 2}):
        text = body if isinstance(body, str) else json.dumps(body)
        sqs.send_message(QueueUrl=url, MessageBody=text, DelaySeconds=0)  # not the queue's 2 s
    poller = SqsEventSource(subscription, url, handler, sqs, wait_seconds=0)
    for _ in range(10):  # until a receive finds nothing visible
        if not poller.poll_once():
            break
    assert sorted(json.loads(b)["n"] for b in handed) == [1, 2]
    counts = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    # the dropped messages were deleted, not left to come back after the visibility timeout
    assert (counts["ApproximateNumberOfMessages"], counts["ApproximateNumberOfMessagesNotVisible"]) == ("0", "0")
