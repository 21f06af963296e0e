"""Integrity digests, CloudTrail's way: per time window, a signed list of every record and its hash.

A scheduled job writes one digest per closed window (hours, aligned to midnight UTC): the
window, every record decided in it as (decision_id, content_sha256), and the SHA-256 of the
previous window's digest, so digests form a chain. The digest's canonical JSON is signed with
an asymmetric KMS key. A verifier then re-reads the index and the archived envelopes, re-hashes
each envelope from its canonical JSON (the stored `content_sha256` alone proves nothing) and
reports what was altered, deleted or inserted since, bad signatures, and gaps in the chain.

Windows close with a lag (5 minutes by default) so that a decision written at 10:59:59.9 and
indexed a moment later still falls into the 10:00 window's digest.

Plain Python: the stores behind the two ports below do the AWS calls.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Annotated, Literal, Protocol

from pydantic import BaseModel, ConfigDict, Field, field_validator

from functions.domain.seal import canonical_json, sha256_hex

DIGEST_SCHEMA: Literal["candor.digest/1"] = "candor.digest/1"
SIGNING_ALGORITHM = "ECDSA_SHA_256"


def iso_utc(moment: datetime) -> str:
    """Second precision, `Z`: the form of window bounds in digests and reports."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_utc(value: str) -> datetime:
    moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    return moment.astimezone(UTC) if moment.tzinfo else moment.replace(tzinfo=UTC)


# ----------------------------------------------------------------------------- windows


@dataclass(frozen=True)
class Windowing:
    """Fixed windows of `hours` (a divisor of 24, aligned to midnight UTC) that close `lag` after their end.

    Fixed once digests exist: the digest of a window is stored under its start hour.
    """

    hours: int = 1
    lag: timedelta = timedelta(minutes=5)

    def __post_init__(self) -> None:
        if self.hours < 1 or 24 % self.hours:
            raise ValueError(f"the digest window must divide a day into whole hours, not {self.hours}")
        if self.lag < timedelta(0):
            raise ValueError("the closing lag cannot be negative")

    @property
    def size(self) -> timedelta:
        return timedelta(hours=self.hours)

    def start_of(self, moment: datetime) -> datetime:
        """The start of the window holding `moment`."""
        moment = moment.astimezone(UTC)
        return moment.replace(hour=moment.hour - moment.hour % self.hours, minute=0, second=0, microsecond=0)

    def last_closed(self, now: datetime) -> datetime:
        """The start of the newest window that has closed (its end plus the lag has passed) at `now`."""
        return self.start_of(now - self.lag) - self.size

    def is_closed(self, start: datetime, now: datetime) -> bool:
        return start <= self.last_closed(now)

    def between(self, start: datetime, end: datetime) -> list[datetime]:
        """Starts of every window overlapping [start, end), oldest first."""
        current, found = self.start_of(start), []
        while current < end:
            found.append(current)
            current += self.size
        return found

    def contains(self, start: datetime, decided_at: str) -> bool:
        return self.start_of(parse_utc(decided_at)) == start


# ------------------------------------------------------------------------------ digest


