"""Table shapes and item keys: the single definition used by the handlers, the CDK stack and the local twin.

Events table (one item per visitor, site and UTC day, upserted once per hit or like; docs/decisions.md §1):
    pk = "<day>#<visitor id>" (the visitor id is keyed by the site); attributes
    w (site code), s (slug of this event), k ("hit" | "like"), h (hits today), ttl,
    pv / lk (binary sets of 5-byte slug hashes: articles viewed / liked today, capped),
    e (the visit's dimensions, from its first hit of the day). Every part is bounded, so the item stays
    under 1 KB whatever a client sends, and a write costs at most one write unit (two on the capped path).
    Its stream carries NEW_AND_OLD_IMAGES, so the aggregator sees "first view of this article today" and
    "first event of the visitor today" for free.

Stats table (pk, sk), per site:
    S#<site>          / TOTAL      site all-time counters, plus the number of articles
    S#<site>          / D#<day>    site counters for one UTC day, and its breakdown maps (b<dimension code>)
    A#<site>#<slug>   / TOTAL      article all-time counters (rk = "<site>#ALL")
    A#<site>#<slug>   / D#<day>    article counters for one UTC day, and its sources (rk = "<site>#D#<day>")
Sparse GSI "rank" (rk, rb), keys only, orders articles by a coarse hits bucket, all time or per day, for
top-N reads. The bucket changes about 4 times per doubling of hits, so the index is rewritten that rarely,
not on every counter update (docs/decisions.md).

Salts table (pk, sk): SALT / <day>, the day's visitor-hash salt. No backups of any kind (no PITR, no export);
hitstream deletes each salt 48 h after its day began, TTL is only a backup.
"""

from __future__ import annotations

import hashlib
import math
from typing import Any

PK, SK, TTL_ATTR = "pk", "sk", "ttl"
RANK_INDEX, RANK_PK, RANK_SK = "rank", "rk", "rb"

TOTAL = "TOTAL"
SALT = "SALT"
ALL_TIME_RANK = "ALL"

# Breakdown dimensions and the one-letter codes of their maps (site-day items: "b" + code; article-day: sources)
DIMENSIONS = {"source": "s", "campaign": "c", "browser": "b", "os": "o", "device": "d", "country": "y"}
OTHER = "(other)"
# Visitors and hits of one breakdown value share one number, so one ADD moves both: visitors * PAIR + hits.
PAIR = 10**12

# Only INSERT and MODIFY reach the aggregator; TTL expiry produces REMOVE records that must not count.
STREAM_FILTER_PATTERN: dict[str, Any] = {"eventName": ["INSERT", "MODIFY"]}

# Stream event source settings, shared by the stack and the twin's emulated event source mapping.
STREAM_BATCH_SIZE = 5000  # big batches fold more hits into each counter write (docs/benchmarks.md)
STREAM_RETRY_ATTEMPTS = 10
STREAM_MAX_RECORD_AGE_S = 6 * 3600
SALT_PURGE_SCHEDULE = "cron(5 0 * * ? *)"  # daily, 00:05 UTC
DEFAULT_FRESHNESS_S = 60  # how long counts may lag on AWS (CDK context freshnessSeconds, 5-900)
MIN_FRESHNESS_S, MAX_FRESHNESS_S = 5, 900
TUMBLING_WINDOW_S = 900  # the longest Lambda allows; it only gives each invocation its shardId


