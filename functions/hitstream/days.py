"""UTC days: every counter and salt is keyed by one."""

from __future__ import annotations

import datetime as dt

UTC = dt.UTC
MAX_RANGE_DAYS = 366


def today(now: float) -> str:
    return dt.datetime.fromtimestamp(now, UTC).strftime("%Y-%m-%d")


def day_start(day: str) -> int:
    return int(dt.datetime.strptime(day, "%Y-%m-%d").replace(tzinfo=UTC).timestamp())


def parse_day(value: str) -> dt.date:
    """Strict YYYY-MM-DD; raises ValueError otherwise."""
    if len(value) != 10:
        raise ValueError(value)
    return dt.date.fromisoformat(value)


def days_between(first: dt.date, last: dt.date) -> list[str]:
    return [(first + dt.timedelta(days=i)).isoformat() for i in range((last - first).days + 1)]
