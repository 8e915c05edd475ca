"""Ingest: one upsert of the visitor's day item per accepted hit or like, and nothing else.

Every part of that item is bounded whatever a client sends (docs/decisions.md §1): slugs are kept as 5-byte
hashes in capped sets, the site as an 8-digit code, the visit's dimensions as one string of cleaned, capped
values. The item stays under 1 KB, so a write costs one write unit, and the one path with a second request
(a visitor past the cap of distinct articles: a failed conditional write, then the plain hit) costs two.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from botocore.exceptions import ClientError

from . import bots, clients, days, visitors
from .config import Settings
from .schema import site_code, slug_hash

# Distinct articles a visitor's day counts as unique views; past it, views still count as hits. Likes likewise.
MAX_ARTICLES_PER_VISITOR_DAY = 50
MAX_LIKES_PER_VISITOR_DAY = 20
DIMENSION_SEPARATOR = "\x1f"  # cleaned dimension values never hold control characters


class Kind(StrEnum):
    HIT = "hit"
    LIKE = "like"


@dataclass(frozen=True)
class Beacon:
    kind: Kind
    slug: str
    ip: str
    user_agent: str
    site: str = "localhost"
    dimensions: tuple[str, ...] = ()  # the visit's dimension values, in schema.DIMENSIONS order (hits only)


def encode_dimensions(values: tuple[str, ...]) -> str:
    return DIMENSION_SEPARATOR.join(values)


def decode_dimensions(raw: str) -> tuple[str, ...]:
    return tuple(raw.split(DIMENSION_SEPARATOR)) if raw else ()


def record(beacon: Beacon, cfg: Settings, now: float | None = None) -> bool:
    """Store the event; returns False when it was a bot and nothing was written."""
    if bots.is_bot(beacon.user_agent):
        return False
    now = time.time() if now is None else now
    day = days.today(now)
    salt = visitors.salt_for(day, cfg.salts_table or cfg.stats_table, cfg.salt_ttl_hours)
    visitor = visitors.visitor_id(salt, beacon.site, beacon.ip, beacon.user_agent)
    h = slug_hash(beacon.slug)
    values: dict[str, Any] = {
        ":slug": {"S": beacon.slug},
        ":k": {"S": beacon.kind.value},
        ":w": {"S": site_code(beacon.site)},
        ":ttl": {"N": str(days.day_start(day) + 86400 + cfg.event_ttl_days * 86400)},
        ":set": {"BS": [h]},
        ":h": {"B": h},
    }
    set_clause = "SET s = :slug, k = :k, w = :w, #ttl = :ttl"
    names = {"#ttl": "ttl"}
    db: Any = clients.dynamodb()
    key = {"pk": {"S": f"{day}#{visitor}"}}
    if beacon.kind is Kind.LIKE:
        try:
            db.update_item(
                TableName=cfg.events_table,
                Key=key,
                UpdateExpression=f"{set_clause} ADD lk :set",
                ConditionExpression="attribute_not_exists(lk) OR size(lk) < :cap OR contains(lk, :h)",
                ExpressionAttributeNames=names,
                ExpressionAttributeValues={**values, ":cap": {"N": str(MAX_LIKES_PER_VISITOR_DAY)}},
            )
        except ClientError as exc:  # past the cap: accepted, not counted, nothing more written
            if exc.response["Error"]["Code"] != "ConditionalCheckFailedException":
                raise
        return True
    one = {":one": {"N": "1"}}
    entry = ""
    if beacon.dimensions:
        set_clause += ", e = if_not_exists(e, :e)"
        entry = encode_dimensions(beacon.dimensions)
        values[":e"] = {"S": entry}
    try:
        db.update_item(
            TableName=cfg.events_table,
            Key=key,
            UpdateExpression=f"{set_clause} ADD h :one, pv :set",
            ConditionExpression="attribute_not_exists(pv) OR size(pv) < :cap OR contains(pv, :h)",
            ExpressionAttributeNames=names,
            ExpressionAttributeValues={**values, **one, ":cap": {"N": str(MAX_ARTICLES_PER_VISITOR_DAY)}},
        )
    except ClientError as exc:
        if exc.response["Error"]["Code"] != "ConditionalCheckFailedException":
            raise
        # Past the cap: still a hit (of a visitor whose day already has an entry, so `e` is set), not a unique.
        plain = {k: v for k, v in values.items() if k not in (":set", ":h", ":e")}
        db.update_item(
            TableName=cfg.events_table,
            Key=key,
            UpdateExpression="SET s = :slug, k = :k, w = :w, #ttl = :ttl ADD h :one",
            ExpressionAttributeNames=names,
            ExpressionAttributeValues={**plain, **one},
        )
    return True
