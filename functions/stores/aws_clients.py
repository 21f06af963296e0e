"""The one factory of real AWS clients (cached per container; tests inject their own).

Endpoints come from the standard AWS configuration, so `AWS_ENDPOINT_URL` points every
client at the local stack's moto server.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import boto3
from botocore.config import Config

from functions.coldstart import per_container

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_kms import KMSClient
    from mypy_boto3_lambda import LambdaClient
    from mypy_boto3_s3 import S3Client
    from mypy_boto3_sagemaker_runtime import SageMakerRuntimeClient
    from mypy_boto3_secretsmanager import SecretsManagerClient
    from mypy_boto3_sqs import SQSClient
    from mypy_boto3_ssm import SSMClient

# Fail fast and let the caller answer 503: a chat turn cannot wait for long retries.
_CONFIG = Config(connect_timeout=2, read_timeout=5, retries={"max_attempts": 3, "mode": "standard"})


@per_container
def dynamodb() -> DynamoDBClient:
    return boto3.client("dynamodb", config=_CONFIG)


@per_container
def kms() -> KMSClient:
    return boto3.client("kms", config=_CONFIG)


@per_container
def s3() -> S3Client:
    return boto3.client("s3", config=_CONFIG)


@per_container
def secretsmanager() -> SecretsManagerClient:
    return boto3.client("secretsmanager", config=_CONFIG)


# Model endpoints: one attempt per SDK call, because the remote adapters retry themselves,
# within the caller's deadline (`functions/adapters/remote/retry.py`). Botocore's
# `max_attempts` counts RETRIES (0 = none); `total_max_attempts` counts attempts, so 1 is
# what "no SDK retries" means. Timeouts differ per model, hence one client per timeout.
def _model_config(timeout_seconds: float) -> Config:
    return Config(
        connect_timeout=timeout_seconds,
        read_timeout=timeout_seconds,
        retries={"total_max_attempts": 1, "mode": "standard"},
    )


@per_container
def sagemaker_runtime(timeout_seconds: float = 2.0) -> SageMakerRuntimeClient:
    """The sagemaker-runtime client for model calls that must end within `timeout_seconds`."""
    return boto3.client("sagemaker-runtime", config=_model_config(timeout_seconds))


@per_container
def lambda_client(timeout_seconds: float = 2.0) -> LambdaClient:
    """The Lambda client for model calls that must end within `timeout_seconds`."""
    return boto3.client("lambda", config=_model_config(timeout_seconds))


@per_container
def ssm() -> SSMClient:
    return boto3.client("ssm", config=_CONFIG)


@per_container
def sqs() -> SQSClient:
    return boto3.client("sqs", config=_CONFIG)
