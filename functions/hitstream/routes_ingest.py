"""POST /statistics/{slug}/hits and /likes: validate, then one write (or none, for bots)."""

from __future__ import annotations

import base64
import hmac
import json
from http import HTTPStatus
from typing import Any

from aws_lambda_powertools.event_handler import Response, content_types
from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.data_classes.api_gateway_proxy_event import APIGatewayProxyEventV2

from . import ingest, slugs
from .api import BadRequest
from .config import settings
from .observability import metrics

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
    if "referrer" in parsed and not isinstance(parsed["referrer"], str):  # null included: the field is a string
        raise BadRequest("referrer must be a string")
    return parsed


def client_ip(event: APIGatewayProxyEventV2, edge_secret: str) -> str:
    """The TCP peer, or, behind our own CloudFront edge (proven by its secret header), the viewer's address."""
    headers = event.headers
    if edge_secret and hmac.compare_digest(headers.get("x-hitstream-origin", ""), edge_secret):
        viewer = headers.get("cloudfront-viewer-address", "")
        if viewer:
            return viewer.rsplit(":", 1)[0]  # "ip:port", IPv6 addresses unbracketed
    return event.request_context.http.source_ip


def _accept(kind: ingest.Kind, slug: str) -> Response[dict[str, bool]]:
    if not slugs.is_valid(slug):
        raise BadRequest(f"slug must match {slugs.SLUG_PATTERN}")
    event: APIGatewayProxyEventV2 = router.current_event  # type: ignore[assignment]
    raw = event.get("body")
    body: bytes | None = None
    if raw is not None and event.get("isBase64Encoded"):
        try:
            body = base64.b64decode(raw, validate=True)
        except ValueError as exc:
            raise BadRequest("body is not valid base64") from exc
    elif raw is not None:
        body = raw.encode("utf-8", "surrogatepass")
    read_beacon_body(body, event.headers.get("content-type", ""))
    counted = ingest.record(
        ingest.Beacon(
            kind=kind,
            slug=slug,
            ip=client_ip(event, settings().edge_secret),
            user_agent=event.headers.get("user-agent", ""),
        ),
        settings(),
    )
    metrics.add_metric(
        name=f"{kind.value.title()}sAccepted" if counted else "BotsDropped", unit=MetricUnit.Count, value=1
    )
    return Response(
        status_code=HTTPStatus.ACCEPTED, content_type=content_types.APPLICATION_JSON, body={"accepted": True}
    )


_RESPONSES: dict[int, Any] = {
    202: {"description": "Accepted (bots are accepted and not counted)"},
    400: {"description": "Invalid slug, or a body that is not a JSON object of at most 4 KiB"},
    415: {"description": "Content type other than application/json or text/plain"},
}


@router.post("/statistics/<slug>/hits", summary="Record a page view", responses=_RESPONSES, tags=["ingest"])
def post_hit(slug: str) -> Response[dict[str, bool]]:
    return _accept(ingest.Kind.HIT, slug)


@router.post("/statistics/<slug>/likes", summary="Record a like", responses=_RESPONSES, tags=["ingest"])
def post_like(slug: str) -> Response[dict[str, bool]]:
    return _accept(ingest.Kind.LIKE, slug)
