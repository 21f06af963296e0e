"""The local stack's moto DynamoDB: transactions all or nothing, isolated from concurrent writes, cheap."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import boto3
import pytest
from botocore.exceptions import ClientError
from moto import mock_aws

from infra.local.moto_transactions import serialise_dynamodb_requests


@pytest.fixture
def dynamodb(monkeypatch: pytest.MonkeyPatch):
    for name, value in {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}.items():
        monkeypatch.setenv(name, value)
    serialise_dynamodb_requests()
    with mock_aws():
        client = boto3.client("dynamodb", region_name="eu-west-1")
        for table in ("records", "locks"):
            client.create_table(
                TableName=table,
                KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
                AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
                BillingMode="PAY_PER_REQUEST",
            )
        yield client


NEW = "attribute_not_exists(id)"


def commit(client, n: int, lock_status: str = "INPROGRESS") -> None:
    client.transact_write_items(
        TransactItems=[
            {"Put": {"TableName": "records", "Item": {"id": {"S": f"r{n}"}}, "ConditionExpression": NEW}},
            {
                "Update": {
                    "TableName": "locks",
                    "Key": {"id": {"S": f"l{n}"}},
                    "UpdateExpression": "SET #s = :done",
                    "ConditionExpression": "#s = :lock",
                    "ExpressionAttributeNames": {"#s": "status"},
                    "ExpressionAttributeValues": {":done": {"S": "COMPLETED"}, ":lock": {"S": lock_status}},
                }
            },
        ]
    )  # fmt: skip


def test_a_cancelled_transaction_leaves_every_item_as_it_was(dynamodb):
    dynamodb.put_item(TableName="locks", Item={"id": {"S": "l1"}, "status": {"S": "INPROGRESS"}})
    with pytest.raises(ClientError, match="TransactionCanceled"):
        commit(dynamodb, 1, lock_status="SOMEONE-ELSE")  # the Put applies, the Update's condition fails
    assert "Item" not in dynamodb.get_item(TableName="records", Key={"id": {"S": "r1"}})
    assert dynamodb.get_item(TableName="locks", Key={"id": {"S": "l1"}})["Item"]["status"]["S"] == "INPROGRESS"
    commit(dynamodb, 1)
    assert dynamodb.get_item(TableName="locks", Key={"id": {"S": "l1"}})["Item"]["status"]["S"] == "COMPLETED"


def test_concurrent_transactions_and_writes_lose_nothing(dynamodb):
    n = 60
    for i in range(n):
        dynamodb.put_item(TableName="locks", Item={"id": {"S": f"l{i}"}, "status": {"S": "INPROGRESS"}})

    def work(i: int) -> None:
        if i % 3 == 0:  # a cancelled transaction amid the others
            with pytest.raises(ClientError, match="TransactionCanceled"):
                commit(dynamodb, i, lock_status="SOMEONE-ELSE")
        else:
            commit(dynamodb, i)
        dynamodb.put_item(TableName="records", Item={"id": {"S": f"plain{i}"}})

    with ThreadPoolExecutor(8) as pool:
        list(pool.map(work, range(n)))

    records = {item["id"]["S"] for item in dynamodb.scan(TableName="records")["Items"]}
    assert records == {f"r{i}" for i in range(n) if i % 3} | {f"plain{i}" for i in range(n)}
