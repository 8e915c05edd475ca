"""Runtime configuration, read from the environment once and validated at start-up."""

from __future__ import annotations

import os
from dataclasses import dataclass
from functools import lru_cache


class ConfigError(RuntimeError):
    """A required setting is missing or malformed: fail at init, not at the first request."""


DEFAULT_LOCAL_ORIGINS = ("http://localhost:*", "http://127.0.0.1:*")


@dataclass(frozen=True)
class Settings:
    events_table: str
    stats_table: str
    allowed_origins: tuple[str, ...]
    event_ttl_days: int = 30
    salt_ttl_hours: int = 48
    edge_secret: str = ""  # set when CloudFront + WAF front the API (stacks/edge.py)


def _int(name: str, default: int, low: int, high: int) -> int:
    raw = os.environ.get(name, "")
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError as exc:
        raise ConfigError(f"{name} must be an integer, got {raw!r}") from exc
    if not low <= value <= high:
        raise ConfigError(f"{name} must be between {low} and {high}, got {value}")
    return value


def _required(name: str) -> str:
    value = os.environ.get(name, "").strip()
    if not value:
        raise ConfigError(f"environment variable {name} is required")
    return value


@lru_cache(maxsize=1)
def settings() -> Settings:
    # Unset (the local twin): localhost on any port. Set, even empty (the stack): exactly the listed origins.
    raw = os.environ.get("ALLOWED_ORIGINS")
    origins = DEFAULT_LOCAL_ORIGINS if raw is None else tuple(o.strip() for o in raw.split(",") if o.strip())
    return Settings(
        events_table=_required("EVENTS_TABLE"),
        stats_table=_required("STATS_TABLE"),
        allowed_origins=origins,
        event_ttl_days=_int("EVENT_TTL_DAYS", 30, 1, 365),
        edge_secret=os.environ.get("EDGE_ORIGIN_SECRET", ""),
    )
