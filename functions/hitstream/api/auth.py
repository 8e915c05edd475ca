"""Who may read what: the public reads, the owner's bearer token, and read-only share links.

The query function's resolver runs `require_owner` as a middleware on every route, so a route is private
unless it is listed here as public: a read added later is private until someone decides otherwise.
Only a SHA-256 of the owner token is stored (stats table, pk AUTH / sk OWNER); see docs/decisions.md,
"Private by default".
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import re
import secrets
import time
from collections.abc import Callable
from http import HTTPStatus
from typing import Any

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response, content_types
from aws_lambda_powertools.event_handler.middlewares import NextMiddleware

from hitstream.config import settings
from hitstream.storage import clients
from hitstream.storage.schema import PK, SK

AUTH_PK, OWNER_SK = "AUTH", "OWNER"
HASH_ATTR = "sha256"  # hex SHA-256 of the owner token
CACHE_SECONDS = 60.0  # a rotated token stops working within this long (plus DynamoDB's read lag, about 1 s)
TOKEN_BYTES = 32

# GET routes (as the resolver declares them) that anyone may read. /statistics and /statistics/<slug> are
# public only without the parameters below: the bare all-time totals are what on-page counters show.
PUBLIC_PAGES = frozenset({"/", "/beacon.js", "/openapi.json", "/static/<name>"})
PUBLIC_TOTALS = frozenset({"/statistics", "/statistics/<slug>"})
PRIVATE_PARAMETERS = frozenset({"from", "to", "top", "breakdown"})
# Parameters that never turn a read into more than the all-time totals. Every query parameter of a public
# route must be in one of the two sets (tests/unit/test_auth.py checks the OpenAPI document).
PUBLIC_PARAMETERS = frozenset({"site", "limit"})
PUBLIC_POSTS = frozenset({"/statistics/<slug>/hits", "/statistics/<slug>/likes"})

# RFC 6750 §2.1: b64token = 1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"="
_BEARER = re.compile(r"Bearer +([A-Za-z0-9\-._~+/]+=*) *", re.IGNORECASE)
SHARE_PREFIX = "share."
MAX_SHARE_DAYS = 366


class OwnerHash:
    """The stored owner-token hash, re-read at most once per `ttl_s` per container (one GetItem a minute)."""

    def __init__(self, ttl_s: float = CACHE_SECONDS, clock: Callable[[], float] = time.monotonic) -> None:
        self.ttl_s = ttl_s
        self.clock = clock
        self._entry: tuple[str, float, bytes | None] | None = None  # (table, read at, digest)

    def get(self, table: str) -> bytes | None:
        now = self.clock()
        if self._entry is not None and self._entry[0] == table and now - self._entry[1] < self.ttl_s:
            return self._entry[2]
        digest = read_owner_hash(table)
        self._entry = (table, now, digest)
        return digest

    def forget(self) -> None:
        self._entry = None


CACHE = OwnerHash()


def new_token() -> str:
    """32 random bytes, base64url without padding (43 characters): fits a header and a URL fragment."""
    return secrets.token_urlsafe(TOKEN_BYTES)


def token_hash(token: str) -> bytes:
    return hashlib.sha256(token.encode()).digest()


def is_token(value: str) -> bool:
    """Whether a string can be sent as a bearer token (RFC 6750 b64token)."""
    return _BEARER.fullmatch(f"Bearer {value}") is not None


def read_owner_hash(table: str, db: Any = None) -> bytes | None:
    """The stored SHA-256 of the owner token; None before the first `make token`."""
    item = (db or clients.dynamodb()).get_item(
        TableName=table, Key={PK: {"S": AUTH_PK}, SK: {"S": OWNER_SK}}, ProjectionExpression=HASH_ATTR
    )
    raw = item.get("Item", {}).get(HASH_ATTR, {}).get("S")
    return bytes.fromhex(raw) if raw else None


def store_owner_token(table: str, token: str, db: Any = None) -> None:
    """Create or replace the owner token (only its hash is written); `db` is a boto3 DynamoDB client."""
    (db or clients.dynamodb()).put_item(
        TableName=table,
        Item={
            PK: {"S": AUTH_PK},
            SK: {"S": OWNER_SK},
            HASH_ATTR: {"S": token_hash(token).hex()},
            "rotated": {"S": dt.datetime.now(dt.UTC).isoformat(timespec="seconds")},
        },
    )
    CACHE.forget()


def share_token(owner_digest: bytes, expires: int) -> str:
    """A read-only link token valid until `expires` (Unix seconds). The key is derived from the owner's hash,
    so rotating the owner token revokes every share link; the dashboard can mint one from the owner token."""
    return f"{SHARE_PREFIX}{expires}.{_share_signature(owner_digest, expires)}"


def _share_signature(owner_digest: bytes, expires: int) -> str:
    key = hmac.new(owner_digest, b"hitstream share key", hashlib.sha256).digest()
    mac = hmac.new(key, f"share:{expires}".encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(mac).rstrip(b"=").decode()


def _share_valid(token: str, owner_digest: bytes, now: float) -> bool:
    parts = token[len(SHARE_PREFIX) :].split(".")
    if len(parts) != 2 or not parts[0].isdigit() or len(parts[0]) > 12:
        return False
    expires = int(parts[0])
    signature_ok = hmac.compare_digest(_share_signature(owner_digest, expires), parts[1])
    return signature_ok and now < expires <= now + MAX_SHARE_DAYS * 86400


def valid(token: str, owner_digest: bytes | None, now: float | None = None) -> bool:
    """The owner token, or an unexpired share link signed with its hash. Constant time in the token's content."""
    if owner_digest is None:
        return False
    if token.startswith(SHARE_PREFIX):
        return _share_valid(token, owner_digest, time.time() if now is None else now)
    return hmac.compare_digest(token_hash(token), owner_digest)


