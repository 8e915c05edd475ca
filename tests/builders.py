"""Event builders, so a test reads as a sentence: api_event(...), stream_record(...)."""

from __future__ import annotations

import base64
import itertools
from typing import Any

from hitstream.storage.schema import site_code, slug_hash

from twin.server import api_event as _api_event

DESKTOP_UA = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36"
_seq = itertools.count(100_000_000_000_000_000_000)


def api_event(
    method: str,
    path: str,
    *,
    body: bytes | str = b"",
    ip: str = "203.0.113.7",
    user_agent: str | None = DESKTOP_UA,
    content_type: str | None = "text/plain",
    headers: dict[str, str] | None = None,
) -> dict[str, Any]:
    """An API Gateway HTTP API (v2) event, built the way the twin builds one from a real request."""
    h = {"host": "127.0.0.1:8000"}
    if user_agent is not None:
        h["user-agent"] = user_agent
    if content_type is not None and method == "POST":
        h["content-type"] = content_type
    h.update(headers or {})
    raw = body.encode() if isinstance(body, str) else body
    return _api_event(method, path, h, raw, ip)


def hit(slug: str, **kw: Any) -> dict[str, Any]:
    return api_event("POST", f"/statistics/{slug}/hits", body=kw.pop("body", "{}"), **kw)


def like(slug: str, **kw: Any) -> dict[str, Any]:
    return api_event("POST", f"/statistics/{slug}/likes", body=kw.pop("body", "{}"), **kw)


def get(path: str, **kw: Any) -> dict[str, Any]:
    return api_event("GET", path, content_type=None, **kw)


def image(
    slug: str,
    day: str,
    *,
    kind: str = "hit",
    hits: int = 0,
    views: set[str] | None = None,
    liked: set[str] | None = None,
    site: str = "localhost",
    entry: tuple[str, ...] = (),
) -> dict[str, Any]:
    """A visitor-day item as it appears in a Lambda stream event's image (DynamoDB JSON, binaries in base64)."""
    item: dict[str, Any] = {
        "pk": {"S": f"{day}#v"},
        "s": {"S": slug},
        "k": {"S": kind},
        "w": {"S": site_code(site)},
    }
    if hits:
        item["h"] = {"N": str(hits)}
    if views:
        item["pv"] = {"BS": sorted(base64.b64encode(slug_hash(v)).decode() for v in views)}
    if liked:
        item["lk"] = {"BS": sorted(base64.b64encode(slug_hash(v)).decode() for v in liked)}
    if entry:
        item["e"] = {"S": "\x1f".join(entry)}
    return item


def stream_record(
    new: dict[str, Any],
    old: dict[str, Any] | None = None,
    *,
    seq: int | None = None,
    created: int = 1_763_900_000,
    event_name: str | None = None,
) -> dict[str, Any]:
    """A DynamoDB stream record as Lambda delivers it."""
    body: dict[str, Any] = {
        "ApproximateCreationDateTime": created,
        "Keys": {"pk": new["pk"]},
        "NewImage": new,
        "SequenceNumber": str(seq if seq is not None else next(_seq)),
        "SizeBytes": 100,
        "StreamViewType": "NEW_AND_OLD_IMAGES",
    }
    if old is not None:
        body["OldImage"] = old
    return {
        "eventID": body["SequenceNumber"][-12:],
        "eventName": event_name or ("MODIFY" if old else "INSERT"),
        "eventVersion": "1.1",
        "eventSource": "aws:dynamodb",
        "awsRegion": "us-east-1",
        "dynamodb": body,
        "eventSourceARN": "arn:aws:dynamodb:us-east-1:123456789012:table/hitstream-events/stream/2026-01-01T00:00:00.000",
    }


def stream_event(
    records: list[dict[str, Any]],
    shard: str = "shardId-00000000000000000001-aaaa",
    *,
    state: dict[str, Any] | None = None,
    final: bool = True,
) -> dict[str, Any]:
    """A tumbling-window invocation; by default the window's final one, which writes what it folds."""
    return {
        "Records": records,
        "shardId": shard,
        "eventSourceARN": records[0]["eventSourceARN"] if records else "",
        "window": {"start": "2026-01-01T00:00:00Z", "end": "2026-01-01T00:01:00Z"},
        "state": state or {},
        "isFinalInvokeForWindow": final,
        "isWindowTerminatedEarly": False,
    }
