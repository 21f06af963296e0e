"""Powertools' DynamoDB idempotency store, whose success update also commits the decision's index item.

See `functions/stores/decision_commit.py` for why and how; this module is imported by the
decisions route only, so that the functions that only read records do not load Powertools
idempotency.
"""

from __future__ import annotations

import contextlib
from typing import Any

from aws_lambda_powertools.utilities.idempotency import DynamoDBPersistenceLayer
from aws_lambda_powertools.utilities.idempotency.persistence.base import BasePersistenceLayer
from aws_lambda_powertools.utilities.idempotency.persistence.datarecord import STATUS_CONSTANTS, DataRecord
from botocore.exceptions import BotoCoreError, ClientError

from functions.stores.decision_commit import take


class HashesEachPayloadOnce(BasePersistenceLayer):
    """Powertools' key and payload hashes, computed once per call instead of twice.

    Powertools hashes the same payload for the in-progress write and again for the success write
    (a JMESPath search, a sorted JSON dump and a SHA-256 each time). The second time it is the very
    same object (`DecisionCall`, never changed), so the hash of the first is returned. One slot each,
    replaced atomically: requests served by threads at once only miss it, never get another's hash.
    """

    _last_key: tuple[object, str, str | None] | None = None
    _last_payload: tuple[object, str] | None = None

    def _get_hashed_idempotency_key(self, data: dict[str, Any]) -> str | None:
        last = self._last_key
        if last is not None and last[0] is data and last[1] == self.function_name:
            return last[2]
        hashed = super()._get_hashed_idempotency_key(data)
        self._last_key = (data, self.function_name, hashed)
        return hashed

    def _get_hashed_payload(self, data: dict[str, Any]) -> str:
        last = self._last_payload
        if last is not None and last[0] is data:
            return last[1]
        hashed = super()._get_hashed_payload(data)
        self._last_payload = (data, hashed)
        return hashed


class TransactionalPersistenceLayer(HashesEachPayloadOnce, DynamoDBPersistenceLayer):
    """Powertools' DynamoDB idempotency store, whose completion carries the staged index puts."""

    def _update_record(self, data_record: DataRecord) -> None:
        staged = take()
        if not staged:
            super()._update_record(data_record)
            return
        completion = self._completion(data_record)
        try:
            items: list[Any] = [*({"Put": put} for put in staged), {"Update": completion}]
            self.client.transact_write_items(TransactItems=items)
        except (ClientError, BotoCoreError):
            self._release(data_record)
            raise  # Powertools wraps it: IdempotencyPersistenceLayerError, answered 503

    def _completion(self, data_record: DataRecord) -> dict[str, Any]:
        """Powertools' own success update (same attributes), made conditional on our lock still holding.

        The condition refuses to complete, and so to store a decision, once another invocation has
        taken over an expired lock and completed: one request_id never gets two records.
        """
        names = {"#expiry": self.expiry_attr, "#response_data": self.data_attr, "#status": self.status_attr}
        values: dict[str, Any] = {
            ":expiry": {"N": str(data_record.expiry_timestamp)},
            ":response_data": {"S": data_record.response_data},
            ":status": {"S": data_record.status},
            ":inprogress": {"S": STATUS_CONSTANTS["INPROGRESS"]},
        }
        expression = "SET #response_data = :response_data, #expiry = :expiry, #status = :status"
        if self.payload_validation_enabled:
            expression += ", #validation_key = :validation_key"
            names["#validation_key"] = self.validation_key_attr
            values[":validation_key"] = {"S": data_record.payload_hash}
        return {
            "TableName": self.table_name,
            "Key": self._get_key(data_record.idempotency_key),
            "UpdateExpression": expression,
            "ConditionExpression": "#status = :inprogress",
            "ExpressionAttributeNames": names,
            "ExpressionAttributeValues": values,
        }

    def _release(self, data_record: DataRecord) -> None:
        """Drop our in-progress lock after a failed commit, so that the caller's retry decides at once.

        Nothing was stored (the transaction is all or nothing), as when the decision itself fails and
        Powertools deletes the lock. Only a lock still in progress is deleted, never a completed answer;
        if this delete fails too, the lock expires with the invocation.
        """
        with contextlib.suppress(ClientError, BotoCoreError):
            self.client.delete_item(
                TableName=self.table_name,
                Key=self._get_key(data_record.idempotency_key),
                ConditionExpression="#status = :inprogress",
                ExpressionAttributeNames={"#status": self.status_attr},
                ExpressionAttributeValues={":inprogress": {"S": STATUS_CONSTANTS["INPROGRESS"]}},
            )
