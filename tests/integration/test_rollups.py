"""Rollups on real records: stored by the record store, read back from moto's DynamoDB stream, fed to the
rollup function's handler as Lambda would, and the reports from rollups equal to the reports over the index."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import boto3
import pytest
from aws_lambda_powertools.utilities.data_classes.dynamo_db_stream_event import DynamoDBRecord
from botocore.config import Config

from functions.domain.audit import Window
from functions.domain.reports import fairness_report, fairness_report_of
from functions.domain.seal import new_salt, personal_digest, seal
from functions.report_sources import report_sources
from functions.rollup_service import rollup_service
from functions.schemas.record import RecordedContribution
from functions.stores import aws_clients
from infra.local.stream_event_source import lambda_stream_event
from tests.support import erase, lambda_context, record_store
from tests.unit.domain.records import sample_envelope, sample_personal

START = datetime(2026, 11, 27, 9, 20, tzinfo=UTC)
AGES = ("18-24", "25-44", "45-64", "65+")
FEATURES = ("amount", "tenure", "channel", "history")
NOW = datetime(2026, 12, 30, tzinfo=UTC)  # long after: every hour of the test is settled


def _record(serial: int, rng: random.Random, features: tuple[str, ...] = FEATURES):
    personal = sample_personal().model_copy(
        update={
            "segments": {"age_band": AGES[serial % 4], "gender": "fm"[(serial // 4) % 2]} if serial % 9 else {},
            "salt": new_salt(),
        }
    )
    base = sample_envelope(personal)
    moment = START + timedelta(minutes=37 * serial)
    outcome = "approve" if rng.random() < (0.35 if serial % 4 == 3 else 0.7) else "deny"
    contributions = [RecordedContribution(feature=f, attribution=rng.uniform(-2, 2)) for f in features]
    envelope = base.model_copy(
        update={
            "decision_id": f"01JF{serial:022d}",
            "decided_at": moment.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
            "outcome": base.outcome.model_copy(update={"label": outcome}),
            "explanation": base.explanation.model_copy(update={"contributions": contributions}),
            "personal_sha256": personal_digest(personal),
        }
    )
    return seal(envelope, personal)


def _streams():
    # botocore's account-based endpoint for DynamoDB Streams is one moto does not route.
    return boto3.client("dynamodbstreams", config=Config(account_id_endpoint_mode="disabled"))


def _stream(table: str, after: str | None = None) -> tuple[str, list[dict]]:
    """The table's stream ARN and every record on it (after a sequence number)."""
    dynamodb, streams = boto3.client("dynamodb"), _streams()
    arn = dynamodb.describe_table(TableName=table)["Table"]["LatestStreamArn"]
    records = []
    for shard in streams.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"]:
        iterator = streams.get_shard_iterator(StreamArn=arn, ShardId=shard["ShardId"], ShardIteratorType="TRIM_HORIZON")
        answer = streams.get_records(ShardIterator=iterator["ShardIterator"], Limit=1000)
        records += answer["Records"]
    if after is not None:
        records = [r for r in records if int(r["dynamodb"]["SequenceNumber"]) > int(after)]
    return arn, records


def _handle(records: list[dict], arn: str) -> dict:
    from functions.handlers import rollups as rollup_handler  # after aws_env: Powertools reads its namespace

    return rollup_handler.lambda_handler(lambda_stream_event(records, arn), lambda_context("RollupFunction"))


def _feed(table: str, after: str | None = None) -> list[dict]:
    """Every stream record of the table (after a sequence number), handed to the rollup handler in Lambda's shape."""
    arn, records = _stream(table, after)
    for start in range(0, len(records), 100):
        assert _handle(records[start : start + 100], arn) == {"batchItemFailures": []}
    return records


@pytest.fixture
def stored(aws_env):
    rng = random.Random(16)
    store = record_store(aws_env, aws_clients.dynamodb(), aws_clients.s3())
    records = [_record(n, rng) for n in range(110)]  # about three days, 37 minutes apart
    for record in records:
        store.put(record)
    return records


