"""What auditors ask for, turned into bounded index reads: windows, query plans, cursors.

Every listing is answered by Query on a key or index (see `functions/stores/record_index.py`);
this module decides which partitions, in which order, and rejects unbounded or inverted
windows and tampered cursors with a clear 4xx.
"""

from __future__ import annotations

import base64
import hashlib
import json
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from functions.domain.errors import InvalidInput, MalformedRequest
from functions.domain.index_shards import every_shard

Partition = tuple[str, str, str]  # (index name, key attribute, key value)
Group = tuple[Partition, ...]  # the shards of one key, read as one time-ordered sequence
Boundary = tuple[str, str]  # (decided_at, decision_id) of the last item served: the next page starts after it
Position = tuple[int, Boundary | None]  # (group number, boundary within it)
DEFAULT_WINDOW = timedelta(days=7)


def iso(moment: datetime) -> str:
    """The format of `decided_at`, so that windows compare as strings in DynamoDB."""
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _parse(value: str, field: str) -> datetime:
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise InvalidInput(f"{field} is not an ISO 8601 date or time", field=field) from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


@dataclass(frozen=True)
class Window:
    start: datetime
    end: datetime

    @property
    def bounds(self) -> tuple[str, str]:
        return iso(self.start), iso(self.end)

    def as_dict(self) -> dict[str, str]:
        start, end = self.bounds
        return {"from": start, "to": end}

    def days_newest_first(self) -> list[date]:
        first, last = self.start.astimezone(UTC).date(), self.end.astimezone(UTC).date()
        return [last - timedelta(days=n) for n in range((last - first).days + 1)]


def parse_window(start: str | None, end: str | None, *, max_days: int, now: datetime, prefix: str = "") -> Window:
    """`from`/`to` (ISO 8601, UTC if no offset); defaults to the last 7 days; inverted or too long: 422."""
    to = _parse(end, f"{prefix}to") if end else now
    since = _parse(start, f"{prefix}from") if start else to - DEFAULT_WINDOW
    if since > to:
        raise InvalidInput(f"{prefix}from is after {prefix}to", field=f"{prefix}from")
    if to - since > timedelta(days=max_days):
        raise InvalidInput(f"the window is longer than {max_days} days; split it", field=f"{prefix}from")
    return Window(since, to)


def plan_listing(
    window: Window, *, model_id: str | None, outcome: str | None, subject_hash: str | None, shards: int
) -> tuple[list[Group], dict[str, str]]:
    """The groups of partitions to Query, newest first, and filters the index key cannot express.

    A group is the shards of one key (functions/domain/index_shards.py), merged in time order.
    """
    if subject_hash is not None:  # one subject's decisions: a handful, never sharded
        filters = {k: v for k, v in (("model_id", model_id), ("outcome", outcome)) if v is not None}
        return [(("by_subject", "subject_hash", subject_hash),)], filters
    if model_id is None:
        raise InvalidInput("give model_id or subject_id", field="model_id")
    if outcome is not None:
        key = f"{model_id}#{outcome}"
        return [tuple(("by_model_outcome", "model_outcome", k) for k in every_shard(key, shards))], {}
    return model_groups(window, model_id, shards), {}


def model_groups(window: Window, model_id: str, shards: int) -> list[Group]:
    """A model's days in the window, newest first, each as its shards."""
    return [
        tuple(("by_model_day", "model_day", k) for k in every_shard(f"{model_id}#{day.isoformat()}", shards))
        for day in window.days_newest_first()
    ]


def model_partitions(window: Window, model_id: str, shards: int) -> list[Partition]:
    """Every partition of a model's window, for the reports, which read all of it in any order."""
    return [partition for group in model_groups(window, model_id, shards) for partition in group]


def fingerprint(**query: Any) -> str:
    """Binds a cursor to the query it came from: a cursor reused on another query is refused."""
    return hashlib.sha256(json.dumps(query, sort_keys=True, default=str).encode()).hexdigest()[:16]


def encode_cursor(position: Position, window: Window, query_fingerprint: str) -> str:
    """Opaque to clients: the query it belongs to, its window, and where the next page starts."""
    raw = json.dumps(
        {"q": query_fingerprint, "w": list(window.bounds), "p": position[0], "k": position[1]}, separators=(",", ":")
    )
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode_cursor(cursor: str, query_fingerprint: str) -> tuple[Position, Window]:
    """The position and the window of the page a cursor continues; 400 if it is not one of ours for this query."""
    try:
        data = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        number, key, (start, end) = data["p"], data["k"], data["w"]
        window = Window(_parse(start, "cursor"), _parse(end, "cursor"))
        valid = (
            data["q"] == query_fingerprint
            and isinstance(number, int)
            and not isinstance(number, bool)
            and number >= 0
            and (key is None or _is_boundary(key))
        )
    except (ValueError, KeyError, TypeError, InvalidInput):
        valid = False
    if not valid:
        raise MalformedRequest("the cursor is malformed or belongs to another query", field="cursor")
    return (number, None if key is None else (key[0], key[1])), window


def _is_boundary(key: Any) -> bool:
    return isinstance(key, list) and len(key) == 2 and all(isinstance(part, str) and part for part in key)
