"""Runtime configuration, read from the environment once and validated at start-up."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from functools import lru_cache


class ConfigError(RuntimeError):
    """A required setting is missing or malformed: fail at init, not at the first request."""


DEFAULT_LOCAL_ORIGINS = ("http://localhost:*", "http://127.0.0.1:*")


DEFAULT_LOCAL_SITES = ("localhost", "127.0.0.1")
DASHBOARD_MODES = ("private", "public")


@dataclass(frozen=True)
class Settings:
    events_table: str
    stats_table: str
    allowed_origins: tuple[str, ...]
    sites: tuple[str, ...] = DEFAULT_LOCAL_SITES  # the first one is the default site
    dashboard: str = "private"  # "private": every read but the public totals needs the owner's token
    salts_table: str = ""  # the day salts: a table with no backups of any kind (empty: the stats table, tests only)
    event_ttl_days: int = 30
    salt_ttl_hours: int = 48
    freshness_s: int = 60
    articles: str = ""  # optional regex every counted slug must fully match (keeps junk slugs out of top lists)
    edge_secret: str = ""  # set when CloudFront + WAF front the API (stacks/edge.py)

    @property
    def default_site(self) -> str:
        return self.sites[0]


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


def _choice(name: str, default: str, choices: tuple[str, ...]) -> str:
    value = os.environ.get(name, "").strip().lower() or default
    if value not in choices:
        raise ConfigError(f"{name} must be one of {', '.join(choices)}, got {value!r}")
    return value


def _required(name: str) -> str:
    value = os.environ.get(name, "").strip()
    if not value:
        raise ConfigError(f"environment variable {name} is required")
    return value


def parse_sites(raw: str) -> tuple[str, ...]:
    """Comma-separated hostnames, lowercased, a leading "www." dropped, duplicates removed, order kept."""
    from hitstream.sites import normalize  # sites.py owns the hostname rules

    out: list[str] = []
    for part in raw.split(","):
        if not part.strip():
            continue
        site = normalize(part)
        if site is None:
            raise ConfigError(f"SITES: {part.strip()!r} is not a DNS hostname (no scheme, port or path)")
        if site not in out:
            out.append(site)
    if not out:
        raise ConfigError("SITES must name at least one site")
    return tuple(out)


def parse_articles(raw: str) -> str:
    """The owner's pattern of real article slugs (a regular expression, matched against the whole slug)."""
    pattern = raw.strip()
    if pattern:
        try:
            re.compile(pattern)
        except re.error as exc:
            raise ConfigError(f"ARTICLES is not a regular expression: {exc}") from exc
    return pattern


@lru_cache(maxsize=1)
def settings() -> Settings:
    # Unset (the local twin): localhost on any port. Set, even empty (the stack): exactly the listed origins.
    raw = os.environ.get("ALLOWED_ORIGINS")
    origins = DEFAULT_LOCAL_ORIGINS if raw is None else tuple(o.strip() for o in raw.split(",") if o.strip())
    return Settings(
        events_table=_required("EVENTS_TABLE"),
        stats_table=_required("STATS_TABLE"),
        allowed_origins=origins,
        sites=parse_sites(os.environ.get("SITES", "")) if os.environ.get("SITES", "").strip() else DEFAULT_LOCAL_SITES,
        dashboard=_choice("DASHBOARD", "private", DASHBOARD_MODES),
        salts_table=os.environ.get("SALTS_TABLE", "").strip(),
        event_ttl_days=_int("EVENT_TTL_DAYS", 30, 1, 365),
        freshness_s=_int("FRESHNESS_SECONDS", 60, 1, 900),
        articles=parse_articles(os.environ.get("ARTICLES", "")),
        edge_secret=os.environ.get("EDGE_ORIGIN_SECRET", ""),
    )
