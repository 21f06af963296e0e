"""Composition root of the archive copier: the pending table's stream records in, each record copied at most once.

    from functions.archive_copy_service import archive_copy_service
    batch = archive_copy_service().copy_batch(records)   # outcomes, and where the batch stopped on a failure

Built once per container from `ArchiveCopySettings`; no shap, numpy or model library is imported.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from aws_lambda_powertools.utilities.data_classes.dynamo_db_stream_event import DynamoDBRecord

from functions.coldstart import per_container
from functions.schemas.settings import archive_copy_settings
from functions.stores import aws_clients
from functions.stores.archive_copier import ArchiveCopier


@dataclass(frozen=True)
class CopyBatch:
    outcomes: list[str]  # one per record from the first, up to the one that failed
    error: Exception | None  # why the record after the last outcome failed; None: the whole batch is done


@dataclass(frozen=True)
class ArchiveCopyService:
    copier: ArchiveCopier

    def copy_batch(self, records: Sequence[DynamoDBRecord]) -> CopyBatch:
        """Each record's outcome ("copied", "absent", "erased"), in order; stops at the first that fails.

        Every event of a key (its insert, an erasure's change, the copier's own delete) leads to the
        same idempotent copy, which reads the item: a removal finds none and is done at once.
        """
        outcomes: list[str] = []
        for record in records:
            try:
                decision_id = str((record.dynamodb.keys if record.dynamodb else {})["decision_id"])
                outcomes.append(self.copier.copy(decision_id))
            except Exception as failure:
                return CopyBatch(outcomes, failure)
        return CopyBatch(outcomes, None)


@per_container
def archive_copy_service() -> ArchiveCopyService:
    settings = archive_copy_settings()
    return ArchiveCopyService(
        copier=ArchiveCopier(
            pending_table=settings.pending_table,
            bucket=settings.archive_bucket,
            personal_bucket=settings.personal_bucket,
            kms_key_id=settings.kms_key_id,
            dynamodb=aws_clients.dynamodb(),
            s3=aws_clients.s3(),
        )
    )
