"""POST /statistics/{slug}/hits and /likes: validate, then one write (or none, for bots)."""

from __future__ import annotations

import base64
import hmac
import json
import re
from http import HTTPStatus
from typing import Any

from aws_lambda_powertools.event_handler import Response, content_types
from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.utilities.data_classes.api_gateway_proxy_event import APIGatewayProxyEventV2

from hitstream import sites, slugs
from hitstream.api import assets
from hitstream.api.resolver import BadRequest
from hitstream.audience import bots
from hitstream.config import Settings, settings
from hitstream.observability import logger
from hitstream.pipeline import ingest
from hitstream.pipeline.query import Reader

MAX_BODY_BYTES = 4096
ACCEPTED_TYPES = ("application/json", "text/plain")

router = Router()

# The ingest Lambda is the hot path: it checks its one path parameter with the slug regex itself rather than
# through Powertools' pydantic validation, whose import alone costs ~115 ms of every cold start (docs/decisions.md).
# openapi.py declares the same pattern in the document.


def _not_json(constant: str) -> Any:
    raise ValueError(f"{constant} is not JSON")


def read_beacon_body(body: bytes | None, content_type: str) -> dict[str, Any]:
    """The optional body: a JSON object of at most 4 KiB, sent as application/json or text/plain."""
    if body and len(body) > MAX_BODY_BYTES:
        raise BadRequest(f"body is larger than {MAX_BODY_BYTES} bytes")
    media = content_type.split(";")[0].strip().lower()
    if content_type.strip() and media not in ACCEPTED_TYPES:  # a present but malformed type (";x") is refused too
        raise BadRequest("content type must be application/json or text/plain", HTTPStatus.UNSUPPORTED_MEDIA_TYPE)
    if not body or not body.strip():
        return {}
    try:
        parsed = json.loads(body.decode("utf-8"), parse_constant=_not_json)
    except (ValueError, RecursionError) as exc:  # bad UTF-8, bad JSON, NaN/Infinity, absurd nesting or numbers
        raise BadRequest("body must be a JSON object") from exc
    if not isinstance(parsed, dict):
        raise BadRequest("body must be a JSON object")
    for name in STRING_FIELDS:  # null included: each field is a string when present
        if name in parsed and not isinstance(parsed[name], str):
            raise BadRequest(f"{name} must be a string")
    if "counts" in parsed and not isinstance(parsed["counts"], bool):
        raise BadRequest("counts must be true or false")
    return parsed


STRING_FIELDS = ("referrer", "utm_source", "utm_medium", "utm_campaign")


def from_edge(event: APIGatewayProxyEventV2, edge_secret: str) -> bool:
    """Whether our own CloudFront edge sent this request, proven by its secret header (compared as bytes, so
    a header of any characters is simply not the secret)."""
    if not edge_secret:
        return False
    sent = event.headers.get("x-hitstream-origin", "").encode("utf-8", "surrogateescape")
    return hmac.compare_digest(sent, edge_secret.encode())


def client_ip(event: APIGatewayProxyEventV2, edge_secret: str) -> str:
    """The TCP peer, or, behind our own CloudFront edge, the viewer's address."""
    if from_edge(event, edge_secret):
        viewer = event.headers.get("cloudfront-viewer-address", "")
        if viewer:
            return viewer.rsplit(":", 1)[0]  # "ip:port", IPv6 addresses unbracketed
    return event.request_context.http.source_ip


def request_site(event: APIGatewayProxyEventV2, cfg: Settings) -> str:
    """The listed site the `site` parameter names (the default site without one); 400 otherwise."""
    requested = (event.query_string_parameters or {}).get("site")
    site = sites.resolve(requested, cfg.sites)
    if site is None:
        raise BadRequest("unknown site: this deployment counts " + ", ".join(cfg.sites))
    return site


def visit_dimensions(
    event: APIGatewayProxyEventV2, body: dict[str, Any], site: str, ip: str, cfg: Settings
) -> tuple[str, ...]:
    """The visit's dimension values in schema.DIMENSIONS order; only the first hit of a visitor's day keeps them."""
    from hitstream.audience import (
        dimensions,  # loaded on the first counted hit: likes and bots never pay for the UA rules
    )

    dims = dimensions.derive(
        site=site,
        referrer=body.get("referrer"),
        utm_source=body.get("utm_source"),
        utm_campaign=body.get("utm_campaign"),
        user_agent=event.headers.get("user-agent", ""),
        ip=ip,
        viewer_country=event.headers.get("cloudfront-viewer-country") if from_edge(event, cfg.edge_secret) else None,
    )
    return (dims.source, dims.campaign, dims.browser, dims.os, dims.device, dims.country)


