"""Write-once JSON documents in the archive bucket, signed with the asymmetric KMS key: digests, monitoring reports.

An object is the canonical JSON of

    {"<name>": <document>, "<name>_sha256": <hex>, "signature": <base64>}

where the signature is KMS `Sign` (`MessageType: DIGEST`) over the SHA-256 of the document's
canonical JSON: signing the hash keeps the request under KMS's 4 KB message limit however large
the document. Objects are written with `IfNoneMatch: *`, so each key is written exactly once;
anyone with `kms:GetPublicKey` can check a signature offline too.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from collections.abc import Collection, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from botocore.exceptions import BotoCoreError, ClientError

from functions.domain.errors import DependencyUnavailable
from functions.domain.seal import canonical_json, sha256_hex

if TYPE_CHECKING:
    from mypy_boto3_kms import KMSClient
    from mypy_boto3_s3 import S3Client


@dataclass(frozen=True)
class SignedDocument:
    """A document as read back: `content` None when the object does not parse as one."""

    content: dict[str, Any] | None
    sha256: str  # of the document's canonical JSON (of the raw bytes when unreadable)
    signature_valid: bool


class AlreadyWritten(Exception):
    """The key holds an object already (a concurrent or repeated run)."""


class SignedObjects:
    """Signed, write-once JSON objects under one `name` ("digest", "report") in one bucket."""

    def __init__(
        self,
        *,
        name: str,
        bucket: str,
        kms_key_id: str,
        s3: S3Client,
        kms: KMSClient,
        trusted_key_ids: Collection[str],
    ) -> None:
        """Documents naming a signing key outside `trusted_key_ids` fail verification; `kms_key_id` encrypts."""
        self.name, self.bucket, self.kms_key_id = name, bucket, kms_key_id
        self.trusted = set(trusted_key_ids)
        self.s3, self.kms = s3, kms

    def write(
        self, key: str, document: dict[str, Any], *, key_id: str, algorithm: str, retain_until: datetime | None = None
    ) -> str:
        """Sign and write once; the document's SHA-256. `AlreadyWritten` when the key is taken.

        `retain_until` locks it (compliance mode) past the bucket's default.
        """
        hashed = hashlib.sha256(canonical_json(document)).digest()
        try:
            signed = self.kms.sign(
                KeyId=key_id,
                Message=hashed,
                MessageType="DIGEST",
                SigningAlgorithm=algorithm,  # type: ignore[arg-type]
            )
            body = canonical_json(
                {
                    self.name: document,
                    f"{self.name}_sha256": hashed.hex(),
                    "signature": base64.b64encode(signed["Signature"]).decode(),
                }
            )
            lock: dict[str, Any] = {}
            if retain_until is not None:
                lock = {"ObjectLockMode": "COMPLIANCE", "ObjectLockRetainUntilDate": retain_until}
            self.s3.put_object(
                Bucket=self.bucket,
                Key=key,
                Body=body,
                ContentType="application/json",
                ServerSideEncryption="aws:kms",
                SSEKMSKeyId=self.kms_key_id,
                ChecksumAlgorithm="SHA256",
                ChecksumSHA256=base64.b64encode(hashlib.sha256(body).digest()).decode(),
                IfNoneMatch="*",
                **lock,
            )
        except ClientError as error:
            if code_of(error) in {"PreconditionFailed", "ConditionalRequestConflict"}:
                raise AlreadyWritten(key) from error
            raise DependencyUnavailable(f"the {self.name} could not be written: {code_of(error)}") from error
        except BotoCoreError as error:
            raise DependencyUnavailable(f"the {self.name} could not be written: {type(error).__name__}") from error
        return hashed.hex()

    def read(self, key: str) -> SignedDocument | None:
        """The document at `key` with its signature checked by KMS `Verify`; None when there is none."""
        try:
            raw = self.s3.get_object(Bucket=self.bucket, Key=key)["Body"].read()
        except ClientError as error:
            if code_of(error) in {"NoSuchKey", "404"}:
                return None
            raise DependencyUnavailable(f"the {self.name} could not be read: {code_of(error)}") from error
        except BotoCoreError as error:
            raise DependencyUnavailable(f"the {self.name} could not be read: {type(error).__name__}") from error
        return self.parse(raw)

    def parse(self, raw: bytes) -> SignedDocument:
        try:
            stored = json.loads(raw)
            content = stored[self.name]
            if not isinstance(content, dict):
                raise TypeError(f"the {self.name} is not an object")
            signature = base64.b64decode(stored["signature"], validate=True)
            payload = canonical_json(content)
        except (ValueError, KeyError, TypeError, binascii.Error):
            return SignedDocument(content=None, sha256=sha256_hex(raw), signature_valid=False)
        hashed = hashlib.sha256(payload).digest()
        key_id, algorithm = content.get("signing_key_id"), content.get("algorithm")
        # Written as canonical JSON with the hash and signature in canonical form: any other byte,
        # even in a field the signature does not cover, is tampering.
        as_written = (
            canonical_json(stored) == raw
            and stored.get(f"{self.name}_sha256") == hashed.hex()
            and base64.b64encode(signature).decode() == stored["signature"]
        )
        valid = as_written and isinstance(key_id, str) and isinstance(algorithm, str) and key_id in self.trusted
        if valid:
            valid = self._verify(str(key_id), str(algorithm), hashed, signature)
        return SignedDocument(content=content, sha256=hashed.hex(), signature_valid=valid)

    def _verify(self, key_id: str, algorithm: str, hashed: bytes, signature: bytes) -> bool:
        try:
            answer = self.kms.verify(
                KeyId=key_id,
                Message=hashed,
                MessageType="DIGEST",
                Signature=signature,
                SigningAlgorithm=algorithm,  # type: ignore[arg-type]
            )
        except ClientError as error:
            # KMS answers an invalid signature with an error, not SignatureValid: false.
            if code_of(error) in {"KMSInvalidSignatureException", "ValidationException", "InvalidParameterValue"}:
                return False
            raise DependencyUnavailable(f"the {self.name} signature could not be checked: {code_of(error)}") from error
        except BotoCoreError as error:
            raise DependencyUnavailable(
                f"the {self.name} signature could not be checked: {type(error).__name__}"
            ) from error
        return bool(answer.get("SignatureValid"))

    def keys(self, prefix: str, *, start_after: str | None = None) -> Iterator[str]:
        """Keys under `prefix` after `start_after`, in order, a page at a time."""
        request: dict[str, Any] = {"Bucket": self.bucket, "Prefix": prefix}
        if start_after:
            request["StartAfter"] = start_after
        try:
            for page in self.s3.get_paginator("list_objects_v2").paginate(**request):
                for item in page.get("Contents", []):
                    yield item.get("Key", "")
        except (ClientError, BotoCoreError) as error:
            raise DependencyUnavailable(f"the {self.name}s could not be listed") from error


def code_of(error: ClientError) -> str:
    return str(error.response.get("Error", {}).get("Code", "ClientError"))
