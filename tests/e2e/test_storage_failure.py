"""Fail closed: when a write of the record fails, the caller gets 503 and no decision."""

from collections.abc import Callable, Iterator
from contextlib import contextmanager

import pytest
from botocore.exceptions import ClientError, EndpointConnectionError

from functions.stores import aws_clients
from tests.e2e.bodies import body

pytestmark = pytest.mark.e2e


def unreachable(operation: str) -> Exception:
    return EndpointConnectionError(endpoint_url="http://unreachable")


def refused(code: str) -> Callable[[str], Exception]:
    return lambda operation: ClientError({"Error": {"Code": code, "Message": "injected"}}, operation)


@contextmanager
def failing(client, operation: str, fault: Callable[[str], Exception] = unreachable) -> Iterator[None]:
    """Make every `operation` call of the function's own (cached) boto3 client fail with `fault`."""

    def refuse(**_: object) -> None:
        raise fault(operation)

    event = f"before-call.{client.meta.service_model.service_name}.{operation}"
    client.meta.events.register(event, refuse, unique_id="test-fault")
    try:
        yield
    finally:
        client.meta.events.unregister(event, unique_id="test-fault")


# S3 is no longer on the decision path: its failures are the archive copier's (tests/e2e/test_archive_copy.py).
# The remembered answer, the pending record and the index item: one transaction, the decision's only write.
FAULTS = [
    (aws_clients.dynamodb, "TransactWriteItems", unreachable),
    (aws_clients.dynamodb, "TransactWriteItems", refused("ProvisionedThroughputExceededException")),  # throttled
    (aws_clients.dynamodb, "TransactWriteItems", refused("ThrottlingException")),
    (aws_clients.dynamodb, "TransactWriteItems", refused("TransactionCanceledException")),
]


@pytest.mark.parametrize(("client", "operation", "fault"), FAULTS)
def test_a_failed_write_gives_503_and_a_retry_converges_to_one_record(api, client, operation, fault):
    model_id, request = body("demo-refund-2")
    items_before, _ = api.stored()

    with failing(client(), operation, fault):
        response = api.decide(model_id, request)
    assert response.status_code == 503
    assert response.json()["error"]["code"] == "dependency_unavailable"
    assert "decision_id" not in response.text
    assert api.stored()[0] == items_before  # no index item: the decision does not exist

    retry = api.decide(model_id, request)  # nothing was remembered either: the retry decides
    assert retry.status_code == 200
    assert api.stored()[0] == items_before + 1
