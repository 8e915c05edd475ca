"""Salt lifecycle and the UTC day boundary."""

from __future__ import annotations

import datetime as dt

from hitstream import days
from hitstream.audience import visitors
from hitstream.config import settings
from hitstream.pipeline import ingest
from hitstream.storage import clients

from tests.builders import DESKTOP_UA, get

MIDNIGHT = dt.datetime(2026, 11, 21, tzinfo=dt.UTC).timestamp()


def salt_item(backend, day: str) -> dict:
    return clients.dynamodb().get_item(
        TableName=backend.settings.stats_table, Key={"pk": {"S": "SALT"}, "sk": {"S": day}}, ConsistentRead=True
    )["Item"]


def test_the_days_salt_is_created_once_even_when_cold_starts_race(backend):
    table = backend.settings.stats_table
    seen = set()
    for _ in range(5):  # five "cold" ingest instances, each without a cached salt
        visitors.forget_salts()
        seen.add(visitors.salt_for("2026-11-21", table))
    assert len(seen) == 1
    assert salt_item(backend, "2026-11-21")["v"]["B"] in seen


def test_the_salt_expires_48_hours_after_its_day_starts(backend):
    visitors.salt_for("2026-11-21", backend.settings.stats_table)
    assert int(salt_item(backend, "2026-11-21")["ttl"]["N"]) == days.day_start("2026-11-21") + 48 * 3600


def test_ids_rotate_daily_and_depend_on_ip_and_user_agent(backend):
    table = backend.settings.stats_table
    a = visitors.salt_for("2026-11-21", table)
    b = visitors.salt_for("2026-11-22", table)
    assert a != b
    assert visitors.visitor_id(a, "localhost", "198.51.100.1", DESKTOP_UA) != visitors.visitor_id(
        b, "localhost", "198.51.100.1", DESKTOP_UA
    )
    assert visitors.visitor_id(a, "localhost", "198.51.100.1", DESKTOP_UA) != visitors.visitor_id(
        a, "localhost", "198.51.100.2", DESKTOP_UA
    )
    assert visitors.visitor_id(a, "localhost", "198.51.100.1", DESKTOP_UA) == visitors.visitor_id(
        a, "localhost", "198.51.100.1", DESKTOP_UA
    )


def test_hits_either_side_of_midnight_land_on_their_own_days(twin):
    cfg = settings()
    for now in (MIDNIGHT - 1, MIDNIGHT - 0.001, MIDNIGHT, MIDNIGHT + 1):
        assert ingest.record(ingest.Beacon(ingest.Kind.HIT, "late-post", "198.51.100.9", DESKTOP_UA), cfg, now=now)
    twin.settle()
    _, body = twin.get(get("/statistics/late-post?from=2026-11-20&to=2026-11-21"))
    assert body["daily"] == [
        {"date": "2026-11-20", "hits": 2, "visitors": 1, "likes": 0},
        {"date": "2026-11-21", "hits": 2, "visitors": 1, "likes": 0},
    ]
    # yesterday's unique stays counted once; the new day's id is a new unique, so all time = 1 + 1
    assert twin.get(get("/statistics"))[1] == {"hits": 4, "visitors": 2, "likes": 0, "articles": 1}


def test_a_like_counts_once_per_visitor_article_and_day(twin):
    cfg = settings()
    like = ingest.Beacon(ingest.Kind.LIKE, "liked", "198.51.100.3", DESKTOP_UA)
    for now in (MIDNIGHT + 10, MIDNIGHT + 20, MIDNIGHT + 86400 + 5):
        ingest.record(like, cfg, now=now)
    ingest.record(ingest.Beacon(ingest.Kind.LIKE, "liked", "198.51.100.4", DESKTOP_UA), cfg, now=MIDNIGHT + 30)
    twin.settle()
    assert twin.get(get("/statistics/liked"))[1] == {"slug": "liked", "hits": 0, "visitors": 0, "likes": 3}
