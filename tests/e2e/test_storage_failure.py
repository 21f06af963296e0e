"""Fail closed: when a write of the record fails, the caller gets 503 and no decision."""

from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from botocore.exceptions import EndpointConnectionError

from functions.stores import aws_clients
from tests.e2e.bodies import body

pytestmark = pytest.mark.e2e


@contextmanager
def failing(client, operation: str) -> Iterator[None]:
    """Make every `operation` call of the function's own (cached) boto3 client fail at the network."""

    def refuse(**_: object) -> None:
        raise EndpointConnectionError(endpoint_url="http://unreachable")

    event = f"before-call.{client.meta.service_model.service_name}.{operation}"
    client.meta.events.register(event, refuse, unique_id="test-fault")
    try:
        yield
    finally:
        client.meta.events.unregister(event, unique_id="test-fault")


@pytest.mark.parametrize(("client", "operation"), [(aws_clients.s3, "PutObject"), (aws_clients.dynamodb, "PutItem")])
def test_a_failed_write_gives_503_and_a_retry_converges_to_one_record(api, client, operation):
    model_id, request = body("demo-refund-2")
    items_before, _ = api.stored()

    with failing(client(), operation):
        response = api.decide(model_id, request)
    assert response.status_code == 503
    assert response.json()["error"]["code"] == "dependency_unavailable"
    assert "decision_id" not in response.text
    assert api.stored()[0] == items_before  # no index item: the decision does not exist

    retry = api.decide(model_id, request)  # the idempotency lock was released with the failure
    assert retry.status_code == 200
    assert api.stored()[0] == items_before + 1
