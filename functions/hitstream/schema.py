"""Table shapes and item keys: the single definition used by the handlers, the CDK stack and the local twin.

Events table (one item per visitor per UTC day, upserted once per hit or like):
    pk = "<day>#<visitor id>"; attributes d (day), h (hits), pv (slugs viewed), lk (slugs liked),
    c#<slug> (hits of that article, for the first 500 articles), s (slug of this event), k ("hit" | "like"),
    n (events), ttl. Its stream carries NEW_AND_OLD_IMAGES, so the
    aggregator sees "first view of this article today" and "first event of the visitor today" for free.

Stats table (pk, sk):
    SITE      / TOTAL        site all-time counters, plus the number of articles
    SITE      / D#<day>      site counters for one UTC day
    A#<slug>  / TOTAL        article all-time counters (rk = "ALL")
    A#<slug>  / D#<day>      article counters for one UTC day (rk = "D#<day>")
    SALT      / <day>        the day's visitor-hash salt, expiring after 48 h
Sparse GSI "rank" (rk, rb), keys only, orders articles by a coarse hits bucket, all time or per day, for
top-N reads. The bucket changes about 4 times per doubling of hits, so the index is rewritten that rarely,
not on every counter update (docs/decisions.md).
"""

from __future__ import annotations

import math
from typing import Any

PK, SK, TTL_ATTR = "pk", "sk", "ttl"
RANK_INDEX, RANK_PK, RANK_SK = "rank", "rk", "rb"

SITE = "SITE"
TOTAL = "TOTAL"
SALT = "SALT"
ALL_TIME_RANK = "ALL"

# Only INSERT and MODIFY reach the aggregator; TTL expiry produces REMOVE records that must not count.
STREAM_FILTER_PATTERN: dict[str, Any] = {"eventName": ["INSERT", "MODIFY"]}

# Stream event source settings, shared by the stack and the twin's emulated event source mapping.
STREAM_BATCH_SIZE = 5000  # big batches fold more hits into each counter write (docs/benchmarks.md)
STREAM_RETRY_ATTEMPTS = 10
STREAM_MAX_RECORD_AGE_S = 6 * 3600
DEFAULT_FRESHNESS_S = 60  # how long counts may lag on AWS (CDK context freshnessSeconds, 5-900)
MIN_FRESHNESS_S, MAX_FRESHNESS_S = 5, 900


def stream_windows(freshness_s: int) -> tuple[int, int]:
    """(MaximumBatchingWindowInSeconds, TumblingWindowInSeconds) for a freshness bound.

    The aggregator keeps a window's deltas in the tumbling-window state and writes counters once per window,
    so a record waits at most one batching window plus one tumbling window before it is visible.
    """
    freshness_s = max(1, min(MAX_FRESHNESS_S, int(freshness_s)))
    batching = min(300, max(1, freshness_s // 6))
    return batching, max(1, freshness_s - batching)


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


def article_pk(slug: str) -> str:
    return f"A#{slug}"


def day_sk(day: str) -> str:
    return f"D#{day}"


def day_rank(day: str) -> str:
    return f"D#{day}"


def events_table_definition(name: str) -> dict[str, Any]:
    """boto3 CreateTable arguments; the stack declares the same keys, stream and TTL."""
    return {
        "TableName": name,
        "AttributeDefinitions": [{"AttributeName": PK, "AttributeType": "S"}],
        "KeySchema": [{"AttributeName": PK, "KeyType": "HASH"}],
        "BillingMode": "PAY_PER_REQUEST",
        "StreamSpecification": {"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"},
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
