"""Integrity digests and their verifier over in-memory stores: windows, chain, findings, retention."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta

import pytest
from pydantic import ValidationError

from functions.domain.integrity import (
    ArchivedEnvelope,
    Digest,
    DigestEntry,
    IndexedRecord,
    StoredDigest,
    Windowing,
    digest_bytes,
    digest_sha256,
    iso_utc,
    parse_utc,
    retain_until,
    verify_span,
    write_due_digests,
)

T0 = datetime(2026, 11, 27, 10, tzinfo=UTC)
HOUR = timedelta(hours=1)
KEY = b"test signing key"
W = Windowing()


@dataclass
class MemoryDigests:
    """Digests as (digest, signature) by window; the signature is an HMAC standing in for KMS."""

    stored: dict[datetime, tuple[Digest, bytes]] = field(default_factory=dict)
    retained: dict[datetime, datetime | None] = field(default_factory=dict)

    def put(self, digest: Digest, *, retain_until: datetime | None = None) -> StoredDigest:
        start = datetime.fromisoformat(digest.window_start.replace("Z", "+00:00"))
        if start not in self.stored:
            self.stored[start] = (digest, hmac.new(KEY, digest_bytes(digest), hashlib.sha256).digest())
            self.retained[start] = retain_until
        found = self.get(start)
        assert found is not None
        return found

    def get(self, start: datetime) -> StoredDigest | None:
        if start not in self.stored:
            return None
        digest, signature = self.stored[start]
        valid = hmac.compare_digest(signature, hmac.new(KEY, digest_bytes(digest), hashlib.sha256).digest())
        return StoredDigest(window_start=start, digest=digest, sha256=digest_sha256(digest), signature_valid=valid)

    def latest(self, not_after: datetime) -> StoredDigest | None:
        starts = [s for s in self.stored if s <= not_after]
        return self.get(max(starts)) if starts else None

    def digested(self, start: datetime, end: datetime) -> set[datetime]:
        return {s for s in self.stored if start <= s < end}


@dataclass
class MemoryRecords:
    index: dict[str, IndexedRecord] = field(default_factory=dict)
    archive: dict[str, str] = field(default_factory=dict)  # archive key -> envelope hash
    extended: dict[str, datetime] = field(default_factory=dict)
    pending: list[str] = field(default_factory=list)  # decided_at of records awaiting their archive copy

    def add(self, n: int, decided_at: datetime, *, expires_at: int | None = None) -> IndexedRecord:
        sha = hashlib.sha256(f"record {n}".encode()).hexdigest()
        record = IndexedRecord(
            decision_id=f"d-{n:03d}",
            decided_at=decided_at.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
            content_sha256=sha,
            archive_key=f"records/d-{n:03d}.json",
            retention_class="consequential" if expires_at else "standard",
            expires_at=expires_at,
        )
        self.index[record.decision_id] = record
        self.archive[record.archive_key] = sha
        return record

    def indexed(self, start: datetime, end: datetime) -> Iterator[IndexedRecord]:
        return iter([r for r in self.index.values() if W.contains(start, r.decided_at)])

    def archived(self, record: IndexedRecord) -> ArchivedEnvelope:
        if record.archive_key not in self.archive:
            return ArchivedEnvelope(sha256=None, problem="missing")
        return ArchivedEnvelope(sha256=self.archive[record.archive_key])

    def extend_retention(self, record: IndexedRecord, until: datetime) -> None:
        self.extended[record.decision_id] = until

    def copy_pending(self, start: datetime, end: datetime) -> bool:
        return any(start <= parse_utc(decided_at) < end for decided_at in self.pending)


def write(digests: MemoryDigests, records: MemoryRecords, now: datetime, first: datetime | None = T0):
    return write_due_digests(
        now,
        windowing=W,
        digests=digests,
        records=records,
        signing_key_id="key-1",
        default_retention=timedelta(days=183),
        first_window=first,
    )


def check(digests: MemoryDigests, records: MemoryRecords, start=T0, end=T0 + 3 * HOUR, now=T0 + 4 * HOUR):
    return verify_span(start, end, now=now, windowing=W, digests=digests, records=records)


@pytest.fixture
def chain() -> tuple[MemoryDigests, MemoryRecords]:
    """Windows 10:00, 11:00, 12:00 digested, two records each."""
    digests, records = MemoryDigests(), MemoryRecords()
    for n in range(6):
        records.add(n, T0 + (n // 2) * HOUR + timedelta(minutes=10 + 30 * (n % 2)))
    run = write(digests, records, T0 + 3 * HOUR + timedelta(minutes=6))
    assert run.windows_written == [iso_utc(T0 + h * HOUR) for h in range(3)]
    return digests, records


def test_a_window_with_a_record_awaiting_its_archive_copy_is_deferred_with_the_rest_of_the_chain():
    digests, records = MemoryDigests(), MemoryRecords()
    records.add(0, T0 + timedelta(minutes=10))
    late = records.add(1, T0 + HOUR + timedelta(minutes=20), expires_at=2_000_000_000)
    records.pending.append(late.decided_at)  # its copy has not run yet
    now = T0 + 3 * HOUR + timedelta(minutes=6)
    run = write(digests, records, now)
    # 10:00 is digested; 11:00 waits (neither locked nor digested), and so does 12:00 (the chain is in order).
    assert run.windows_written == [iso_utc(T0)]
    assert run.deferred == iso_utc(T0 + HOUR) and not run.caught_up
    assert late.decision_id not in records.extended
    assert check(digests, records, now=now).ok  # nothing reported missing: 11:00 is not digested yet
    records.pending.clear()  # copied
    run = write(digests, records, now + HOUR)
    assert run.windows_written == [iso_utc(T0 + h * HOUR) for h in (1, 2, 3)] and run.deferred is None
    assert late.decision_id in records.extended
    assert check(digests, records, now=now + HOUR).ok


# ----------------------------------------------------------------------------- windows


def test_windows_are_aligned_hours_that_close_after_a_lag():
    assert W.start_of(datetime(2026, 11, 27, 10, 59, 59, 999_000, tzinfo=UTC)) == T0
    assert W.last_closed(T0 + HOUR + timedelta(minutes=4)) == T0 - HOUR  # 10:00 still open for late writes
    assert W.last_closed(T0 + HOUR + timedelta(minutes=5)) == T0
    assert W.between(T0 + timedelta(minutes=30), T0 + 2 * HOUR) == [T0, T0 + HOUR]
    six = Windowing(hours=6)
    assert six.start_of(T0) == T0.replace(hour=6)
    assert W.contains(T0, "2026-11-27T10:59:59.999Z")
    assert not W.contains(T0, "2026-11-27T11:00:00.000Z")


@pytest.mark.parametrize("hours", [0, 5, 7, 25])
def test_a_window_must_divide_the_day(hours):
    with pytest.raises(ValueError, match="divide a day"):
        Windowing(hours=hours)


def test_a_digest_lists_records_sorted_and_once():
    entry = DigestEntry(decision_id="b", content_sha256="0" * 64)
    fields = {"window_start": "x", "window_end": "y", "created_at": "z", "signing_key_id": "k"}
    with pytest.raises(ValidationError, match="sorted"):
        Digest(records=[entry, entry.model_copy(update={"decision_id": "a"})], previous_digest_sha256=None, **fields)
    with pytest.raises(ValidationError, match="sorted"):
        Digest(records=[entry, entry], previous_digest_sha256=None, **fields)
    digest = Digest(records=[entry], previous_digest_sha256=None, **fields)
    assert digest_bytes(digest).startswith(b'{"algorithm":"ECDSA_SHA_256","created_at":"z"')
    assert digest_sha256(digest) == hashlib.sha256(digest_bytes(digest)).hexdigest()


# ------------------------------------------------------------------------------ writer


def test_the_job_chains_each_window_to_the_previous_digest(chain):
    digests, _ = chain
    first, second, third = (digests.stored[T0 + h * HOUR][0] for h in range(3))
    assert first.previous_digest_sha256 is None
    assert second.previous_digest_sha256 == digest_sha256(first)
    assert third.previous_digest_sha256 == digest_sha256(second)
    assert [e.decision_id for e in second.records] == ["d-002", "d-003"]
    assert (second.window_start, second.window_end) == ("2026-11-27T11:00:00Z", "2026-11-27T12:00:00Z")


def test_the_job_is_idempotent_and_catches_up(chain):
    digests, records = chain
    later = T0 + 3 * HOUR + timedelta(minutes=30)
    assert write(digests, records, later).windows_written == []
    records.add(50, T0 + 5 * HOUR)
    run = write(digests, records, T0 + 8 * HOUR)  # down for hours
    assert run.windows_written == [iso_utc(T0 + h * HOUR) for h in range(3, 7)]
    assert run.records_listed == 1
    assert check(digests, records, end=T0 + 8 * HOUR, now=T0 + 8 * HOUR).ok


def test_without_a_first_window_the_chain_starts_at_the_newest_closed_one():
    digests, records = MemoryDigests(), MemoryRecords()
    run = write(digests, records, T0 + timedelta(minutes=70), first=None)
    assert run.windows_written == [iso_utc(T0)]


def test_a_late_write_lands_in_its_own_window_digest():
    digests, records = MemoryDigests(), MemoryRecords()
    run = write(digests, records, T0 + timedelta(minutes=64), first=T0 - HOUR)
    assert run.windows_written == [iso_utc(T0 - HOUR)]  # 10:00 ended at 11:00 but stays open until 11:05
    records.add(1, T0 + timedelta(minutes=59, seconds=59))  # written at 11:04, decided at 10:59:59
    run = write(digests, records, T0 + timedelta(minutes=65))
    assert run.windows_written == [iso_utc(T0)]
    assert [e.decision_id for e in digests.stored[T0][0].records] == ["d-001"]


def test_long_retention_is_locked_before_the_digest_and_the_digest_as_long():
    digests, records = MemoryDigests(), MemoryRecords()
    three_years = int((T0 + timedelta(days=3 * 365)).timestamp())
    records.add(1, T0 + timedelta(minutes=1), expires_at=three_years)
    records.add(2, T0 + timedelta(minutes=2), expires_at=int((T0 + timedelta(days=180)).timestamp()))
    run = write(digests, records, T0 + 2 * HOUR)
    assert run.retention_extended == 1
    assert records.extended == {"d-001": datetime.fromtimestamp(three_years, UTC)}
    assert digests.retained[T0] == datetime.fromtimestamp(three_years, UTC)


def test_retention_is_left_alone_when_the_default_lock_covers_it():
    record = IndexedRecord("d", "2026-11-27T10:00:00.000Z", "0" * 64, "k", "standard", None)
    assert retain_until(record, timedelta(days=183)) is None


# ---------------------------------------------------------------------------- verifier


def test_an_untouched_chain_verifies(chain):
    report = check(*chain)
    assert report.ok
    assert (report.windows_checked, report.records_checked) == (3, 6)
    assert report.undigested_windows == []


def test_an_altered_archive_or_index_hash_is_altered(chain):
    digests, records = chain
    records.archive["records/d-001.json"] = "f" * 64
    records.index["d-004"] = replace(records.index["d-004"], content_sha256="e" * 64)
    report = check(digests, records)
    assert [(f.decision_id, f.detail) for f in report.altered] == [
        ("d-001", "archived envelope hash differs"),
        ("d-004", "index content_sha256 differs"),
    ]
    assert not report.ok


def test_a_deleted_index_item_or_archive_object_is_missing(chain):
    digests, records = chain
    del records.index["d-002"]
    del records.archive["records/d-005.json"]
    report = check(digests, records)
    assert [(f.decision_id, f.detail) for f in report.missing] == [
        ("d-002", "index item missing"),
        ("d-005", "archived envelope missing"),
    ]


def test_a_record_added_after_its_window_was_digested_is_inserted(chain):
    digests, records = chain
    records.add(77, T0 + HOUR + timedelta(minutes=3))
    report = check(digests, records)
    assert [(f.window_start, f.decision_id) for f in report.inserted] == [("2026-11-27T11:00:00Z", "d-077")]
    assert report.records_checked == 7


def test_an_edited_digest_has_a_bad_signature_and_breaks_the_next_link(chain):
    digests, records = chain
    digest, signature = digests.stored[T0 + HOUR]
    digests.stored[T0 + HOUR] = (digest.model_copy(update={"records": digest.records[1:]}), signature)
    report = check(digests, records)
    assert [f.window_start for f in report.bad_signatures] == ["2026-11-27T11:00:00Z"]
    assert [f.window_start for f in report.broken_chain] == ["2026-11-27T12:00:00Z"]
    assert [f.decision_id for f in report.inserted] == ["d-002"]


def test_a_deleted_digest_inside_the_chain_breaks_it(chain):
    digests, records = chain
    del digests.stored[T0 + HOUR]
    report = check(digests, records)
    assert [(f.window_start, f.detail) for f in report.broken_chain] == [("2026-11-27T11:00:00Z", "digest missing")]
    assert report.undigested_windows == []


def test_a_deleted_digest_just_before_the_span_breaks_its_first_link(chain):
    digests, records = chain
    del digests.stored[T0]
    report = check(digests, records, start=T0 + HOUR)
    assert [f.window_start for f in report.broken_chain] == ["2026-11-27T10:00:00Z"]


def test_a_re_rooted_chain_is_broken(chain):
    digests, records = chain
    digest, _ = digests.stored.pop(T0 + 2 * HOUR)
    digests.put(digest.model_copy(update={"previous_digest_sha256": None}))
    report = check(digests, records)
    assert [f.detail for f in report.broken_chain] == ["restarts the chain after an existing digest"]


def test_a_digest_copied_to_another_window_is_caught(chain):
    digests, records = chain
    digests.stored[T0 + 2 * HOUR] = digests.stored[T0 + HOUR]
    report = check(digests, records)
    assert "digest is for another window" in {f.detail for f in report.broken_chain}


def test_windows_before_the_first_digest_and_open_ones_are_undigested_not_failures(chain):
    digests, records = chain
    report = check(digests, records, start=T0 - 2 * HOUR, end=T0 + 5 * HOUR, now=T0 + 4 * HOUR)
    assert report.ok
    assert report.undigested_windows == [iso_utc(T0 + h * HOUR) for h in (-2, -1, 3, 4)]


@dataclass
class RefusingDigests(MemoryDigests):
    """As S3 answers a reader that may not list the digests: reading one that is not there fails."""

    def get(self, start: datetime) -> StoredDigest | None:
        if start not in self.stored:
            raise AssertionError(f"read the digest of {iso_utc(start)}, which does not exist")
        return super().get(start)


def test_the_verifier_reads_only_digests_that_exist():
    digests, records = RefusingDigests(), MemoryRecords()
    records.add(0, T0 + timedelta(minutes=10))
    write(digests, records, T0 + HOUR + timedelta(minutes=6))  # 10:00 digested; 11:00 closed, not yet
    report = check(digests, records, start=T0 - HOUR, end=T0 + 3 * HOUR, now=T0 + 2 * HOUR + timedelta(minutes=6))
    assert report.ok, report
    assert report.undigested_windows == [iso_utc(T0 + h * HOUR) for h in (-1, 1, 2)]
    del digests.stored[T0]  # a deleted digest is a gap the listing shows, still never read
    report = check(digests, records, start=T0, end=T0 + 2 * HOUR, now=T0 + 2 * HOUR + timedelta(minutes=6))
    assert report.undigested_windows == [iso_utc(T0), iso_utc(T0 + HOUR)]