def _window() -> Window:  # partial hours at both ends, whole hours and whole days between
    return Window(START + timedelta(minutes=7), START + timedelta(days=2, hours=17, minutes=41))


def _fairness(attributes, now=NOW):
    sources = report_sources()
    tally, source = sources.fairness(_window(), "ticket-router", attributes, favourable="approve", now=now)
    report = fairness_report_of(tally, model_id="ticket-router", min_group_size=5, window={})
    streamed = fairness_report(
        sources.index_items(_window(), "ticket-router", ("outcome", "segments", "erasure_status")),
        model_id="ticket-router",
        attributes=attributes,
        favourable="approve",
        min_group_size=5,
        window={},
    )
    return report, streamed, source


def test_reports_from_rollups_equal_the_index_pass_and_keep_no_personal_value(stored, aws_env):
    _feed(aws_env["CANDOR_RECORDS_TABLE"])
    for attributes in (["age_band"], ["gender", "age_band"], ["age_band", "gender"]):
        report, streamed, source = _fairness(attributes)
        assert "from the rollups" in source and "2026-11-28..2026-11-29" in source  # days and hours from rollups
        assert report.model_dump() == streamed.model_dump()
        assert report.records > 80 and report.unknown > 0
        assert len(report.groups) + len(report.small_groups) == (4 if len(attributes) == 1 else 8)

    sources = report_sources()
    rolled, source = sources.attributions(_window(), "ticket-router", now=NOW)
    assert "from the rollups" in source
    streamed_tally, _ = sources.attributions(_window(), "ticket-router", now=START)  # nothing settled: the index
    assert rolled.records == streamed_tally.records > 80
    assert rolled.outcomes == streamed_tally.outcomes and rolled.disclosed == streamed_tally.disclosed
    assert rolled.means().keys() == streamed_tally.means().keys() == set(FEATURES)
    for feature, mean in streamed_tally.means().items():
        assert rolled.means()[feature] == pytest.approx(mean, abs=1e-8)

    items = boto3.client("dynamodb").scan(TableName=aws_env["CANDOR_ROLLUPS_TABLE"])["Items"]
    text = repr(items)
    assert all(r.envelope.subject_hash not in text for r in stored)
    markers = [i for i in items if i["pk"]["S"].startswith("counted#")]
    assert len(markers) == len(stored) and all("expires_at" in m for m in markers)
    assert {k for i in items if not i["pk"]["S"].startswith("counted#") for k in i} <= {
        "pk", "sk", "n", "notices", *(f"o:{o}" for o in ("approve", "deny")), "x:complete",
        *(f"{p}{f}" for p in ("abs:", "sum:") for f in FEATURES),
    }  # fmt: skip
    assert all(Decimal(i["n"]["N"]) > 0 for i in items if "n" in i)


def test_redelivery_and_erasure_take_nothing_back_and_count_nothing_twice(stored, aws_env):
    records = _feed(aws_env["CANDOR_RECORDS_TABLE"])
    first, _, _ = _fairness(["age_band"])
    _feed(aws_env["CANDOR_RECORDS_TABLE"])  # the whole stream again, as after a failed checkpoint
    again, streamed, _ = _fairness(["age_band"])
    assert again.model_dump() == first.model_dump() == streamed.model_dump()

    erased = [r for r in stored if r.personal.segments][40:60]
    for record in erased:
        erase(aws_env, record.envelope.decision_id)
    modified = _feed(aws_env["CANDOR_RECORDS_TABLE"], after=records[-1]["dynamodb"]["SequenceNumber"])
    assert len(modified) == len(erased) and all("segments" not in r["dynamodb"]["NewImage"] for r in modified)
    after, streamed, _ = _fairness(["age_band"])
    assert after.model_dump() == first.model_dump()  # nothing taken back, nothing counted twice
    assert streamed.unknown > first.unknown  # the index pass no longer sees their groups


