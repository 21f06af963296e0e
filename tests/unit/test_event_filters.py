"""Lambda's event filtering as the local pollers apply it: the Developer Guide's examples, the template's filters.

The rule examples are the guide's table ("Control which events Lambda sends to your function",
filter rule syntax) and its DynamoDB page ("Using event filtering with a DynamoDB event source").
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from infra import template as tpl
from infra.local.event_filters import EventFilter, InvalidPattern, matches, parse_pattern
from infra.local.sqs_event_source import filtered_view


def _match(pattern: dict[str, Any], event: dict[str, Any]) -> bool:
    return matches(parse_pattern(json.dumps(pattern)), event)


@pytest.mark.parametrize(
    ("pattern", "delivered", "dropped"),
    [
        # Null: present and null (a missing field is not null)
        ({"UserID": [None]}, {"UserID": None}, {"UserID": "u1"}),
        ({"UserID": [None]}, {"UserID": None}, {}),
        # Empty
        ({"LastName": [""]}, {"LastName": ""}, {"LastName": "Doe"}),
        # Equals, case and type sensitive
        ({"Name": ["Alice"]}, {"Name": "Alice"}, {"Name": "alice"}),
        ({"Price": [100]}, {"Price": 100}, {"Price": "100"}),
        ({"Price": [300]}, {"Price": 300}, {"Price": 300.0}),  # numbers by their text, as Lambda says
        ({"Active": [True]}, {"Active": True}, {"Active": 1}),
        # Equals (ignore case)
        ({"Name": [{"equals-ignore-case": "alice"}]}, {"Name": "ALICE"}, {"Name": "Alicia"}),
        # And
        (
            {"Location": ["New York"], "Day": ["Monday"]},
            {"Location": "New York", "Day": "Monday"},
            {"Location": "New York", "Day": "Tuesday"},
        ),
        # Or
        ({"PaymentType": ["Credit", "Debit"]}, {"PaymentType": "Debit"}, {"PaymentType": "Cash"}),
        # Or (multiple fields)
        (
            {"$or": [{"Location": ["New York"]}, {"Day": ["Monday"]}]},
            {"Location": "Boston", "Day": "Monday"},
            {"Location": "Boston", "Day": "Friday"},
        ),
        # Not: anything but, and only where there is a value
        ({"Weather": [{"anything-but": ["Raining"]}]}, {"Weather": "Sunny"}, {"Weather": "Raining"}),
        ({"Weather": [{"anything-but": "Raining"}]}, {"Weather": "Snow"}, {}),
        ({"Region": [{"anything-but": {"prefix": "us-"}}]}, {"Region": "eu-west-1"}, {"Region": "us-east-1"}),
        # Numeric (equals), (range); JSON numbers only
        ({"Price": [{"numeric": ["=", 100]}]}, {"Price": 100.0}, {"Price": 101}),
        ({"Price": [{"numeric": [">", 10, "<=", 20]}]}, {"Price": 20}, {"Price": 10}),
        ({"Price": [{"numeric": [">", 10, "<=", 20]}]}, {"Price": 15.5}, {"Price": "15"}),
        ({"Price": [{"numeric": [">=", 0]}]}, {"Price": 0}, {"Price": True}),
        # Exists / does not exist
        ({"ProductName": [{"exists": True}]}, {"ProductName": "Soap"}, {"Other": "x"}),
        ({"ProductName": [{"exists": False}]}, {"Other": "x"}, {"ProductName": "Soap"}),
        # Begins with, ends with
        ({"Region": [{"prefix": "us-"}]}, {"Region": "us-east-1"}, {"Region": "eu-west-1"}),
        ({"FileName": [{"suffix": ".png"}]}, {"FileName": "cat.png"}, {"FileName": "cat.jpg"}),
        # Nested patterns; a list in the record matches when any element does
        ({"data": {"City": ["Seattle"]}}, {"data": {"City": "Seattle"}}, {"data": {"City": "Boston"}}),
        ({"data": {"City": ["Seattle"]}}, {"data": {"City": "Seattle"}}, {"data": "Seattle"}),
        ({"tags": ["red"]}, {"tags": ["blue", "red"]}, {"tags": ["blue"]}),
        ({"tags": [{"anything-but": "red"}]}, {"tags": ["red", "blue"]}, {"tags": ["red"]}),
    ],
)
def test_the_guides_filter_rules(pattern: dict[str, Any], delivered: dict[str, Any], dropped: dict[str, Any]) -> None:
    assert _match(pattern, delivered)
    assert not _match(pattern, dropped)


def test_exists_is_about_leaves_and_a_missing_parent_does_not_exist() -> None:
    pattern = {"customer": {"email": [{"exists": False}]}}
    assert _match(pattern, {})  # no customer at all
    assert _match(pattern, {"customer": {"phone": "555"}})
    assert not _match(pattern, {"customer": {"email": "a@example.com"}})
    assert not _match({"customer": [{"exists": True}]}, {"customer": {"email": "a@example.com"}})  # an object


def test_a_record_is_delivered_when_it_matches_any_filter_and_every_record_without_filters() -> None:
    either = EventFilter(['{"eventName": ["INSERT"]}', '{"eventName": ["MODIFY"]}'])
    assert either.matches({"eventName": "MODIFY"})
    assert not either.matches({"eventName": "REMOVE"})
    assert not EventFilter([])
    assert EventFilter([]).matches({"eventName": "REMOVE"})


@pytest.mark.parametrize(
    "pattern",
    [
        "not json",
        "[]",
        "{}",
        '{"eventName": "INSERT"}',  # a leaf must be a list of rules
        '{"eventName": []}',
        '{"eventName": [{"wildcard": "IN*"}]}',  # not a Lambda operator
        '{"eventName": [{"prefix": "IN", "suffix": "T"}]}',
        '{"n": [{"numeric": [">", "10"]}]}',
        '{"n": [{"numeric": ["~", 10]}]}',
        '{"n": [{"exists": "yes"}]}',
        '{"$or": [{"a": ["x"]}]}',
    ],
)
def test_a_pattern_lambda_would_refuse_fails_when_the_mapping_is_read(pattern: str) -> None:
    with pytest.raises(InvalidPattern):
        EventFilter([pattern])


# ------------------------------------------------------------------------ DynamoDB streams


def _stream_record(event_name: str, **dynamodb: Any) -> dict[str, Any]:
    """A record as Lambda hands it to a function (the shape `lambda_stream_record` builds)."""
    return {
        "eventID": "1",
        "eventName": event_name,
        "eventVersion": "1.1",
        "eventSource": "aws:dynamodb",
        "awsRegion": "eu-west-1",
        "dynamodb": {"ApproximateCreationDateTime": 1678831218, "SequenceNumber": "111", "SizeBytes": 26, **dynamodb},
        "eventSourceARN": "arn:aws:dynamodb:eu-west-1:123456789012:table/t/stream/2026",
    }


def test_the_guides_dynamodb_examples() -> None:
    record = _stream_record(
        "INSERT",
        Keys={"CustomerName": {"S": "AnyCompany Industries"}},
        NewImage={
            "AccountManager": {"S": "Pat Candella"},
            "PaymentTerms": {"S": "60 days"},
            "CustomerName": {"S": "AnyCompany Industries"},
        },
        StreamViewType="NEW_IMAGE",
    )
    by_key = {"dynamodb": {"Keys": {"CustomerName": {"S": ["AnyCompany Industries"]}}}}
    by_attribute = {"dynamodb": {"NewImage": {"AccountManager": {"S": ["Pat Candella", "Shirley Rodriguez"]}}}}
    both = {"dynamodb": {"NewImage": {"AccountManager": {"S": ["Pat Candella"]}, "PaymentTerms": {"S": ["30 days"]}}}}
    assert _match(by_key, record) and _match(by_attribute, record)
    assert not _match(both, record)
    # DynamoDB numbers are strings in the record ({"N": "5"}): numeric rules never match them, in AWS either.
    numbered = _stream_record("INSERT", NewImage={"Total": {"N": "5"}})
    assert not _match({"dynamodb": {"NewImage": {"Total": {"N": [{"numeric": [">", 1]}]}}}}, numbered)
    assert _match({"dynamodb": {"NewImage": {"Total": {"N": ["5"]}}}}, numbered)


def _filter_of(function: str, table: str) -> EventFilter:
    (subscription,) = [s for s in tpl.stream_subscriptions() if s.function == function and s.table == table]
    assert subscription.filters  # the template declares them: this test must not pass vacuously
    return EventFilter(subscription.filters)


def test_the_archive_copier_gets_new_pending_records_and_their_changes_never_its_own_deletes() -> None:
    copier = _filter_of("ArchiveCopyFunction", "PendingRecordsTable")
    keys = {"Keys": {"decision_id": {"S": "01JG0000000000000000000001"}}, "StreamViewType": "KEYS_ONLY"}
    assert copier.matches(_stream_record("INSERT", **keys))
    assert copier.matches(_stream_record("MODIFY", **keys))  # erasure removed the personal part
    assert not copier.matches(_stream_record("REMOVE", **keys))


def test_the_rollups_get_new_records_and_completions_only() -> None:
    records = _filter_of("RollupFunction", "RecordsTable")
    before = {"decision_id": {"S": "d1"}, "model_id": {"S": "m"}}
    completed = before | {"completion_sha256": {"S": "abc"}}
    assert records.matches(_stream_record("INSERT", NewImage=before))
    assert records.matches(_stream_record("MODIFY", OldImage=before, NewImage=completed))
    assert not records.matches(_stream_record("MODIFY", OldImage=completed, NewImage=completed | {"x": {"S": "y"}}))
    assert not records.matches(
        _stream_record("MODIFY", OldImage=before, NewImage=before | {"legal_hold": {"BOOL": True}})
    )
    assert not records.matches(_stream_record("REMOVE", OldImage=completed))
    appeals = _filter_of("RollupFunction", "AppealsTable")
    assert appeals.matches(_stream_record("INSERT", NewImage=before))
    assert not appeals.matches(_stream_record("MODIFY", OldImage=before, NewImage=before))


def test_every_filter_the_template_declares_is_one_lambda_accepts() -> None:
    subscriptions = [*tpl.stream_subscriptions(), *tpl.queue_subscriptions()]
    declared = [s for s in subscriptions if s.filters]
    assert {(s.function, getattr(s, "table", None)) for s in declared} == {
        ("RollupFunction", "RecordsTable"),
        ("RollupFunction", "AppealsTable"),
        ("ArchiveCopyFunction", "PendingRecordsTable"),
    }
    for subscription in declared:
        assert 1 <= len(subscription.filters) <= 5  # Lambda's default quota of filters per mapping
        EventFilter(subscription.filters)


# ------------------------------------------------------------------------ SQS


def test_an_sqs_body_is_matched_as_json_when_it_is_json_and_as_a_string_otherwise() -> None:
    high = EventFilter(['{"body": {"priority": ["high"]}}'])
    plain = EventFilter(['{"body": ["ping"]}'])
    assert high.matches(filtered_view({"messageId": "1", "body": '{"priority": "high"}'}))
    assert not high.matches(filtered_view({"messageId": "2", "body": '{"priority": "low"}'}))
    assert not high.matches(filtered_view({"messageId": "3", "body": "priority=high"}))
    assert plain.matches(filtered_view({"messageId": "4", "body": "ping"}))
    assert not plain.matches(filtered_view({"messageId": "5", "body": '{"ping": 1}'}))
