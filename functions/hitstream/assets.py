"""How static assets leave the query function: beacon.js minified and, when the client accepts it, gzip-compressed.

Powertools compresses a Response with compress=True when the request's Accept-Encoding names gzip (the Lambda
result is then base64-encoded with Content-Encoding: gzip, which API Gateway HTTP APIs and Function URLs pass on
as binary). Vary tells caches that the body depends on Accept-Encoding.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.event_handler import Response

BEACON = "beacon.min.js"  # generated from beacon.js by `make beacon`; a unit test keeps it up to date


def compressible(response: Response[Any]) -> Response[Any]:
    response.compress = True
    response.headers["Vary"] = "Accept-Encoding"
    return response
