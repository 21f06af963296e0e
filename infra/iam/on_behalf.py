"""The calls AWS makes on a function's behalf, or into its resources as a service, derived from the template.

A function's own SDK calls are recorded (`infra/iam/aws_calls.py`); these are not, because no SDK
call of ours makes them, yet a missing grant fails them all the same:

- **with the function's role**: the KMS calls behind SSE-KMS objects (S3 asks KMS for a data key
  on a put, to decrypt on a get, as the caller, `kms:ViaService` s3), secrets (Secrets Manager
  decrypts with the caller's permissions), SSM SecureStrings and encrypted queues (a sender needs
  GenerateDataKey and Decrypt); what Lambda does with the execution role: write the function's
  logs, send its traces, decrypt its environment under `KmsKeyArn`, poll an SQS event source
  (ReceiveMessage, DeleteMessage, GetQueueAttributes) or read a table's stream, and send a failed
  asynchronous run, or the stream records a mapping gave up on, to its on-failure destination;
- **as a service principal**, authorized by the resource's own policy: EventBridge sending an
  undeliverable event to the rule's dead-letter queue and asking the queue's key for a data key
  through SQS (no `aws:SourceAccount` reaches KMS on that path: only SQS's encryption context),
  CloudWatch Logs encrypting the log groups, CloudWatch alarms publishing to the encrypted topic,
  S3 server access logging writing into the access-log bucket.

Each derived request says why it exists (`because`), so a denial reads as a sentence.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from infra.iam.deployed_policies import ACCOUNT_ID, REGION, DeployedPolicies, arn_of


@dataclass(frozen=True)
class Request:
    """One request to simulate: a function's role (`function`) or a service principal (`service`)."""

    action: str
    resource: str
    context: Mapping[str, Any] = field(default_factory=dict)
    function: str | None = None
    service: str | None = None
    because: str = "recorded"

    def key(self) -> tuple[Any, ...]:
        return self.function, self.service, self.action, self.resource, tuple(sorted(self.context.items()))


_STREAM_READS = ("dynamodb:DescribeStream", "dynamodb:GetRecords", "dynamodb:GetShardIterator")


def _key_arn(value: Any) -> str | None:
    """A resolved key reference (`Ref` gives the key id, `GetAtt Arn` the ARN) as the key's ARN."""
    if not value:
        return None
    text = str(value)
    return text if text.startswith("arn:") else arn_of(text, "AWS::KMS::Key")


def _via(service: str) -> dict[str, Any]:
    return {"kms:ViaService": f"{service}.{REGION}.amazonaws.com", "kms:CallerAccount": ACCOUNT_ID}


