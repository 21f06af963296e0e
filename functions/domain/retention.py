"""When a record's DynamoDB items expire: the TTL its index item, and a referral in the review queue, carry."""

from __future__ import annotations

from datetime import UTC, date, datetime, time


def expires_at(delete_after: str) -> int:
    """The end of the record's last day (its `delete_after`, an ISO date), in epoch seconds."""
    end_of_day = datetime.combine(date.fromisoformat(delete_after), time.max, tzinfo=UTC)
    return int(end_of_day.timestamp())
