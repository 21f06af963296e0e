"""Stand-in Lambda handlers for testing the local gateway and stack without the real functions."""

from __future__ import annotations

import base64
import json
import os
from typing import Any

CALLS: list[dict[str, Any]] = []


def echo(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Return the event, the context's attributes and the Candor environment as JSON."""
    CALLS.append(event)
    body = {
        "event": event,
        "context": {
            "function_name": context.function_name,
            "memory_limit_in_mb": context.memory_limit_in_mb,
            "aws_request_id": context.aws_request_id,
            "invoked_function_arn": context.invoked_function_arn,
            "remaining_ms": context.get_remaining_time_in_millis(),
        },
        "env": {k: v for k, v in os.environ.items() if k.startswith(("CANDOR_", "AWS_ENDPOINT_URL"))},
    }
    return {
        "statusCode": 200,
        "headers": {"Content-Type": "application/json", "X-Single": "one"},
        "multiValueHeaders": {"X-Multi": ["a", "b"]},
        "body": json.dumps(body),
    }


PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\xff\xfe"


def binary(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Return a binary body, base64-encoded as a proxy integration must."""
    return {
        "statusCode": 201,
        "headers": {"Content-Type": "image/png"},
        "body": base64.b64encode(PNG).decode(),
        "isBase64Encoded": True,
    }


def boom(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Fail like an unhandled exception in a function."""
    raise RuntimeError("kaboom")


def malformed(event: dict[str, Any], context: Any) -> Any:
    """Return something that is not a proxy response."""
    return "not a proxy response"


def sqs_partial(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """An SQS-triggered function that fails every message whose body says "fail" (ReportBatchItemFailures)."""
    CALLS.append(event)
    print(json.dumps({"message": "batch", "size": len(event["Records"])}))  # to the function's own log file
    return {"batchItemFailures": [{"itemIdentifier": r["messageId"]} for r in event["Records"] if "fail" in r["body"]]}


INVOCATIONS = 0  # per instance: module state, as a Lambda execution environment keeps it


def instance_probe(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Sleep `?sleep=` seconds, print a log line, and say which instance ran it and what it saw there."""
    import time

    from infra.local import s3_semantics
    from infra.local.invocation import current_function

    global INVOCATIONS
    INVOCATIONS += 1
    time.sleep(float((event.get("queryStringParameters") or {}).get("sleep", "0")))
    print(json.dumps({"message": "probe", "pid": os.getpid()}))
    body = {
        "pid": os.getpid(),
        "invocations": INVOCATIONS,
        "running": current_function(),
        "s3_semantics": bool(s3_semantics._installed),
        "log_stream": context.log_stream_name,
        "remaining_ms": context.get_remaining_time_in_millis(),
        "table": os.environ.get("CANDOR_RECORDS_TABLE"),
    }
    return {"statusCode": 200, "headers": {"Content-Type": "application/json"}, "body": json.dumps(body)}


STREAM_EVENT_NAMES: list[str] = []  # what a recording stream function was handed, in order


def recording_archive_copy(event: dict[str, Any], context: Any) -> Any:
    """The real archive copier, after noting the `eventName` of each stream record the mapping handed it."""
    from functions.handlers.archive_copy import lambda_handler

    STREAM_EVENT_NAMES.extend(record["eventName"] for record in event["Records"])
    return lambda_handler(event, context)
