"""Write sharding of the records' time-ordered keys, so that no partition key or S3 prefix caps the load.

A DynamoDB partition key takes about 1,000 write units a second, and a global secondary index
that cannot keep up throttles the table's own writes. The index keys `day` (every model's day),
`model_day` and `model_outcome` would each take every decision of a model (or of all models),
so each carries a shard number derived from the decision id: stable (a record's keys never
move), uniform (the bits of a hash), and the same for all three keys of one record.

Shard 0 keeps the unsharded key (`2026-12-01`, `ticket-router#2026-12-01`) and shard n > 0
appends `#n`. So:
- items written before sharding, or with `CANDOR_INDEX_SHARDS=1`, are shard 0's and are read;
- raising the shard count is safe (readers ask shards 0..n-1, a superset of the old ones);
  lowering it would hide the items of the dropped shards (docs/deploy.md: only raise it).
Model ids and labels cannot contain '#' (their manifest patterns), so keys cannot collide.
"""

from __future__ import annotations

import zlib


def shard_of(decision_id: str, shards: int) -> int:
    """Which shard a decision's index keys go to: CRC-32 of its id (ULIDs' first chars are the clock)."""
    return zlib.crc32(decision_id.encode()) % shards if shards > 1 else 0


def sharded(key: str, shard: int) -> str:
    """The partition key value of `key` in `shard` (shard 0 is the unsharded key itself)."""
    return key if shard == 0 else f"{key}#{shard}"


def every_shard(key: str, shards: int) -> list[str]:
    """The partition key values a reader must ask for to see every item of `key`."""
    return [sharded(key, shard) for shard in range(shards)]


OBJECT_SPREAD = 16  # S3 key ranges a day's objects are spread over: 10,000 PUT/s is 625 a range, S3 takes 3,500


def object_spread(decision_id: str) -> str:
    """A hex digit from the decision id, put before it in S3 object names (`<digit>-<decision_id>.json`).

    S3 takes about 3,500 PUTs a second per key prefix and splits a busy bucket's key space into
    ranges, but ULIDs written together share their time characters: every new object would land
    at the end of one range, which no split relieves. The digit spreads them over 16 ranges.
    """
    return format(zlib.crc32(decision_id.encode()) >> 28, "x")
