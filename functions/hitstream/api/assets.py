"""How static assets leave the query function: beacon.js minified and, when the client accepts it, gzip-compressed.

Powertools compresses a Response with compress=True when the request's Accept-Encoding names gzip (the Lambda
result is then base64-encoded with Content-Encoding: gzip, which API Gateway HTTP APIs and Function URLs pass on
as binary). Vary tells caches that the body depends on Accept-Encoding.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any

from aws_lambda_powertools.event_handler import Response

STATIC = Path(__file__).parent.parent / "static"
BEACON = "beacon.min.js"  # generated from beacon.js by `make beacon`; a unit test keeps it up to date


@cache
def read(name: str) -> str:
    return (STATIC / name).read_text()


def static(name: str, content_type: str, max_age: int = 300, extra: dict[str, str] | None = None) -> Response[str]:
    headers = {"Cache-Control": f"public, max-age={max_age}", "X-Content-Type-Options": "nosniff", **(extra or {})}
    return Response(status_code=200, content_type=content_type, body=read(name), headers=headers)


def beacon() -> Response[str]:
    """The tracking script as served (by the query function, and by the ingest's Function URL when it has one)."""
    return compressible(static(BEACON, "text/javascript; charset=utf-8"))


def compressible(response: Response[Any]) -> Response[Any]:
    response.compress = True
    response.headers["Vary"] = "Accept-Encoding"
    return response