def is_public(method: str, route_path: str, parameters: dict[str, str] | None) -> bool:
    """Whether a request may be served without credentials, whatever the dashboard mode."""
    if method == "OPTIONS":
        return True  # CORS preflights carry no credentials and return no data
    if method == "POST":
        return route_path in PUBLIC_POSTS
    if method not in ("GET", "HEAD"):  # HEAD is a GET without its body: the same rules
        return False
    if route_path in PUBLIC_PAGES:
        return True
    return route_path in PUBLIC_TOTALS and not PRIVATE_PARAMETERS.intersection(parameters or {})


def bearer(headers: dict[str, str]) -> str | None:
    """The bearer token of an Authorization header; "" if the header is there but malformed; None if absent."""
    value = next((v for k, v in headers.items() if k.lower() == "authorization"), None)
    if value is None:
        return None
    match = _BEARER.fullmatch(value)
    if match is None:
        return "" if value.lower().startswith("bearer") else None
    return match.group(1)


def unauthorized(message: str, invalid_token: bool) -> Response:
    challenge = 'Bearer error="invalid_token"' if invalid_token else "Bearer"
    return Response(
        status_code=HTTPStatus.UNAUTHORIZED,
        content_type=content_types.APPLICATION_JSON,
        body={"error": message},
        headers={"WWW-Authenticate": challenge, "Cache-Control": "no-store"},
    )


def require_owner(app: APIGatewayHttpResolver, next_middleware: NextMiddleware) -> Any:
    """Powertools middleware: private reads need the owner token (or a share link) when the dashboard is private."""
    route = app.context.get("_route")
    event = app.current_event
    method = event.request_context.http.method.upper()
    if settings().dashboard == "public" or is_public(
        method, route.path if route else "", event.query_string_parameters
    ):
        return next_middleware(app)
    token = bearer(event.headers or {})
    if token is None:
        return unauthorized("this read is private: send Authorization: Bearer <owner token>", invalid_token=False)
    owner = CACHE.get(settings().stats_table)
    if owner is None:
        return unauthorized("no owner token is set yet: run `make token`", invalid_token=bool(token))
    if not token or not valid(token, owner):
        return unauthorized("the token is not valid (rotated, expired or mistyped)", invalid_token=True)
    response = next_middleware(app)
    response.headers.setdefault("Cache-Control", "private, no-store")  # private data: no shared or disk caches
    return response