def stream_windows(freshness_s: int) -> tuple[int, int]:
    """(MaximumBatchingWindowInSeconds, TumblingWindowInSeconds) for a freshness bound.

    Every invocation writes its own records, so a record waits at most one batching window (Lambda's maximum is
    300 s) plus the invocation itself. The tumbling window carries no state: it is on only so that each
    invocation names its shard (`shardId`), which the fences are keyed by; the longest one (900 s) adds the
    fewest empty end-of-window invocations (docs/decisions.md "No count waits for a window").
    """
    freshness_s = max(1, min(MAX_FRESHNESS_S, int(freshness_s)))
    batching = min(300, max(1, freshness_s - max(2, freshness_s // 6)))
    return batching, TUMBLING_WINDOW_S


def bucket(hits: int) -> int:
    """Rank bucket: b with 2^((b-1)/4) <= hits < 2^(b/4), i.e. four buckets per doubling; 0 for no hits."""
    return (hits**4).bit_length() if hits > 0 else 0


def bucket_bounds(b: int) -> tuple[int, int]:
    """The smallest and largest hit counts in bucket b."""
    if b <= 0:
        return 0, 0
    low = math.isqrt(math.isqrt(2 ** (b - 1)))
    while low**4 < 2 ** (b - 1):
        low += 1
    high = math.isqrt(math.isqrt(2**b - 1))
    return low, high


def site_pk(site: str) -> str:
    return f"S#{site}"


def article_pk(site: str, slug: str) -> str:
    return f"A#{site}#{slug}"


def slug_of(pk: str) -> str:
    """The slug of an article item's key "A#<site>#<slug>" (a site never contains "#")."""
    return pk.split("#", 2)[2]


def day_sk(day: str) -> str:
    return f"D#{day}"


def all_time_rank(site: str) -> str:
    return f"{site}#{ALL_TIME_RANK}"


def day_rank(site: str, day: str) -> str:
    return f"{site}#D#{day}"


def site_code(site: str) -> str:
    """The short, stable name of a site inside an events item (8 hex digits), so items stay small."""
    return hashlib.blake2b(site.encode(), digest_size=4, person=b"hs-site").hexdigest()


def slug_hash(slug: str) -> bytes:
    """5 bytes per article in a visitor's day sets: 50 articles cost 250 bytes, whatever the slugs' length.
    Two slugs of one visitor-day collide with probability below 1e-9 at 50 articles (docs/decisions.md)."""
    return hashlib.blake2b(slug.encode(), digest_size=5, person=b"hs-slug").digest()


def events_table_definition(name: str) -> dict[str, Any]:
    """boto3 CreateTable arguments; the stack declares the same keys, stream and TTL."""
    return {
        "TableName": name,
        "AttributeDefinitions": [{"AttributeName": PK, "AttributeType": "S"}],
        "KeySchema": [{"AttributeName": PK, "KeyType": "HASH"}],
        "BillingMode": "PAY_PER_REQUEST",
        "StreamSpecification": {"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"},
    }


def salts_table_definition(name: str) -> dict[str, Any]:
    return {
        "TableName": name,
        "AttributeDefinitions": [
            {"AttributeName": PK, "AttributeType": "S"},
            {"AttributeName": SK, "AttributeType": "S"},
        ],
        "KeySchema": [{"AttributeName": PK, "KeyType": "HASH"}, {"AttributeName": SK, "KeyType": "RANGE"}],
        "BillingMode": "PAY_PER_REQUEST",
    }


def stats_table_definition(name: str) -> dict[str, Any]:
    return {
        "TableName": name,
        "AttributeDefinitions": [
            {"AttributeName": PK, "AttributeType": "S"},
            {"AttributeName": SK, "AttributeType": "S"},
            {"AttributeName": RANK_PK, "AttributeType": "S"},
            {"AttributeName": RANK_SK, "AttributeType": "N"},
        ],
        "KeySchema": [{"AttributeName": PK, "KeyType": "HASH"}, {"AttributeName": SK, "KeyType": "RANGE"}],
        "BillingMode": "PAY_PER_REQUEST",
        "GlobalSecondaryIndexes": [
            {
                "IndexName": RANK_INDEX,
                "KeySchema": [
                    {"AttributeName": RANK_PK, "KeyType": "HASH"},
                    {"AttributeName": RANK_SK, "KeyType": "RANGE"},
                ],
                "Projection": {"ProjectionType": "KEYS_ONLY"},
            }
        ],
    }
