"""Test helpers shared by the tiers."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import fields
from typing import Any

from functions.coldstart import forget_everything
from functions.domain.ports import ModelRun, ModelRuntime, Prediction
from functions.schemas.api import FeatureValue
from functions.schemas.settings import DEFAULT_INDEX_SHARDS
from functions.stores.record_store import AwsRecordStore
from infra.local.gateway import LambdaContext


def fresh_container() -> None:
    """Forget everything built at cold start, as a new Lambda container would.

    Settings, AWS clients, the model registry and the stores are cached per process (see
    `functions.coldstart`); tests that point the functions at a new (moto) account drop them.
    Modules not imported yet have nothing cached, so nothing needs importing here.
    """
    forget_everything()


def record_store(env: dict[str, str], dynamodb: Any, s3: Any) -> AwsRecordStore:
    """The real record store on the resources named by a function environment (local stack or aws_env)."""
    return AwsRecordStore(
        table=env["CANDOR_RECORDS_TABLE"],
        bucket=env["CANDOR_ARCHIVE_BUCKET"],
        personal_bucket=env["CANDOR_PERSONAL_BUCKET"],
        kms_key_id=env["CANDOR_KMS_KEY_ID"],
        dynamodb=dynamodb,
        s3=s3,
        index_shards=int(env.get("CANDOR_INDEX_SHARDS", DEFAULT_INDEX_SHARDS)),
        pending_table=env.get("CANDOR_PENDING_TABLE"),
    )


def erase(env: dict[str, str], decision_id: str, at: str = "2026-11-28T09:00:00Z") -> None:
    """What the privacy function does to an erasable record: delete every version of the personal part,
    then mark the index item, with the functions' own clients and as that function."""
    from functions.stores import aws_clients
    from functions.stores.erasure_store import AwsErasureStore
    from infra.local.invocation import running

    places = record_store(env, aws_clients.dynamodb(), aws_clients.s3())
    with running("PrivacyFunction"):
        AwsErasureStore(**{f.name: getattr(places, f.name) for f in fields(places)}).erase(decision_id, at)


def predict_and_explain(runtime: ModelRuntime, inputs: Mapping[str, FeatureValue]) -> tuple[Prediction, ModelRun]:
    """Both steps of a model run as the decision path takes them, without a deadline."""
    prediction = runtime.predict(inputs)
    return prediction, runtime.explain(inputs, prediction, math.inf)


def lambda_context(function: str, timeout_s: float = 15, memory_mb: int = 1024) -> LambdaContext:
    """The context Lambda hands a handler, for calling handlers directly."""
    return LambdaContext(
        function_name=function,
        memory_limit_in_mb=memory_mb,
        invoked_function_arn=f"arn:aws:lambda:eu-west-1:123456789012:function:{function}",
        aws_request_id="test",
        timeout_s=timeout_s,
    )
