"""GET routes: statistics, the dashboard, the beacon script and the OpenAPI document."""

from __future__ import annotations

import datetime as dt
import time
from functools import lru_cache
from typing import Annotated, Any

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.params import Path, Query

from hitstream import days, sites
from hitstream.api import assets
from hitstream.api.resolver import BadRequest
from hitstream.config import settings
from hitstream.pipeline.query import Range, Reader
from hitstream.slugs import SLUG_PATTERN
from hitstream.storage.schema import DIMENSIONS

DATE = r"^\d{4}-\d{2}-\d{2}$"

router = Router()

Slug = Annotated[str, Path(pattern=SLUG_PATTERN, description="Article slug", max_length=200)]
From = Annotated[str | None, Query(alias="from", pattern=DATE, description="First UTC day, inclusive")]
To = Annotated[str | None, Query(alias="to", pattern=DATE, description="Last UTC day, inclusive (default: today)")]
Top = Annotated[int | None, Query(ge=1, le=100, description="Also return the top N articles by hits")]
Site = Annotated[
    str | None, Query(max_length=260, description="The site (a listed hostname); without it, the default site")
]
BreakdownParam = Annotated[
    str | None,
    Query(
        max_length=200,
        description="Comma-separated dimensions: " + ", ".join(DIMENSIONS) + " (needs from/to; articles: source)",
    ),
]
Limit = Annotated[int, Query(ge=1, le=100, description="Rows per breakdown dimension")]


def parse_site(requested: str | None) -> str:
    cfg = settings()
    site = sites.resolve(requested, cfg.sites)
    if site is None:
        raise BadRequest("unknown site: this deployment serves " + ", ".join(cfg.sites))
    return site


def parse_breakdown(raw: str | None, rng: Range | None, allowed: tuple[str, ...]) -> tuple[str, ...]:
    if raw is None:
        return ()
    wanted = tuple(dict.fromkeys(d.strip() for d in raw.split(",") if d.strip()))
    unknown = [d for d in wanted if d not in allowed]
    if not wanted or unknown:
        raise BadRequest(f"breakdown takes {', '.join(allowed)}; got {raw!r}")
    if rng is None:
        raise BadRequest("breakdown needs a range: from (and optionally to)")
    return wanted


def parse_range(first: str | None, last: str | None, now: float | None = None) -> Range | None:
    if first is None and last is None:
        return None
    if first is None:
        raise BadRequest("'to' needs 'from'")
    try:
        start = days.parse_day(first)
        end = days.parse_day(last) if last else dt.date.fromisoformat(days.today(time.time() if now is None else now))
    except ValueError as exc:
        raise BadRequest("dates must be real days as YYYY-MM-DD") from exc
    if start > end:
        raise BadRequest("'from' is after 'to'")
    if (end - start).days + 1 > days.MAX_RANGE_DAYS:
        raise BadRequest(f"a range spans at most {days.MAX_RANGE_DAYS} days")
    return Range(start, end)


@lru_cache(maxsize=1)
def _reader() -> Reader:
    return Reader(settings().stats_table)


@router.get(
    "/statistics", summary="Site totals, optionally over a range, with top articles and breakdowns", tags=["query"]
)
def site_statistics(
    from_: From = None,
    to: To = None,
    top: Top = None,
    site: Site = None,
    breakdown: BreakdownParam = None,
    limit: Limit = 10,
) -> dict[str, Any]:
    chosen = parse_site(site)
    rng = parse_range(from_, to)
    return _reader().site(chosen, rng, top, parse_breakdown(breakdown, rng, tuple(DIMENSIONS)), limit)


@router.get(
    "/statistics/<slug>", summary="One article's totals, optionally over a range, with its sources", tags=["query"]
)
def article_statistics(
    slug: Slug,
    from_: From = None,
    to: To = None,
    site: Site = None,
    breakdown: BreakdownParam = None,
    limit: Limit = 10,
) -> dict[str, Any]:
    chosen = parse_site(site)
    rng = parse_range(from_, to)
    return _reader().article(chosen, slug, rng, parse_breakdown(breakdown, rng, ("source",)), limit)


@router.get("/sites", summary="Every site of this deployment with its all-time totals", tags=["query"])
def list_sites() -> dict[str, Any]:
    return {"sites": _reader().sites(settings().sites)}


# The dashboard loads only its own files and talks only to its own origin: no inline code, no CDN.
DASHBOARD_CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
    "base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)


@router.get("/", summary="The dashboard (HTML)", tags=["pages"])
def dashboard() -> Response[str]:
    extra = {"Content-Security-Policy": DASHBOARD_CSP, "Referrer-Policy": "no-referrer"}
    return assets.static("dashboard.html", "text/html; charset=utf-8", 60, extra)


@router.get("/beacon.js", summary="The tracking script (JavaScript)", tags=["pages"])
def beacon() -> Response[str]:
    return assets.beacon()


@router.get("/static/<name>", include_in_schema=False)
def vendored(name: str) -> Response[str]:
    kinds = {
        "uPlot.iife.min.js": "text/javascript; charset=utf-8",
        "uPlot.min.css": "text/css; charset=utf-8",
        "dashboard.js": "text/javascript; charset=utf-8",
        "dashboard.css": "text/css; charset=utf-8",
    }
    if name not in kinds:
        raise BadRequest("no such asset", status=404)
    return assets.static(name, kinds[name], 86400 if name.startswith("uPlot") else 300)
