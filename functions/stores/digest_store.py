"""Integrity digests in the archive bucket, signed with an asymmetric KMS key.

Layout: `digests/<yyyy>/<mm>/<dd>/<HH>.json` (the window's start hour, UTC), next to the
records under the same Object Lock, written with `IfNoneMatch: *` so each window gets exactly
one digest. The object is the canonical JSON of

    {"digest": <Digest>, "digest_sha256": <hex>, "signature": <base64>}

where the signature is KMS `Sign` (`ECDSA_SHA_256`, `MessageType: DIGEST`) over the SHA-256 of
the digest's canonical JSON: signing the hash keeps the request under KMS's 4 KB message limit
however many records a window holds. Anyone with `kms:GetPublicKey` can check it offline too.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from collections.abc import Collection, Iterator
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from botocore.exceptions import BotoCoreError, ClientError
from pydantic import ValidationError

from functions.domain.errors import DependencyUnavailable
from functions.domain.integrity import Digest, StoredDigest, digest_bytes
from functions.domain.seal import canonical_json, sha256_hex

if TYPE_CHECKING:
    from mypy_boto3_kms import KMSClient
    from mypy_boto3_s3 import S3Client

PREFIX = "digests/"
_RECENT = timedelta(days=40)  # where `latest` looks first: one ListObjectsV2 page of hourly digests


def digest_key(start: datetime) -> str:
    """Zero-padded, so keys sort in time order."""
    return f"{PREFIX}{start.astimezone(UTC):%Y/%m/%d/%H}.json"


def window_of_key(key: str) -> datetime | None:
    try:
        return datetime.strptime(key, f"{PREFIX}%Y/%m/%d/%H.json").replace(tzinfo=UTC)
    except ValueError:
        return None


class AwsDigestStore:
    """The DigestStore of the integrity domain: S3 objects (locked, SSE-KMS) signed with KMS."""

    def __init__(
        self,
        *,
        bucket: str,
        signing_key_id: str,
        kms_key_id: str,
        s3: S3Client,
        kms: KMSClient,
        trusted_key_ids: Collection[str] = (),
    ) -> None:
        """`signing_key_id` signs new digests; digests naming any other key than it or `trusted_key_ids`
        (keys retired after a manual rotation) fail verification. `kms_key_id` encrypts the objects."""
        self.bucket, self.signing_key_id, self.kms_key_id = bucket, signing_key_id, kms_key_id
        self.trusted = {signing_key_id, *trusted_key_ids}
        self.s3, self.kms = s3, kms

    def put(self, digest: Digest, *, retain_until: datetime | None = None) -> StoredDigest:
        """Sign and write the window's digest; if the window already has one (a concurrent run), return it.

        `retain_until` locks it (compliance mode) past the bucket's default, for windows holding
        records that are kept longer.
        """
        payload = digest_bytes(digest)
        hashed = hashlib.sha256(payload).digest()
        start = datetime.fromisoformat(digest.window_start.replace("Z", "+00:00"))
        try:
            signed = self.kms.sign(
                KeyId=digest.signing_key_id,
                Message=hashed,
                MessageType="DIGEST",
                SigningAlgorithm=digest.algorithm,  # type: ignore[arg-type]
            )
            body = canonical_json(
                {
                    "digest": digest.model_dump(mode="json"),
                    "digest_sha256": hashed.hex(),
                    "signature": base64.b64encode(signed["Signature"]).decode(),
                }
            )
            lock: dict[str, Any] = {}
            if retain_until is not None:
                lock = {"ObjectLockMode": "COMPLIANCE", "ObjectLockRetainUntilDate": retain_until}
            self.s3.put_object(
                Bucket=self.bucket,
                Key=digest_key(start),
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
            if _code(error) in {"PreconditionFailed", "ConditionalRequestConflict"}:
                existing = self.get(start)
                if existing is not None:
                    return existing
            raise DependencyUnavailable(f"the digest could not be written: {_code(error)}") from error
        except BotoCoreError as error:
            raise DependencyUnavailable(f"the digest could not be written: {type(error).__name__}") from error
        return StoredDigest(window_start=start, digest=digest, sha256=hashed.hex(), signature_valid=True)

    def get(self, start: datetime) -> StoredDigest | None:
        """The window's digest with its signature checked by KMS `Verify`; None when the window has none."""
        try:
            raw = self.s3.get_object(Bucket=self.bucket, Key=digest_key(start))["Body"].read()
        except ClientError as error:
            if _code(error) in {"NoSuchKey", "404"}:
                return None
            raise DependencyUnavailable(f"the digest could not be read: {_code(error)}") from error
        except BotoCoreError as error:
            raise DependencyUnavailable(f"the digest could not be read: {type(error).__name__}") from error
        return self._parse(start, raw)

    def _parse(self, start: datetime, raw: bytes) -> StoredDigest:
        try:
            stored = json.loads(raw)
            content = stored["digest"]
            if not isinstance(content, dict):
                raise TypeError("the digest is not an object")
            signature = base64.b64decode(stored["signature"], validate=True)
            payload = canonical_json(content)
        except (ValueError, KeyError, TypeError, binascii.Error):
            return StoredDigest(window_start=start, digest=None, sha256=sha256_hex(raw), signature_valid=False)
        hashed = hashlib.sha256(payload).digest()
        key_id, algorithm = content.get("signing_key_id"), content.get("algorithm")
        # Written as canonical JSON with the hash and signature in canonical form: any other byte,
        # even in a field the signature does not cover, is tampering.
        as_written = (
            canonical_json(stored) == raw
            and stored.get("digest_sha256") == hashed.hex()
            and base64.b64encode(signature).decode() == stored["signature"]
        )
        valid = as_written and isinstance(key_id, str) and isinstance(algorithm, str) and key_id in self.trusted
        if valid:
            valid = self._verify(str(key_id), str(algorithm), hashed, signature)
        try:
            digest: Digest | None = Digest.model_validate(content)
        except ValidationError:
            digest = None
        return StoredDigest(window_start=start, digest=digest, sha256=hashed.hex(), signature_valid=valid)

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
            if _code(error) in {"KMSInvalidSignatureException", "ValidationException", "InvalidParameterValue"}:
                return False
            raise DependencyUnavailable(f"the digest signature could not be checked: {_code(error)}") from error
        except BotoCoreError as error:
            raise DependencyUnavailable(f"the digest signature could not be checked: {type(error).__name__}") from error
        return bool(answer.get("SignatureValid"))

    def digested(self, start: datetime, end: datetime) -> set[datetime]:
        """Starts of the windows in [start, end) that have a digest, from one listing (paged).

        A reader asks this before it reads: a GET of an absent digest is a 403 to a caller S3 does
        not let list the key, indistinguishable from a refused read of one that is there.
        """
        first, limit = digest_key(start), digest_key(end)
        found: set[datetime] = set()
        # StartAfter is exclusive: the first key without its suffix sorts just before it.
        for key in self._keys(start_after=first.removesuffix(".json")):
            if key >= limit:
                break
            window = window_of_key(key)
            if window is not None:
                found.add(window)
        return found

    def latest(self, not_after: datetime) -> StoredDigest | None:
        """The newest digest whose window starts at or before `not_after` (recent keys first, then all)."""
        limit = digest_key(not_after)
        key = self._newest_key(limit, start_after=digest_key(not_after - _RECENT))
        if key is None:
            key = self._newest_key(limit, start_after=None)  # long downtime, or no digest yet
        start = window_of_key(key) if key else None
        return self.get(start) if start else None

    def _newest_key(self, limit: str, *, start_after: str | None) -> str | None:
        newest: str | None = None
        for key in self._keys(start_after=start_after):
            if key > limit:
                return newest
            if window_of_key(key) is not None:
                newest = key
        return newest

    def _keys(self, *, start_after: str | None) -> Iterator[str]:
        """Keys under `digests/` after `start_after`, in order, a page at a time."""
        request: dict[str, Any] = {"Bucket": self.bucket, "Prefix": PREFIX}
        if start_after:
            request["StartAfter"] = start_after
        try:
            for page in self.s3.get_paginator("list_objects_v2").paginate(**request):
                for item in page.get("Contents", []):
                    yield item.get("Key", "")
        except (ClientError, BotoCoreError) as error:
            raise DependencyUnavailable("the digests could not be listed") from error


def _code(error: ClientError) -> str:
    return str(error.response.get("Error", {}).get("Code", "ClientError"))
