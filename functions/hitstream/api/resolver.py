"""What every HTTP handler shares: the resolver, CORS by allow-list, and errors as {"error": ...}."""

from __future__ import annotations

import re
from http import HTTPStatus

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, CORSConfig, Response, content_types
from aws_lambda_powertools.event_handler.exceptions import NotFoundError
from aws_lambda_powertools.event_handler.openapi.exceptions import RequestValidationError

from hitstream.config import settings
from hitstream.observability import logger


class BadRequest(Exception):
    """Client input we refuse; mapped to an HTTP 4xx in exactly one place."""

    def __init__(self, message: str, status: int = HTTPStatus.BAD_REQUEST) -> None:
        super().__init__(message)
        self.status = status


# A "*" in an allow-list entry stands for one port or one DNS label, never for dots, colons or slashes:
# "http://localhost:*" must not match "http://localhost:1.evil.example".
_WILDCARD = "[A-Za-z0-9-]+"


def _origin_pattern(entry: str) -> re.Pattern[str]:
    return re.compile("".join(_WILDCARD if part == "*" else re.escape(part) for part in re.split(r"(\*)", entry)))


class AllowList(CORSConfig):
    """CORS for listed origins only; "*" in an entry matches one port or DNS label. Never credentials."""

    METHODS = "GET,POST,OPTIONS"  # the API's methods, as the stack's API Gateway preflight answers them

    def __init__(self, patterns: tuple[str, ...]) -> None:
        super().__init__(allow_origin=patterns[0] if patterns else "null", max_age=600, allow_credentials=False)
        self.patterns = tuple(p for p in patterns if p.strip("*"))  # a bare "*" (any origin) is never honoured
        self._compiled = tuple(_origin_pattern(p) for p in self.patterns)

    def grants(self, origin: str | None) -> bool:
        return bool(origin) and any(p.fullmatch(origin or "") for p in self._compiled)

    def allowed_origin(self, extracted_origin: str) -> str | None:
        # Powertools adds CORS headers (to_dict) only for what this returns, so it returns every Origin: the
        # answer to any request with an Origin depends on it, and must say `Vary: Origin` even when it grants
        # nothing, or a shared cache could hand one origin's answer to another. to_dict decides the grant.
        return extracted_origin or None

    def to_dict(self, origin: str | None) -> dict[str, str]:
        if not origin:
            return {}
        if not self.grants(origin):
            return {"Vary": "Origin"}  # the answer depends on Origin, so caches must key on it
        return {
            "Access-Control-Allow-Origin": origin,
            "Access-Control-Allow-Methods": self.METHODS,
            "Access-Control-Allow-Headers": "Content-Type",
            "Access-Control-Max-Age": "600",
            "Vary": "Origin",
        }


def error(status: int, message: str) -> Response:
    return Response(status_code=status, content_type=content_types.APPLICATION_JSON, body={"error": message})


def resolver(validation: bool = True, private_reads: bool = True) -> APIGatewayHttpResolver:
    """private_reads: every route is private unless auth.py lists it as public (off only for the ingest app)."""
    origins = settings().allowed_origins
    # debug=False, explicitly: Powertools' debug mode (POWERTOOLS_DEV=true) prints every raw event, whose
    # sourceIp and User-Agent must never reach a log.
    app = APIGatewayHttpResolver(cors=AllowList(origins), enable_validation=validation, debug=False)
    if private_reads:
        from hitstream.api.auth import require_owner

        app.use(middlewares=[require_owner])

    @app.exception_handler(BadRequest)
    def bad_request(exc: BadRequest) -> Response:
        return error(exc.status, str(exc))

    @app.exception_handler(RequestValidationError)
    def invalid(exc: RequestValidationError) -> Response:
        problems = []
        for err in exc.errors():
            where = ".".join(str(part) for part in err.get("loc", ()) if part not in ("query", "path", "body"))
            problems.append(f"{where}: {err.get('msg', 'invalid')}" if where else str(err.get("msg", "invalid")))
        return error(HTTPStatus.BAD_REQUEST, "; ".join(problems) or "invalid request")

    @app.exception_handler(NotFoundError)
    def not_found(_exc: NotFoundError) -> Response:
        return error(HTTPStatus.NOT_FOUND, "no such route")

    @app.exception_handler(Exception)
    def unexpected(exc: Exception) -> Response:
        logger.exception("unhandled error")
        return error(HTTPStatus.INTERNAL_SERVER_ERROR, "internal error")

    return app
