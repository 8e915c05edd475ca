"""Deployment settings from CDK context, validated once before any resource is made (README "Configuration")."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from constructs import Node
from hitstream.config import DASHBOARD_MODES, ConfigError, parse_articles, parse_sites
from hitstream.storage import schema

from stacks import constants as c

INGEST_ENDPOINTS = ("httpApi", "functionUrl")


class ContextError(ValueError):
    """A CDK context value is missing or malformed: synth stops with this message."""


@dataclass(frozen=True)
class DeploySettings:
    sites: tuple[str, ...]
    dashboard: str
    allowed_origins: tuple[str, ...]  # https://<site>, https://www.<site>, then allowedOrigins
    freshness_s: int
    ingest_endpoint: str
    throttle_rate: int
    throttle_burst: int
    waf_rate_limit: int | None
    alarm_email: str | None
    articles: str = ""
    ingest_concurrency: int | None = None  # opt-in reserved concurrency for ingest (README Deploy: the quota)


def _listed(value: Any) -> list[str]:
    if value is None:
        return []
    items = value if isinstance(value, list) else str(value).split(",")
    return [str(o).strip() for o in items if str(o).strip()]


def _int(node: Node, name: str, default: int, low: int, high: int) -> int:
    raw = node.try_get_context(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except (TypeError, ValueError):
        raise ContextError(f"-c {name} must be an integer, got {raw!r}") from None
    if not low <= value <= high:
        raise ContextError(f"-c {name} must be between {low} and {high}, got {value}")
    return value


def from_context(node: Node) -> DeploySettings:
    raw_sites = node.try_get_context("sites")
    if not _listed(raw_sites):
        raise ContextError(
            "CDK context 'sites' is required: the hostnames this deployment counts, the first one the default, "
            "e.g. `make synth SITES=blog.example.com,docs.example.com` or `cdk synth -c sites=blog.example.com`"
        )
    try:
        sites = parse_sites(",".join(_listed(raw_sites)))
    except ConfigError as exc:
        raise ContextError(f"-c sites: {exc}") from None
    dashboard = str(node.try_get_context("dashboard") or "private").strip().lower()
    if dashboard not in DASHBOARD_MODES:
        raise ContextError(f"-c dashboard must be one of {', '.join(DASHBOARD_MODES)}, got {dashboard!r}")
    extra = _listed(node.try_get_context("allowedOrigins"))
    if "*" in extra:
        raise ContextError("allowedOrigins must list origins; '*' is not allowed")
    origins: list[str] = []
    for origin in [o for site in sites for o in (f"https://{site}", f"https://www.{site}")] + extra:
        if origin not in origins:
            origins.append(origin)
    endpoint = str(node.try_get_context("ingestEndpoint") or "httpApi")
    if endpoint not in INGEST_ENDPOINTS:
        raise ContextError(f"-c ingestEndpoint must be one of {', '.join(INGEST_ENDPOINTS)}, got {endpoint!r}")
    if endpoint == "functionUrl" and len(origins) > c.FUNCTION_URL_MAX_ORIGINS:
        raise ContextError(
            f"-c sites: {len(sites)} sites (with allowedOrigins) make {len(origins)} CORS origins (https://<site> and "
            f"https://www.<site> each), over the {c.FUNCTION_URL_MAX_ORIGINS} a Lambda Function URL accepts: list "
            f"fewer sites, or drop -c ingestEndpoint=functionUrl (the HTTP API takes the beacons then)"
        )
    waf = node.try_get_context("wafRateLimit")
    concurrency = node.try_get_context("ingestConcurrency")
    return DeploySettings(
        sites=sites,
        dashboard=dashboard,
        allowed_origins=tuple(origins),
        freshness_s=_int(
            node, "freshnessSeconds", schema.DEFAULT_FRESHNESS_S, schema.MIN_FRESHNESS_S, schema.MAX_FRESHNESS_S
        ),
        ingest_endpoint=endpoint,
        throttle_rate=_int(node, "throttleRate", c.DEFAULT_THROTTLE_RATE, 1, 10_000),
        throttle_burst=_int(node, "throttleBurst", c.DEFAULT_THROTTLE_BURST, 1, 5_000),
        waf_rate_limit=_int(node, "wafRateLimit", 0, 10, 2_000_000_000) if waf not in (None, "") else None,
        alarm_email=node.try_get_context("alarmEmail") or None,
        articles=_articles(node.try_get_context("articles")),
        ingest_concurrency=_int(node, "ingestConcurrency", 0, 1, c.MAX_INGEST_CONCURRENCY)
        if concurrency not in (None, "")
        else None,
    )


def _articles(value: Any) -> str:
    try:
        return parse_articles(str(value or ""))
    except ConfigError as exc:
        raise ContextError(f"-c articles: {exc}") from None
