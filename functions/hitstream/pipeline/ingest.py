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

from hitstream import days
from hitstream.audience import bots, visitors
from hitstream.config import Settings
from hitstream.storage import clients
from hitstream.storage.schema import site_code, slug_hash

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
    db: Any = clients.dynamodb()

    def add_to_capped_set(attribute: str, cap: int, extra_set: str = "", extra_add: str = "") -> bool:
        """One upsert that adds this article's hash to a capped set; False when the set is full without it."""
        try:
            db.update_item(
                TableName=cfg.events_table,
                Key={"pk": {"S": f"{day}#{visitor}"}},
                UpdateExpression=f"{set_clause}{extra_set} ADD {attribute} :set{extra_add}",
                ConditionExpression=f"attribute_not_exists({attribute}) OR size({attribute}) < :cap "
                f"OR contains({attribute}, :h)",
                ExpressionAttributeNames={"#ttl": "ttl"},
                ExpressionAttributeValues={**values, ":cap": {"N": str(cap)}},
            )
        except ClientError as exc:
            if exc.response["Error"]["Code"] != "ConditionalCheckFailedException":
                raise
            return False
        return True

    if beacon.kind is Kind.LIKE:
        add_to_capped_set("lk", MAX_LIKES_PER_VISITOR_DAY)  # past the cap: accepted, not counted, nothing more
        return True
    values[":one"] = {"N": "1"}
    extra_set = ""
    if beacon.dimensions:
        extra_set = ", e = if_not_exists(e, :e)"
        values[":e"] = {"S": encode_dimensions(beacon.dimensions)}
    if not add_to_capped_set("pv", MAX_ARTICLES_PER_VISITOR_DAY, extra_set, ", h :one"):
        # Past the cap: still a hit (of a visitor whose day already has an entry, so `e` is set), not a unique.
        db.update_item(
            TableName=cfg.events_table,
            Key={"pk": {"S": f"{day}#{visitor}"}},
            UpdateExpression=f"{set_clause} ADD h :one",
            ExpressionAttributeNames={"#ttl": "ttl"},
            ExpressionAttributeValues={k: v for k, v in values.items() if k not in (":set", ":h", ":e")},
        )
    return True
