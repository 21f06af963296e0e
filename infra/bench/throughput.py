"""Figure 6: local-stack throughput, decisions/s over HTTP vs moto's own ceiling for the same writes.

Candor: `infra.local.stack.LocalStack` (handlers behind the local gateway, records in moto),
several client threads posting `ticket-router` decisions with fresh request_ids, a round timed
until the archive copier has copied them all (`LocalStack.drain`). Ceiling:
the same threads calling the same moto server with boto3, per decision the writes Candor
makes: on the decision path one TransactWriteItems (the remembered answer's conditional Put, the
pending record's Put, in a scratch table of the same schema and stream that no copier reads, and
the index item's Put); then the archive copier's
work on the same server (GetItem of the pending record, S3 PutObject of the record and of a
personal part, DeleteItem), with a record and index item copied from one Candor stored.
Rounds alternate.
"""

from __future__ import annotations

import contextlib
import io
import threading
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from infra.bench.stats import Figure, Row, Summary, ratios

THREADS = 4
# The ceiling's pending records go to a table of the same key schema and stream that no copier reads: in the
# stack's own pending table the archive copier would race the ceiling's own copy (and fail on its partial items).
SCRATCH_PENDING_TABLE = "candor-bench-pending"
GOAL = 0.8


_local = threading.local()  # per client thread: its HTTP session and boto3 clients, made in the warm-up


def _in_threads(pool: ThreadPoolExecutor, work: Callable[[int], None], total: int) -> float:
    """Decisions (or write sets) per second for `total` calls of `work` spread over the pool's threads."""
    start = time.perf_counter()
    list(pool.map(work, range(total)))
    return total / (time.perf_counter() - start)


def candor_round(pool: ThreadPoolExecutor, stack: Any, total: int) -> float:
    import requests

    from infra.local.sample_events import TICKET_EN

    url = f"{stack.api_url}/v1/decisions/ticket-router"
    headers = {"Authorization": f"Bearer {stack.tokens['chatbot']}"}

    def decide(_: int) -> None:
        if not hasattr(_local, "session"):
            _local.session = requests.Session()
        session = _local.session
        body = TICKET_EN | {"request_id": f"tp-{uuid.uuid4()}"}
        response = session.post(url, json=body, headers=headers, timeout=30)
        response.raise_for_status()

    start = time.perf_counter()
    list(pool.map(decide, range(total)))
    stack.drain()  # their archive copies too (the copier shares this process): the ceiling includes its writes
    return total / (time.perf_counter() - start)


def stored_sample(stack: Any) -> tuple[dict[str, Any], bytes]:
    """One records-table item and its archive object, as Candor stored them."""
    stack.drain()  # the archive object is written by the copier, after the answer
    client, s3 = _clients(stack)
    item = client.scan(TableName=stack.env["CANDOR_RECORDS_TABLE"], Limit=1)["Items"][0]
    body = s3.get_object(Bucket=stack.env["CANDOR_ARCHIVE_BUCKET"], Key=item["archive_key"]["S"])["Body"].read()
    return item, body


def _clients(stack: Any) -> tuple[Any, Any]:
    import boto3

    session = boto3.Session(
        aws_access_key_id="testing",
        aws_secret_access_key="testing",  # noqa: S106  # moto's dummy credentials
        region_name=stack.env["AWS_DEFAULT_REGION"],
    )
    return session.client("dynamodb", endpoint_url=stack.aws_url), session.client("s3", endpoint_url=stack.aws_url)


