"""Integrity digests in the archive bucket, signed with an asymmetric KMS key.

Layout: `digests/<yyyy>/<mm>/<dd>/<HH>.json` (the window's start hour, UTC), next to the
records under the same Object Lock, written with `IfNoneMatch: *` so each window gets exactly
one digest. The object is the canonical JSON of

    {"digest": <Digest>, "digest_sha256": <hex>, "signature": <base64>}

signed as every signed object is (functions/stores/signed_objects.py: KMS `Sign`, `ECDSA_SHA_256`,
over the SHA-256 of the digest's canonical JSON).
"""

from __future__ import annotations

from collections.abc import Collection, Iterator
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from pydantic import ValidationError

from functions.domain.errors import DependencyUnavailable
from functions.domain.integrity import Digest, StoredDigest
from functions.stores.signed_objects import AlreadyWritten, SignedObjects

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
        self.signing_key_id = signing_key_id
        self.objects = SignedObjects(
            name="digest",
            bucket=bucket,
            kms_key_id=kms_key_id,
            s3=s3,
            kms=kms,
            trusted_key_ids={signing_key_id, *trusted_key_ids},
        )

    def put(self, digest: Digest, *, retain_until: datetime | None = None) -> StoredDigest:
        """Sign and write the window's digest; if the window already has one (a concurrent run), return it.

        `retain_until` locks it (compliance mode) past the bucket's default, for windows holding
        records that are kept longer.
        """
        start = datetime.fromisoformat(digest.window_start.replace("Z", "+00:00"))
        try:
            sha256 = self.objects.write(
                digest_key(start),
                digest.model_dump(mode="json"),
                key_id=digest.signing_key_id,
                algorithm=digest.algorithm,
                retain_until=retain_until,
            )
        except AlreadyWritten:
            existing = self.get(start)
            if existing is None:
                raise DependencyUnavailable("the digest could not be written: PreconditionFailed") from None
            return existing
        return StoredDigest(window_start=start, digest=digest, sha256=sha256, signature_valid=True)

    def get(self, start: datetime) -> StoredDigest | None:
        """The window's digest with its signature checked by KMS `Verify`; None when the window has none."""
        found = self.objects.read(digest_key(start))
        if found is None:
            return None
        try:
            digest = Digest.model_validate(found.content) if found.content is not None else None
        except ValidationError:
            digest = None
        return StoredDigest(
            window_start=start, digest=digest, sha256=found.sha256, signature_valid=found.signature_valid
        )

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
        return self.objects.keys(PREFIX, start_after=start_after)