def _accept(kind: ingest.Kind, slug: str) -> Response[dict[str, Any]]:
    if not slugs.is_valid(slug):
        raise BadRequest(f"slug must match {slugs.SLUG_PATTERN}")
    event: APIGatewayProxyEventV2 = router.current_event  # type: ignore[assignment]
    cfg = settings()
    site = request_site(event, cfg)
    if cfg.articles and not re.fullmatch(cfg.articles, slug):  # re caches the compiled pattern
        raise BadRequest("not one of this deployment's articles (ARTICLES)")
    raw = event.get("body")
    body: bytes | None = None
    if raw is not None and event.get("isBase64Encoded"):
        try:
            body = base64.b64decode(raw, validate=True)
        except ValueError as exc:
            raise BadRequest("body is not valid base64") from exc
    elif raw is not None:
        body = raw.encode("utf-8", "surrogatepass")
    fields = read_beacon_body(body, event.headers.get("content-type", ""))
    ip = client_ip(event, cfg.edge_secret)
    user_agent = event.headers.get("user-agent", "")
    counted = False
    if not bots.is_bot(user_agent):
        counted = ingest.record(
            ingest.Beacon(
                kind=kind,
                slug=slug,
                ip=ip,
                user_agent=user_agent,
                site=site,
                dimensions=visit_dimensions(event, fields, site, ip, cfg) if kind is ingest.Kind.HIT else (),
            ),
            cfg,
        )
    # No per-hit custom metric: each metric costs $0.30 a month, more than a small blog's whole write bill, and
    # the counters already say how many hits came. Only failures are metrics (stream.py), and they cost only in
    # the hours they happen.
    logger.debug("beacon", extra={"kind": kind.value, "counted": counted})
    answer: dict[str, Any] = {"accepted": True}
    if fields.get("counts") is True:  # the page shows counters: one request per view instead of two
        counts = Reader(cfg.stats_table).article(site, slug)
        answer.update({name: counts[name] for name in ("hits", "visitors", "likes")})
    return Response(status_code=HTTPStatus.ACCEPTED, content_type=content_types.APPLICATION_JSON, body=answer)


_RESPONSES: dict[int, Any] = {
    202: {"description": "Accepted (bots are accepted and not counted)"},
    400: {"description": "Invalid slug, unknown site, or a body that is not a JSON object of at most 4 KiB"},
    415: {"description": "Content type other than application/json or text/plain"},
}


# With `-c ingestEndpoint=functionUrl` pages load the beacon from the ingest's own URL, so that its hits go there
# (no API Gateway request fee). The URL then also serves the script and the public all-time totals that on-page
# counters read; everything else stays on the API.
url_router = Router()  # only the ingest function includes it; the API document describes these on the query side


@url_router.get("/beacon.js", include_in_schema=False)
def beacon_script() -> Response[str]:
    return assets.beacon()


@url_router.get("/statistics/<slug>", include_in_schema=False)
def article_totals(slug: str) -> dict[str, Any]:
    if not slugs.is_valid(slug):
        raise BadRequest(f"slug must match {slugs.SLUG_PATTERN}")
    event: APIGatewayProxyEventV2 = url_router.current_event  # type: ignore[assignment]
    params = event.query_string_parameters or {}
    if set(params) - {"site"}:
        raise BadRequest("this endpoint serves all-time totals only; ask the API for ranges and breakdowns")
    cfg = settings()
    counts = Reader(cfg.stats_table).article(request_site(event, cfg), slug)
    return {name: counts[name] for name in ("slug", "hits", "visitors", "likes")}


@router.post("/statistics/<slug>/hits", summary="Record a page view", responses=_RESPONSES, tags=["ingest"])
def post_hit(slug: str) -> Response[dict[str, Any]]:
    return _accept(ingest.Kind.HIT, slug)


@router.post("/statistics/<slug>/likes", summary="Record a like", responses=_RESPONSES, tags=["ingest"])
def post_like(slug: str) -> Response[dict[str, Any]]:
    return _accept(ingest.Kind.LIKE, slug)