def moto_round(pool: ThreadPoolExecutor, stack: Any, sample: tuple[dict[str, Any], bytes], total: int) -> float:
    import base64
    import hashlib

    item, body = sample
    env = stack.env
    checksum = base64.b64encode(hashlib.sha256(body).digest()).decode()

    def writes(_: int) -> None:
        if not hasattr(_local, "clients"):
            _local.clients = _clients(stack)
        dynamodb, s3 = _local.clients
        decision_id, key = str(uuid.uuid4()), f"records/model=bench/date=2026-01-01/{uuid.uuid4()}.json"
        remembered = {
            "TableName": env["CANDOR_IDEMPOTENCY_TABLE"],
            "Item": {
                "id": {"S": f"bench#{decision_id}"},
                "expiration": {"N": "9999999999"},
                "status": {"S": "COMPLETED"},
                "data": {"S": body[:2000].decode(errors="ignore")},
            },
            "ConditionExpression": "attribute_not_exists(#id)",
            "ExpressionAttributeNames": {"#id": "id"},
        }
        index = {
            "TableName": env["CANDOR_RECORDS_TABLE"],
            "Item": item | {"decision_id": {"S": decision_id}, "archive_key": {"S": key}},
            "ConditionExpression": "attribute_not_exists(decision_id)",
        }
        pending_key = {"decision_id": {"S": decision_id}}
        pending = {
            "TableName": SCRATCH_PENDING_TABLE,
            "Item": pending_key | {"sealed": {"B": body}, "personal": {"B": body[:500]}, "archive_key": {"S": key}},
            "ConditionExpression": "attribute_not_exists(decision_id)",
        }
        dynamodb.transact_write_items(TransactItems=[{"Put": remembered}, {"Put": pending}, {"Put": index}])
        # The copier's share, on the same moto server.
        dynamodb.get_item(TableName=SCRATCH_PENDING_TABLE, Key=pending_key, ConsistentRead=True)
        s3.put_object(
            Bucket=env["CANDOR_ARCHIVE_BUCKET"], Key=key, Body=body, ContentType="application/json",
            ServerSideEncryption="aws:kms", SSEKMSKeyId=env["CANDOR_KMS_KEY_ID"], ChecksumAlgorithm="SHA256",
            ChecksumSHA256=checksum, IfNoneMatch="*",
        )  # fmt: skip
        s3.put_object(
            Bucket=env["CANDOR_PERSONAL_BUCKET"], Key=f"personal/{decision_id}.json", Body=body[:500],
            ContentType="application/json", ServerSideEncryption="aws:kms", SSEKMSKeyId=env["CANDOR_KMS_KEY_ID"],
            IfNoneMatch="*",
        )  # fmt: skip
        dynamodb.delete_item(TableName=SCRATCH_PENDING_TABLE, Key=pending_key)

    return _in_threads(pool, writes, total)


def run(quick: bool) -> Figure:
    from infra.local.stack import LocalStack

    figure = Figure(
        6,
        "Local stack throughput",
        f"decisions/s over HTTP at least {GOAL}x moto's own ceiling for the same writes",
    )
    rounds, per_round = (1, 8) if quick else (5, 120)
    # preload=False: only the decisions function is imported (on the warm-up's first request)
    with (
        LocalStack(preload=False) as stack,
        ThreadPoolExecutor(THREADS) as pool,
        contextlib.redirect_stdout(io.StringIO()),
    ):
        candor_round(pool, stack, 1)  # the cold start alone first: concurrent first requests all wait on it
        candor_round(pool, stack, THREADS * 2)  # warm-up: models loaded, sessions and clients made
        sample = stored_sample(stack)
        _clients(stack)[0].create_table(
            TableName=SCRATCH_PENDING_TABLE,
            KeySchema=[{"AttributeName": "decision_id", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "decision_id", "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
            StreamSpecification={"StreamEnabled": True, "StreamViewType": "KEYS_ONLY"},  # recorded, as the real one
        )
        moto_round(pool, stack, sample, THREADS * 2)
        candor: list[float] = []
        moto: list[float] = []
        for _ in range(rounds):
            candor.append(candor_round(pool, stack, per_round))
            moto.append(moto_round(pool, stack, sample, per_round))
    ratio = Summary.of(ratios(candor, moto))
    figure.rows += [
        Row(
            "Candor over HTTP",
            f"ticket-router decisions/s, {THREADS} client threads, {per_round} per round",
            "1/s",
            Summary.of(candor),
        ),
        Row("moto ceiling", "same writes per decision with boto3, same threads, same server", "1/s", Summary.of(moto)),
        Row("ratio", "Candor / moto ceiling, same round", "x", ratio),
    ]
    figure.goal_met = ratio.median >= GOAL
    figure.notes.append(
        "moto, the local gateway and the handlers share one Python process (and its GIL) on this machine."
    )
    return figure
