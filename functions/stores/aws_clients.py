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
    from mypy_boto3_s3 import S3Client
    from mypy_boto3_secretsmanager import SecretsManagerClient

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
