"""The review queue's open items, read from the appeals table in moto (every page, answered items left out)."""

from __future__ import annotations

import boto3

from functions.stores import aws_clients
from functions.stores.open_reviews import AwsOpenReviews
from functions.stores.referral_queue import AwsReferralQueue
from tests.unit.domain.test_review_backlog import item


def test_open_items_are_every_received_or_in_review_item_of_either_kind(aws_env):
    table = aws_env["CANDOR_APPEALS_TABLE"]
    writer = AwsReferralQueue(table=table, dynamodb=boto3.client("dynamodb"))  # a plain conditional put
    statuses = ["received", "in_review", "upheld", "overturned"]
    for n in range(120):
        writer.refer(item(n, days=n % 40, status=statuses[n % 4], kind="referral" if n % 3 else "appeal"))
    reviews = AwsOpenReviews(table=table, dynamodb=aws_clients.dynamodb())
    found = sorted(reviews.open_items(), key=lambda a: int(a.appeal_id[1:]))
    assert [int(a.appeal_id[1:]) for a in found] == [n for n in range(120) if n % 4 in (0, 1)]
    assert {a.kind for a in found} == {"appeal", "referral"}