def test_a_batch_is_summed_into_few_transactions_and_its_redelivered_part_counts_once(stored, aws_env):
    arn, records = _stream(aws_env["CANDOR_RECORDS_TABLE"])
    transactions = []
    client = rollup_service().store.dynamodb
    client.meta.events.register("before-call.dynamodb.TransactWriteItems", lambda **_: transactions.append(1))
    assert _handle(records[:30], arn) == {"batchItemFailures": []}
    assert _handle(records[:100], arn) == {"batchItemFailures": []}  # the first 30 again, with 70 new
    assert _handle(records[100:], arn) == {"batchItemFailures": []}
    assert len(transactions) < len(records) / 5  # the hour and day items, summed, not one ADD per record
    report, streamed, _ = _fairness(["age_band"])
    assert report.model_dump() == streamed.model_dump()


def test_a_text_models_words_are_summed_in_updates_within_dynamodbs_expression_limit(aws_env):
    # A text model's attributions are its words: a batch of messages names far more counters than one ADD may hold.
    rng = random.Random(5)
    store = record_store(aws_env, aws_clients.dynamodb(), aws_clients.s3())
    records = [_record(n, rng, tuple(f"word{20 * n + i}" for i in range(20))) for n in range(100)]
    for record in records:
        store.put(record)
    expressions: list[str] = []

    def keep(params, **_):
        expressions.extend(a["Update"]["UpdateExpression"] for a in params["TransactItems"] if "Update" in a)

    rollup_service().store.dynamodb.meta.events.register("provide-client-params.dynamodb.TransactWriteItems", keep)
    _feed(aws_env["CANDOR_RECORDS_TABLE"])
    assert expressions and max(len(e) for e in expressions) <= 4096  # DynamoDB's limit on an expression
    rolled, _ = report_sources().attributions(
        Window(START, START + timedelta(days=5)), "ticket-router", now=NOW
    )  # every hour settled: all of it from the rollups
    assert rolled.records == len(records) and len(rolled.means()) == 20 * len(records)


def test_a_batch_stops_at_the_record_that_fails_and_keeps_what_was_counted(stored, aws_env):
    from functions.handlers import rollups as rollup_handler

    arn, records = _stream(aws_env["CANDOR_RECORDS_TABLE"])
    event = lambda_stream_event(records[:60], arn)
    event["Records"][40]["eventSourceARN"] = arn.replace("candor-records", "someone-elses")
    response = rollup_handler.lambda_handler(event, lambda_context("RollupFunction"))
    assert response == {"batchItemFailures": [{"itemIdentifier": records[40]["dynamodb"]["SequenceNumber"]}]}
    again = rollup_service().count_batch([DynamoDBRecord(r) for r in lambda_stream_event(records[:41], arn)["Records"]])
    assert again.error is None and again.outcomes == ["repeat"] * 40 + ["counted"]


def test_appeals_from_the_appeals_stream_equal_the_appeals_index(aws_env):
    from functions.schemas.customer import StoredAppeal
    from functions.stores.appeal_store import AwsAppealStore

    appeals = AwsAppealStore(table=aws_env["CANDOR_APPEALS_TABLE"], dynamodb=aws_clients.dynamodb())
    for n, status in enumerate(("received", "received", "in_review")):
        created = START + timedelta(hours=5 + 20 * n)
        appeals.create(
            StoredAppeal(
                appeal_id=f"01JH{n:022d}",
                decision_id=f"01JF{n:022d}",
                status=status,
                reason="charged twice",
                created_at=created.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
                model_id="ticket-router",
                model_day=f"ticket-router#{created.date().isoformat()}",
                locale="en",
            )
        )
    for _ in range(2):  # delivered twice, counted once
        _feed(aws_env["CANDOR_APPEALS_TABLE"])
    rolled, source = report_sources().attributions(_window(), "ticket-router", now=NOW)
    streamed, _ = report_sources().attributions(_window(), "ticket-router", now=START)
    assert "from the rollups" in source
    assert rolled.appeals == streamed.appeals == {"received": 2, "in_review": 1}
