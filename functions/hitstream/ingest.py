"""Ingest: one conditional upsert per accepted hit or like, and nothing else."""

from __future__ import annotations

import time
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from botocore.exceptions import ClientError

from . import bots, clients, days, visitors
from .config import Settings

# A visitor-day item lists the articles seen that day; past this many, extra articles still count as
# hits but no longer as new uniques, so one scraper-like visitor cannot grow an item toward 400 KB.
MAX_ARTICLES_PER_VISITOR_DAY = 500
# Per-article hit counts live in top-level attributes "c#<slug>" of the visitor-day item (ADD creates a
# top-level attribute, where ADD on a map member fails if the map is missing), so one day's article counters
# can be recomputed from the raw items (scripts/recompute.py). Past the cap they are not kept, like pv.
HITS_PREFIX = "c#"


def hits_attribute(slug: str) -> str:
    return HITS_PREFIX + slug


class Kind(StrEnum):
    HIT = "hit"
    LIKE = "like"


@dataclass(frozen=True)
class Beacon:
    kind: Kind
    slug: str
    ip: str
    user_agent: str


def record(beacon: Beacon, cfg: Settings, now: float | None = None) -> bool:
    """Store the event; returns False when it was a bot and nothing was written."""
    if bots.is_bot(beacon.user_agent):
        return False
    now = time.time() if now is None else now
    day = days.today(now)
    salt = visitors.salt_for(day, cfg.stats_table, cfg.salt_ttl_hours)
    visitor = visitors.visitor_id(salt, beacon.ip, beacon.user_agent)
    values: dict[str, Any] = {
        ":slug": {"S": beacon.slug},
        ":k": {"S": beacon.kind.value},
        ":d": {"S": day},
        ":ttl": {"N": str(days.day_start(day) + 86400 + cfg.event_ttl_days * 86400)},
        ":one": {"N": "1"},
    }
    set_clause = "SET s = :slug, k = :k, d = :d, #ttl = :ttl"
    db: Any = clients.dynamodb()
    key = {"pk": {"S": f"{day}#{visitor}"}}
    if beacon.kind is Kind.LIKE:
        db.update_item(
            TableName=cfg.events_table,
            Key=key,
            UpdateExpression=f"{set_clause} ADD lk :set, n :one",
            ExpressionAttributeNames={"#ttl": "ttl"},
            ExpressionAttributeValues={**values, ":set": {"SS": [beacon.slug]}},
        )
        return True
    try:
        db.update_item(
            TableName=cfg.events_table,
            Key=key,
            UpdateExpression=f"{set_clause} ADD h :one, n :one, pv :set, #c :one",
            ConditionExpression="attribute_not_exists(pv) OR size(pv) < :cap OR contains(pv, :slug)",
            ExpressionAttributeNames={"#ttl": "ttl", "#c": hits_attribute(beacon.slug)},
            ExpressionAttributeValues={
                **values,
                ":set": {"SS": [beacon.slug]},
                ":cap": {"N": str(MAX_ARTICLES_PER_VISITOR_DAY)},
            },
        )
    except ClientError as exc:
        if exc.response["Error"]["Code"] != "ConditionalCheckFailedException":
            raise
        db.update_item(
            TableName=cfg.events_table,
            Key=key,
            UpdateExpression=f"{set_clause} ADD h :one, n :one",
            ExpressionAttributeNames={"#ttl": "ttl"},
            ExpressionAttributeValues=values,
        )
    return True