class OnBehalf:
    """Derives the on-behalf requests of one deployment (its resolved resources) from the recorded ones."""

    def __init__(self, deployed: DeployedPolicies, parameters: Mapping[str, str]) -> None:
        self.resources = deployed.resources
        self.functions = deployed.functions()
        self.secrets_key = parameters.get("RemoteModelSecretsKeyArn") or None
        self.bucket_keys: dict[str, tuple[str, bool]] = {}  # bucket ARN -> (key ARN, bucket key enabled)
        self.queue_keys: dict[str, str] = {}
        self.secret_keys: dict[str, str] = {}
        for logical_id, resource in self.resources.items():
            props, kind = resource.get("Properties") or {}, resource["Type"]
            if kind == "AWS::S3::Bucket":
                for rule in (props.get("BucketEncryption") or {}).get("ServerSideEncryptionConfiguration") or []:
                    default = rule.get("ServerSideEncryptionByDefault") or {}
                    if default.get("SSEAlgorithm") == "aws:kms":
                        key = _key_arn(default.get("KMSMasterKeyID"))
                        self.bucket_keys[arn_of(logical_id, kind)] = (str(key), bool(rule.get("BucketKeyEnabled")))
            elif kind == "AWS::SQS::Queue" and (key := _key_arn(props.get("KmsMasterKeyId"))):
                self.queue_keys[arn_of(logical_id, kind)] = key
            elif kind == "AWS::SecretsManager::Secret" and (key := _key_arn(props.get("KmsKeyId"))):
                self.secret_keys[arn_of(logical_id, kind)] = key

    def derive(self, recorded: Iterable[Request]) -> list[Request]:
        found: dict[tuple[Any, ...], Request] = {}
        for request in [*self._from_recorded(recorded), *self._lambda_runtime(), *self._service_principals()]:
            found.setdefault(request.key(), request)
        return list(found.values())

    # ------------------------------------------------------------------ with the function's role

    def _from_recorded(self, recorded: Iterable[Request]) -> Iterable[Request]:
        for call in recorded:
            function, action, resource = call.function, call.action, call.resource
            bucket = "arn:aws:s3:::" + resource[len("arn:aws:s3:::") :].split("/", 1)[0]
            if action in {"s3:PutObject", "s3:GetObject", "s3:GetObjectVersion"} and bucket in self.bucket_keys:
                default_key, bucket_key = self.bucket_keys[bucket]
                key = str(call.context.get("s3:x-amz-server-side-encryption-aws-kms-key-id") or default_key)
                context = {**_via("s3"), "kms:EncryptionContext:aws:s3:arn": bucket if bucket_key else resource}
                kms_action = "kms:GenerateDataKey" if action == "s3:PutObject" else "kms:Decrypt"
                yield Request(kms_action, key, context, function, because=f"S3 SSE-KMS for {action} {resource}")
            elif action == "secretsmanager:GetSecretValue":
                secret_key = self.secret_keys.get(resource, self.secrets_key)
                if secret_key:
                    context = {**_via("secretsmanager"), "kms:EncryptionContext:SecretARN": resource}
                    yield Request(
                        "kms:Decrypt", secret_key, context, function, because=f"Secrets Manager decrypts {resource}"
                    )
            elif action == "ssm:GetParameter" and self.secrets_key:
                context = {**_via("ssm"), "kms:EncryptionContext:PARAMETER_ARN": resource}
                yield Request("kms:Decrypt", self.secrets_key, context, function, because=f"SSM decrypts {resource}")
            elif action == "sqs:SendMessage" and resource in self.queue_keys:
                yield from self._queue_keys(resource, function, None, f"SQS SSE-KMS for SendMessage to {resource}")

    def _queue_keys(self, queue: str, function: str | None, service: str | None, because: str) -> Iterable[Request]:
        context = {**_via("sqs"), "kms:EncryptionContext:aws:sqs:arn": queue}
        for action in ("kms:GenerateDataKey", "kms:Decrypt"):
            yield Request(action, self.queue_keys[queue], context, function, service, because)

    def _lambda_runtime(self) -> Iterable[Request]:
        for function in self.functions:
            props = self.resources[function].get("Properties") or {}
            group = f"arn:aws:logs:{REGION}:{ACCOUNT_ID}:log-group:/aws/lambda/{function}"
            stream = f"{group}:log-stream:2026/01/01/[$LATEST]0123456789abcdef"
            for action in ("logs:CreateLogStream", "logs:PutLogEvents"):
                yield Request(action, stream, {}, function, because="Lambda writes the function's logs")
            if (props.get("TracingConfig") or {}).get("Mode") == "Active":
                for action in ("xray:PutTraceSegments", "xray:PutTelemetryRecords"):
                    yield Request(action, "*", {}, function, because="Lambda sends the function's traces (Active)")
            if key := _key_arn(props.get("KmsKeyArn")):
                context = {
                    **_via("lambda"),
                    "kms:EncryptionContext:aws:lambda:FunctionArn": arn_of(function, "AWS::Lambda::Function"),
                }
                yield Request("kms:Decrypt", key, context, function, because="Lambda decrypts the environment")
            for destination in self._on_failure_queues(function):
                because = f"Lambda sends a failed asynchronous run to {destination}"
                yield Request("sqs:SendMessage", destination, {}, function, because=because)
                if destination in self.queue_keys:
                    yield from self._queue_keys(destination, function, None, because)
        for mapping in self._of_type("AWS::Lambda::EventSourceMapping"):
            function, source = str(mapping["FunctionName"]), str(mapping["EventSourceArn"])
            because = f"Lambda's event source mapping polls {source}"
            if source.startswith("arn:aws:dynamodb:"):  # a table's stream (AWSLambdaDynamoDBExecutionRole's four)
                for action in _STREAM_READS:
                    yield Request(action, source, {}, function, because=because)
                # ListStreams names no stream: IAM authorises it only on "*".
                yield Request("dynamodb:ListStreams", "*", {}, function, because=because)
            else:
                for action in ("sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes"):
                    yield Request(action, source, {}, function, because=because)
                if source in self.queue_keys:
                    context = {**_via("sqs"), "kms:EncryptionContext:aws:sqs:arn": source}
                    yield Request("kms:Decrypt", self.queue_keys[source], context, function, because=because)
            on_failure = ((mapping.get("DestinationConfig") or {}).get("OnFailure") or {}).get("Destination")
            if str(on_failure).startswith("arn:aws:sqs:"):
                because = f"Lambda sends what the mapping gave up on to {on_failure}"
                yield Request("sqs:SendMessage", str(on_failure), {}, function, because=because)
                if on_failure in self.queue_keys:
                    yield from self._queue_keys(str(on_failure), function, None, because)

    def _on_failure_queues(self, function: str) -> list[str]:
        found = []
        for config in self._of_type("AWS::Lambda::EventInvokeConfig"):
            if str(config.get("FunctionName")) == function:
                destination = ((config.get("DestinationConfig") or {}).get("OnFailure") or {}).get("Destination")
                if str(destination).startswith("arn:aws:sqs:"):
                    found.append(str(destination))
        return found

    def _of_type(self, kind: str) -> list[Mapping[str, Any]]:
        return [r.get("Properties") or {} for r in self.resources.values() if r["Type"] == kind]

    # --------------------------------------------------------------------- service principals

    def _service_principals(self) -> Iterable[Request]:
        for logical_id, resource in self.resources.items():
            props, kind = resource.get("Properties") or {}, resource["Type"]
            if kind == "AWS::Events::Rule":
                rule = arn_of(logical_id, kind)
                for target in props.get("Targets") or []:
                    queue = str((target.get("DeadLetterConfig") or {}).get("Arn") or "")
                    if not queue:
                        continue
                    because = f"EventBridge dead-letters an undeliverable event of {logical_id} into {queue}"
                    context = {"aws:SourceArn": rule, "aws:SourceAccount": ACCOUNT_ID}
                    yield Request("sqs:SendMessage", queue, context, service="events.amazonaws.com", because=because)
                    if queue in self.queue_keys:
                        yield from self._queue_keys(queue, None, "events.amazonaws.com", because)
            elif kind == "AWS::Logs::LogGroup" and (key := _key_arn(props.get("KmsKeyId"))):
                group = f"arn:aws:logs:{REGION}:{ACCOUNT_ID}:log-group:{props.get('LogGroupName') or logical_id}"
                context = {"kms:EncryptionContext:aws:logs:arn": group}
                because = f"CloudWatch Logs encrypts {logical_id}"
                for action in ("kms:GenerateDataKey", "kms:Decrypt"):
                    yield Request(action, key, context, service=f"logs.{REGION}.amazonaws.com", because=because)
            elif kind == "AWS::SNS::Topic" and (key := _key_arn(props.get("KmsMasterKeyId"))):
                topic = arn_of(logical_id, kind)
                context = {**_via("sns"), "kms:EncryptionContext:aws:sns:topicArn": topic}
                because = f"CloudWatch alarms publish to the encrypted {logical_id}"
                for action in ("kms:GenerateDataKey", "kms:Decrypt"):
                    yield Request(action, key, context, service="cloudwatch.amazonaws.com", because=because)
            elif kind == "AWS::S3::Bucket" and (logging := props.get("LoggingConfiguration")):
                target = f"arn:aws:s3:::{logging['DestinationBucketName']}/{logging.get('LogFilePrefix', '')}2026-01-01"
                context = {"aws:SourceAccount": ACCOUNT_ID, "aws:SourceArn": arn_of(logical_id, kind)}
                because = f"S3 server access logging of {logical_id}"
                yield Request("s3:PutObject", target, context, service="logging.s3.amazonaws.com", because=because)
