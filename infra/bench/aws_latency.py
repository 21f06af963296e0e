"""The latency model's parameters: how long each AWS call takes, seen from a Lambda function in-region.

Every figure that injects AWS latency (`infra/bench/latency.py`) reads its numbers here and
nowhere else. Each call's latency is drawn from a lognormal distribution fixed by its median
(p50) and its 99th percentile, client-side: TLS on a reused connection, the request, the
service's work and the answer, as the SDK sees it. What is published and what is assumed:

- DynamoDB: AWS states "single-digit millisecond performance at any scale", and that for "most
  atomic operations, such as GetItem and PutItem, you can expect an average latency in
  single-digit milliseconds" (SOURCES["dynamodb-average"]). That is the service's
  `SuccessfulRequestLatency`, which "does not take into account network latency or client-side
  activity"; the tail comes from server-side retries on another node after a busy or failing
  one (SOURCES["dynamodb-max"]). The p50 below adds ~1-2 ms of in-region network and SDK
  time; the p99 is an ASSUMPTION (~4x the median), in line with those explanations.
- DynamoDB transactions: no latency is published. A transaction is a two-phase commit across
  its items (twice the write capacity of plain writes, SOURCES["dynamodb-transactions"]);
  p50 and p99 at about twice a PutItem's are an ASSUMPTION.
- S3: for small requests (under 512 KB), "median latencies often in the tens of milliseconds"
  and a retry of GET or PUT after 2 seconds is advised (SOURCES["s3-whitepaper"]). Candor's puts
  are SSE-KMS (S3 asks KMS for a data key; KMS's own quota page, SOURCES["kms-quotas"]) with
  a SHA-256 checksum and a conditional write. The p50 of 30 ms (PutObject) and 20 ms (GetObject)
  is a reading of "tens of milliseconds"; the p99s (150 ms, 100 ms) are ASSUMPTIONS, below the
  2-second retry point the same paper sets for the slow tail.
- SQS SendMessage, and any call not listed: ASSUMPTIONS, marked as such.

Change a number here and every latency figure moves with it; the markdown table of
docs/benchmarks.md lists these parameters with their sources.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass

Z99 = 2.3263478740408408  # the standard normal's 99th percentile

SOURCES = {
    "dynamodb-average": "AWS Knowledge Center, 'Why is my DynamoDB request latency high?' "
    "https://repost.aws/knowledge-center/dynamodb-high-latency (average single-digit ms for GetItem/PutItem; "
    "SuccessfulRequestLatency excludes network and client)",
    "dynamodb-max": "AWS Knowledge Center, 'high maximum latency, normal average' "
    "https://repost.aws/knowledge-center/dynamodb-maximum-latency (tail: server-side retries on another node)",
    "dynamodb-transactions": "Amazon DynamoDB Developer Guide, transactions "
    "https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/transaction-apis.html "
    "(two reads/writes of capacity per item; no latency figure published)",
    "s3-whitepaper": "AWS whitepaper 'Best Practices Design Patterns: Optimizing Amazon S3 Performance', "
    "Timeouts and Retries for Latency-Sensitive Applications "
    "https://docs.aws.amazon.com/whitepapers/latest/s3-optimizing-performance-best-practices/"
    "timeouts-and-retries-for-latency-sensitive-applications.html (small requests: median tens of ms; "
    "retry after 2 s)",
    "kms-quotas": "AWS KMS Developer Guide, request quotas https://docs.aws.amazon.com/kms/latest/developerguide/"
    "requests-per-second.html (SSE-KMS puts call GenerateDataKey on the caller's behalf)",
    "assumption": "ASSUMPTION: no published figure found; chosen as stated in infra/bench/aws_latency.py",
}


@dataclass(frozen=True)
class Latency:
    """A lognormal latency, given by its median and 99th percentile (milliseconds), and where they come from."""

    p50_ms: float
    p99_ms: float
    sources: tuple[str, ...]
    assumed: str = ""  # what, of the two numbers, is an assumption

    @property
    def sigma(self) -> float:
        return (math.log(self.p99_ms) - math.log(self.p50_ms)) / Z99

    def draw(self, rng: random.Random) -> float:
        """One latency, in seconds."""
        return math.exp(rng.gauss(math.log(self.p50_ms), self.sigma)) / 1000.0


_DYNAMODB_WRITE = Latency(5.0, 20.0, ("dynamodb-average", "dynamodb-max"), "p99")
_DYNAMODB_READ = Latency(4.0, 16.0, ("dynamodb-average", "dynamodb-max"), "p99")

# (service name as botocore names it, operation); (service, "*") for a service's other calls.
LATENCIES: dict[tuple[str, str], Latency] = {
    ("dynamodb", "PutItem"): _DYNAMODB_WRITE,
    ("dynamodb", "UpdateItem"): _DYNAMODB_WRITE,
    ("dynamodb", "DeleteItem"): _DYNAMODB_WRITE,
    ("dynamodb", "GetItem"): _DYNAMODB_READ,
    ("dynamodb", "Query"): Latency(6.0, 25.0, ("dynamodb-average", "dynamodb-max"), "p50 and p99 (a page)"),
    ("dynamodb", "TransactWriteItems"): Latency(
        10.0, 40.0, ("dynamodb-transactions", "assumption"), "p50 and p99: twice a PutItem's"
    ),
    ("dynamodb", "*"): _DYNAMODB_WRITE,
    ("s3", "PutObject"): Latency(30.0, 150.0, ("s3-whitepaper", "kms-quotas"), "p99 (p50 reads 'tens of ms')"),
    ("s3", "GetObject"): Latency(20.0, 100.0, ("s3-whitepaper",), "p99 (p50 reads 'tens of ms')"),
    ("s3", "*"): Latency(30.0, 150.0, ("s3-whitepaper",), "p99"),
    ("sqs", "SendMessage"): Latency(8.0, 30.0, ("assumption",), "p50 and p99"),
}
DEFAULT = Latency(10.0, 50.0, ("assumption",), "p50 and p99")


def latency_of(service: str, operation: str) -> Latency:
    return LATENCIES.get((service, operation)) or LATENCIES.get((service, "*")) or DEFAULT
