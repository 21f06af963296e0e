"""Composition root of the explanation worker: the decisions function's models, the record and completion stores."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from functions.api.decision_dependencies import models_registry
from functions.coldstart import per_container
from functions.domain.completion import CompletionStore, JobOutcome, run_job
from functions.domain.decide import utc_now
from functions.domain.ports import ModelCatalog
from functions.schemas.settings import worker_settings
from functions.stores import aws_clients
from functions.stores.completion_store import AwsCompletionStore
from functions.stores.explanation_queue import explanation_job
from functions.stores.record_store import AwsRecordStore


@dataclass(frozen=True)
class WorkerServices:
    store: CompletionStore
    models: ModelCatalog
    margin_seconds: float  # kept back from the invocation's remaining time to store the completion
    now: Callable[[], datetime] = utc_now

    def complete(self, message_body: str, remaining_seconds: float) -> JobOutcome:
        """Complete the job of one queue message; raises when it must be retried."""
        job = explanation_job(message_body)
        return run_job(
            job.decision_id,
            store=self.store,
            models=self.models,
            time_left=remaining_seconds - self.margin_seconds,
            now=self.now(),
        )


@per_container
def worker_services() -> WorkerServices:
    settings = worker_settings()
    records = AwsRecordStore.from_settings(settings, aws_clients.dynamodb(), aws_clients.s3())
    return WorkerServices(
        store=AwsCompletionStore(records),
        # The decisions function's registry and loaders: the worker calls the very model that decided.
        models=models_registry(),
        margin_seconds=settings.completion_margin_seconds,
    )