class _Frozen(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class DigestEntry(_Frozen):
    decision_id: str
    content_sha256: Annotated[str, Field(pattern=r"^[0-9a-f]{64}$")]


class Digest(_Frozen):
    """One window's digest. Signed over its canonical JSON; chained by `previous_digest_sha256`."""

    schema_version: Literal["candor.digest/1"] = DIGEST_SCHEMA
    window_start: str = Field(description="ISO-8601 UTC, inclusive.")
    window_end: str = Field(description="ISO-8601 UTC, exclusive.")
    created_at: str
    records: list[DigestEntry] = Field(description="Every record decided in the window, sorted by decision_id.")
    previous_digest_sha256: str | None = Field(description="SHA-256 of the previous window's digest; None first.")
    signing_key_id: str = Field(description="ARN of the KMS key that signed the digest.")
    algorithm: str = Field(default=SIGNING_ALGORITHM, description="KMS signing algorithm, over SHA-256 of the JSON.")

    @field_validator("records")
    @classmethod
    def _sorted_and_unique(cls, records: list[DigestEntry]) -> list[DigestEntry]:
        ids = [r.decision_id for r in records]
        if ids != sorted(set(ids)):
            raise ValueError("records must be sorted by decision_id, each listed once")
        return records


def digest_bytes(digest: Digest) -> bytes:
    """What is signed and hashed: the canonical JSON of the digest."""
    return canonical_json(digest)


def digest_sha256(digest: Digest) -> str:
    return sha256_hex(digest_bytes(digest))


def build_digest(
    start: datetime,
    windowing: Windowing,
    records: Iterable[IndexedRecord],
    *,
    previous_sha256: str | None,
    signing_key_id: str,
    created_at: datetime,
) -> Digest:
    entries = sorted(
        (DigestEntry(decision_id=r.decision_id, content_sha256=r.content_sha256) for r in records),
        key=lambda e: e.decision_id,
    )
    return Digest(
        window_start=iso_utc(start),
        window_end=iso_utc(start + windowing.size),
        created_at=iso_utc(created_at),
        records=entries,
        previous_digest_sha256=previous_sha256,
        signing_key_id=signing_key_id,
    )


# ------------------------------------------------------------------------------- ports


@dataclass(frozen=True)
class IndexedRecord:
    """What the records' index holds about one record (the sealed hash, where its envelope is, retention)."""

    decision_id: str
    decided_at: str
    content_sha256: str
    archive_key: str
    retention_class: str = "standard"
    expires_at: int | None = None  # epoch seconds: end of the delete-after day
    completion_key: str | None = None  # a deferred explanation's write-once completion, once stored


@dataclass(frozen=True)
class ArchivedEnvelope:
    """An archived envelope as found now: `sha256` recomputed from its canonical JSON, or what is wrong.

    `inconsistent`: it parses, but the object is not the canonical JSON it was written as, or the
    hash stored beside the envelope is not the envelope's.
    """

    sha256: str | None
    problem: Literal["missing", "unreadable", "inconsistent"] | None = None


@dataclass(frozen=True)
class StoredDigest:
    """A digest as read back: `digest` is None when the object no longer parses as one."""

    window_start: datetime
    digest: Digest | None
    sha256: str  # of the stored digest's canonical JSON (of the raw bytes when unreadable)
    signature_valid: bool


class DigestStore(Protocol):
    def get(self, start: datetime) -> StoredDigest | None:
        """The digest of the window starting at `start`, its signature checked; None when there is none."""
        ...

    def put(self, digest: Digest, *, retain_until: datetime | None = None) -> StoredDigest:
        """Sign and store, once per window (locked until `retain_until` when the bucket's default is shorter);
        when the window already has a digest, return that one."""
        ...

    def latest(self, not_after: datetime) -> StoredDigest | None:
        """The newest digest whose window starts at or before `not_after`."""
        ...

    def digested(self, start: datetime, end: datetime) -> set[datetime]:
        """Starts of the windows in [start, end) that have a digest."""
        ...


class RecordSource(Protocol):
    def indexed(self, start: datetime, end: datetime) -> Iterator[IndexedRecord]:
        """Every index item decided in [start, end)."""
        ...

    def archived(self, record: IndexedRecord) -> ArchivedEnvelope:
        """The record's archived envelope, re-hashed."""
        ...

    def extend_retention(self, record: IndexedRecord, until: datetime) -> None:
        """Lengthen the Object Lock retention of the record's archived envelope (and completion, if any)."""
        ...

    def copy_pending(self, start: datetime, end: datetime) -> bool:
        """Whether a record decided in [start, end) still awaits its archive copy (docs/records.md)."""
        ...


# ------------------------------------------------------------------------------ report


class Finding(_Frozen):
    window_start: str
    decision_id: str | None = None
    detail: str


class IntegrityReport(_Frozen):
    """What a verification found. Anything but undigested windows makes `ok` false."""

    span_start: str
    span_end: str
    window_hours: int
    windows_checked: int = Field(description="Windows whose digest was found and compared with the records.")
    records_checked: int
    altered: list[Finding] = Field(description="Listed hash, index hash and re-hashed archived envelope disagree.")
    missing: list[Finding] = Field(description="Listed in a digest, but no index item or no archived envelope.")
    inserted: list[Finding] = Field(description="An index item in a digested window that its digest does not list.")
    bad_signatures: list[Finding] = Field(description="Digests whose KMS signature does not verify, or unreadable.")
    broken_chain: list[Finding] = Field(description="A digest missing inside the chain, or a previous hash mismatch.")
    undigested_windows: list[str] = Field(description="Windows not digested yet (open, or before the first digest).")
    ok: bool


@dataclass
class _Findings:
    windows_checked: int = 0
    records_checked: int = 0
    altered: list[Finding] = field(default_factory=list)
    missing: list[Finding] = field(default_factory=list)
    inserted: list[Finding] = field(default_factory=list)
    bad_signatures: list[Finding] = field(default_factory=list)
    broken_chain: list[Finding] = field(default_factory=list)
    undigested: list[str] = field(default_factory=list)


def check_records(
    window: str, digest: Digest, current: Iterable[tuple[IndexedRecord, ArchivedEnvelope]], into: _Findings
) -> None:
    """Compare one window's digest with its records as they are now."""
    listed = {entry.decision_id: entry.content_sha256 for entry in digest.records}
    into.records_checked += len(listed)
    for record, archived in current:
        expected = listed.pop(record.decision_id, None)
        if expected is None:
            into.records_checked += 1
            into.inserted.append(Finding(window_start=window, decision_id=record.decision_id, detail="not listed"))
        elif archived.problem == "missing":
            into.missing.append(
                Finding(window_start=window, decision_id=record.decision_id, detail="archived envelope missing")
            )
        elif archived.problem is not None or archived.sha256 != expected:
            detail = f"archived envelope {archived.problem}" if archived.problem else "archived envelope hash differs"
            into.altered.append(Finding(window_start=window, decision_id=record.decision_id, detail=detail))
        elif record.content_sha256 != expected:
            into.altered.append(
                Finding(window_start=window, decision_id=record.decision_id, detail="index content_sha256 differs")
            )
    for decision_id in sorted(listed):
        into.missing.append(Finding(window_start=window, decision_id=decision_id, detail="index item missing"))


def verify_span(
    start: datetime,
    end: datetime,
    *,
    now: datetime,
    windowing: Windowing,
    digests: DigestStore,
    records: RecordSource,
) -> IntegrityReport:
    """Check every window overlapping [start, end): records against digests, signatures, and the chain.

    Reads one window at a time; the digest of the window before the span is read too, to check
    the first link. Which windows have a digest comes first, from `digests.digested`.
    """
    found = _Findings()
    windows = windowing.between(start, end)
    before = windows[0] - windowing.size if windows else start
    # Only digests known to exist are read: whether one is there is the store's listing to say,
    # as a read of one that is not there may fail like a refused read (S3's 403 without a list
    # permission), and windows not digested yet are a normal sight, not a failure.
    digested = digests.digested(before, windows[-1] + windowing.size) if windows else set()
    previous = digests.get(before) if before in digested else None
    chain_seen = previous is not None  # a digest before these windows: gaps after it are breaks
    gap: list[datetime] = []  # windows without a digest since the last digest seen

    for window in windows:
        label = iso_utc(window)
        stored = digests.get(window) if window in digested and windowing.is_closed(window, now) else None
        if stored is None:
            gap.append(window)
            previous = None
            continue
        # An unreadable digest may have chained back: treat it as if it did.
        chains_back = stored.digest is None or stored.digest.previous_digest_sha256 is not None
        if gap:  # windows without a digest: a break if a chain ran before them or this digest chains back
            broken = chain_seen or chains_back
            for missing_window in gap:
                if broken:
                    found.broken_chain.append(Finding(window_start=iso_utc(missing_window), detail="digest missing"))
                else:
                    found.undigested.append(iso_utc(missing_window))
            gap = []
        elif previous is None and chains_back:  # the span's first window links to a digest that is gone
            found.broken_chain.append(
                Finding(window_start=iso_utc(window - windowing.size), detail="digest missing (before the span)")
            )
        _check_link(label, stored, previous, found)
        chain_seen, previous = True, stored

        if not stored.signature_valid:
            found.bad_signatures.append(Finding(window_start=label, detail="signature does not verify"))
        if stored.digest is None:
            found.bad_signatures.append(Finding(window_start=label, detail="digest unreadable"))
            continue
        if stored.digest.window_start != label or stored.digest.window_end != iso_utc(window + windowing.size):
            found.broken_chain.append(Finding(window_start=label, detail="digest is for another window"))
        found.windows_checked += 1
        current = ((r, records.archived(r)) for r in records.indexed(window, window + windowing.size))
        check_records(label, stored.digest, current, found)

    found.undigested.extend(iso_utc(w) for w in gap)
    return IntegrityReport(
        span_start=iso_utc(start),
        span_end=iso_utc(end),
        window_hours=windowing.hours,
        windows_checked=found.windows_checked,
        records_checked=found.records_checked,
        altered=found.altered,
        missing=found.missing,
        inserted=found.inserted,
        bad_signatures=found.bad_signatures,
        broken_chain=found.broken_chain,
        undigested_windows=found.undigested,
        ok=not (found.altered or found.missing or found.inserted or found.bad_signatures or found.broken_chain),
    )


def _check_link(label: str, stored: StoredDigest, previous: StoredDigest | None, into: _Findings) -> None:
    if stored.digest is None:
        return  # reported as unreadable; its successor's link check catches the rest
    claimed = stored.digest.previous_digest_sha256
    if claimed is None and previous is not None:
        into.broken_chain.append(Finding(window_start=label, detail="restarts the chain after an existing digest"))
    elif claimed is not None and previous is not None and claimed != previous.sha256:
        into.broken_chain.append(Finding(window_start=label, detail="previous digest hash does not match"))


# -------------------------------------------------------------------------------- writer


class DigestRun(_Frozen):
    """What one run of the scheduled job did."""

    windows_written: list[str]
    records_listed: int
    retention_extended: int
    caught_up: bool = Field(description="False when the run stopped at its window limit; the next run continues.")
    deferred: str | None = Field(
        default=None, description="The window not digested because a record of it awaits its archive copy."
    )


def retain_until(record: IndexedRecord, default_retention: timedelta) -> datetime | None:
    """When the record's retention outlasts the bucket's default lock, the date to lock it until."""
    if record.expires_at is None:
        return None
    until = datetime.fromtimestamp(record.expires_at, tz=UTC)
    return until if until > parse_utc(record.decided_at) + default_retention else None


def write_due_digests(
    now: datetime,
    *,
    windowing: Windowing,
    digests: DigestStore,
    records: RecordSource,
    signing_key_id: str,
    default_retention: timedelta,
    first_window: datetime | None = None,
    max_windows: int = 24 * 31,
) -> DigestRun:
    """Digest every closed window not digested yet, oldest first, chained; lock long-lived records longer.

    Idempotent and catching up: it continues after the newest digest, so a run after downtime
    writes every missed window (at most `max_windows` per run). With no digest at all, the chain
    starts at `first_window` (default: the newest closed window). Retention is extended before a
    window's digest is written, so a window with a digest has its records locked for as long as
    their class needs.
    """
    last = windowing.last_closed(now)
    previous = digests.latest(last)
    if previous is not None:
        window = previous.window_start + windowing.size
    else:
        window = windowing.start_of(first_window) if first_window is not None else last
    written: list[str] = []
    listed = extended = 0
    deferred: str | None = None
    while window <= last and len(written) < max_windows:
        # Its records must be in the archive before the window is locked and digested (the verifier
        # re-hashes archived objects): a record still awaiting its copy defers the window, and the
        # chain, to the next run; it is never reported missing.
        if records.copy_pending(window, window + windowing.size):
            deferred = iso_utc(window)
            break
        in_window = [
            r for r in records.indexed(window, window + windowing.size) if windowing.contains(window, r.decided_at)
        ]
        longest: datetime | None = None  # the digest is kept as long as the longest-kept record it lists
        for record in in_window:
            until = retain_until(record, default_retention)
            if until is not None:
                records.extend_retention(record, until)
                extended += 1
                longest = max(longest or until, until)
        digest = build_digest(
            window,
            windowing,
            in_window,
            previous_sha256=previous.sha256 if previous else None,
            signing_key_id=signing_key_id,
            created_at=now,
        )
        previous = digests.put(digest, retain_until=longest)
        written.append(iso_utc(window))
        listed += len(in_window)
        window += windowing.size
    return DigestRun(
        windows_written=written,
        records_listed=listed,
        retention_extended=extended,
        caught_up=window > last,
        deferred=deferred,
    )
