"""Hostile traffic against the cost and size bounds, metered by DynamoDB's billing rules (bench/meter.py).

Whatever one client sends: an accepted hit or like costs at most 2 write units in the events table, no item
grows toward 400 KB, uniques stay exact up to 50 distinct articles a visitor-day, breakdowns stay bounded, a
counter write with 32 shards' fences costs one write unit, and top-N reads are bounded.
"""

from __future__ import annotations

import json
import random
import string
import time
from typing import Any

import pytest
from hitstream import days
from hitstream.config import settings
from hitstream.pipeline import aggregate, ingest
from hitstream.storage import clients, schema
from hypothesis import HealthCheck, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from bench.meter import Meter, item_size, normalise
from tests.builders import get, hit, image, like, stream_event, stream_record
from tests.conftest import Twin
from twin.backend import Backend

LONG = 200


def long_slug(i: int) -> str:
    return f"p{i:05d}-" + "x" * (LONG - 7)


def metered(backend: Backend) -> Meter:
    events = backend.settings.events_table
    meter = Meter(classify=lambda key: "events" if key[0] == events else "stats")
    meter.attach(clients.dynamodb())
    return meter


def hostile_body(i: int) -> str:
    """The largest dimension values a client can make: 100-character UTMs, a long referrer host."""
    host = ".".join(["a" * 60, "b" * 60, f"c{i}", "example"])
    return json.dumps(
        {
            "referrer": f"https://{host}/{'z' * 2000}",
            "utm_source": f"s{i}-" + "\u00e9" * 120,
            "utm_campaign": f"c{i}-" + "q" * 120,
            "utm_medium": "m" * 500,
        }
    )


HOSTILE_UA = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) " + "Chrome/131.0.0.0 " * 300
)


def test_one_client_cannot_raise_the_price_of_its_hits(twin: Twin) -> None:
    meter = metered(twin.backend)
    costs: list[float] = []
    for i in range(120):
        before = meter.total("events").wru
        request = (hit if i % 3 else like)(
            long_slug(i), ip="198.51.100.66", user_agent=HOSTILE_UA, body=hostile_body(i)
        )
        assert twin.post(request) == (202, {"accepted": True})
        costs.append(meter.total("events").wru - before)
    assert max(costs) <= 2
    assert meter.largest_item[twin.backend.settings.events_table] < 1024
    twin.settle()
    assert twin.backend.esm.dlq == []
    stats = twin.get(get("/statistics"))[1]
    assert stats["hits"] == 80  # every hit counts; likes past the per-day cap do not
    assert stats["visitors"] == 1
    assert stats["likes"] == ingest.MAX_LIKES_PER_VISITOR_DAY


def test_uniques_stay_exact_for_a_visitor_reading_50_articles(twin: Twin) -> None:
    for _round in range(2):
        for i in range(ingest.MAX_ARTICLES_PER_VISITOR_DAY):
            assert twin.post(hit(long_slug(i), ip="198.51.100.7"))[0] == 202
    twin.settle()
    for i in range(ingest.MAX_ARTICLES_PER_VISITOR_DAY):
        assert twin.get(get(f"/statistics/{long_slug(i)}"))[1] == {
            "slug": long_slug(i),
            "hits": 2,
            "visitors": 1,
            "likes": 0,
        }
    # past the cap a new article still counts its hits, not as a new unique
    assert twin.post(hit("one-more", ip="198.51.100.7"))[0] == 202
    twin.settle()
    assert twin.get(get("/statistics/one-more"))[1]["hits"] == 1
    assert twin.get(get("/statistics"))[1]["visitors"] == 1


def test_a_counter_write_stays_one_write_unit_with_32_shards_fences(twin: Twin) -> None:
    slug = "a-fairly-long-article-slug-about-serverless-counters-2026"
    day = "2026-11-20"
    for shard in range(40):
        record = stream_record(
            {**image(slug, day, hits=1, views={slug}), "pk": {"S": f"{day}#v{shard}"}},
            seq=10**21 + shard,
        )
        twin.backend.invoke_aggregate(stream_event([record], shard=f"shardId-00000001700000000000-{shard:08x}"))
    item = clients.dynamodb().get_item(
        TableName=twin.backend.settings.stats_table,
        Key={"pk": {"S": schema.article_pk("localhost", slug)}, "sk": {"S": "TOTAL"}},
    )["Item"]
    assert sum(1 for name in item if name.startswith("f")) == 40
    assert item_size(normalise(item)) <= 1024
    assert twin.get(get(f"/statistics/{slug}"))[1]["hits"] == 40


def test_breakdowns_stay_bounded_and_exact_under_hostile_values(twin: Twin) -> None:
    for i in range(80):
        body = json.dumps({"utm_source": f"spam-{i:03d}-" + "x" * 90, "utm_campaign": f"camp-{i}"})
        assert twin.post(hit("a", ip=f"198.51.{i // 200}.{i % 200 + 1}", body=body))[0] == 202
    twin.settle()
    assert twin.backend.esm.dlq == []
    day_items = [
        i
        for i in _scan(twin.backend.settings.stats_table)
        if i["pk"]["S"] == schema.site_pk("localhost") and i["sk"]["S"].startswith("D#")
    ]
    (item,) = day_items
    sources = [n for n in item if n.startswith("bs:")]
    assert len(sources) <= aggregate.BREAKDOWN_CAP
    assert int(item["ns"]["N"]) == len(sources) - 1  # the values of their own; "(other)" is not counted
    assert item_size(normalise(item)) < 12 * 1024
    today = item["sk"]["S"][2:]
    got = twin.get(get(f"/statistics?from={today}&to={today}&breakdown=source,campaign&limit=100"))[1]
    for dimension in ("source", "campaign"):
        rows = got["breakdown"][dimension]
        assert sum(r["visitors"] for r in rows) == 80
        assert sum(r["hits"] for r in rows) == 80
        assert any(r["value"] == schema.OTHER for r in rows)
        assert all(len(r["value"]) <= 100 for r in rows)


def test_top_n_reads_are_bounded_however_many_junk_slugs_tie(twin: Twin) -> None:
    for i in range(400):
        twin.post(hit(f"junk-{i:04d}", ip=f"203.0.{i // 250}.{i % 250 + 1}"))
    twin.post(hit("real", ip="198.51.100.1"))
    twin.post(hit("real", ip="198.51.100.2"))
    twin.settle()
    calls: list[str] = []
    db = clients.dynamodb()
    db.meta.events.register("before-call.dynamodb", lambda model, **_: calls.append(model.name), unique_id="count-top")
    try:
        body = twin.get(get("/statistics?top=5"))[1]
        all_time_calls = len(calls)
        calls.clear()
        today = days.today(time.time())
        ranged = twin.get(get(f"/statistics?from={today}&to={today}&top=5"))[1]
    finally:
        db.meta.events.unregister("before-call.dynamodb", unique_id="count-top")
    assert body["top"][0] == {"slug": "real", "hits": 2, "visitors": 2, "likes": 0}
    assert [r["slug"] for r in body["top"][1:]] == [f"junk-{i:04d}" for i in range(4)]
    assert ranged["top"] == body["top"]
    from hitstream.pipeline.query import MAX_INDEX_PAGES, max_exact

    assert all_time_calls <= 1 + MAX_INDEX_PAGES + (max_exact(5) // 100 + 1)
    assert len(calls) <= 1 + 1 + MAX_INDEX_PAGES + max_exact(5)


def test_a_non_ascii_edge_header_is_a_plain_mismatch(backend: Backend) -> None:
    import os

    os.environ["EDGE_ORIGIN_SECRET"] = "s3cret"
    settings.cache_clear()
    try:
        twin = Twin(backend)
        status, body = twin.post(
            hit("a", headers={"x-hitstream-origin": "caf\u00e9-\u2603", "cloudfront-viewer-address": "1.2.3.4:5"})
        )
        assert (status, body) == (202, {"accepted": True})
    finally:
        del os.environ["EDGE_ORIGIN_SECRET"]
        settings.cache_clear()


def _scan(table: str) -> list[dict[str, Any]]:
    from tests.conftest import scan

    return scan(table)


@pytest.mark.slow
@hsettings(
    max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture]
)
@given(
    st.lists(
        st.tuples(
            st.sampled_from(["hit", "like"]),
            st.text(alphabet=string.ascii_letters + string.digits + "._~-", min_size=1, max_size=200),
            st.dictionaries(
                st.sampled_from(["referrer", "utm_source", "utm_campaign", "utm_medium"]),
                st.text(max_size=300),
                max_size=4,
            ),
        ),
        min_size=1,
        max_size=25,
    ),
    st.text(min_size=1, max_size=3000),
)
def test_any_sequence_of_requests_from_one_client_stays_within_two_write_units(
    requests: list[tuple[str, str, dict[str, str]]], user_agent: str
) -> None:
    backend = Backend(shards=1, seed=2)
    try:
        twin = Twin(backend)
        meter = metered(backend)
        ua = "Mozilla/5.0 " + user_agent.replace("\r", " ").replace("\n", " ")
        for kind, slug_tail, body in requests:
            slug = ("a" + slug_tail)[:200]
            before = meter.total("events").wru
            status, _ = twin.post((hit if kind == "hit" else like)(slug, user_agent=ua, body=json.dumps(body)))
            assert status in (202, 400)
            assert meter.total("events").wru - before <= 2
        assert meter.largest_item.get(backend.settings.events_table, 0) < 1024
        twin.settle()
        assert backend.esm.dlq == []
    finally:
        backend.close()


def test_random_redelivery_orders_count_exactly_once(twin: Twin) -> None:
    rng = random.Random(7)
    day = "2026-11-20"
    records = []
    for i in range(60):
        slug = f"s{i % 7}"
        records.append(
            stream_record({**image(slug, day, hits=1, views={slug}), "pk": {"S": f"{day}#u{i}"}}, seq=5000 + i)
        )
    shard = "shardId-00000001700000000000-cccccccc"
    done = 0
    while done < len(records):  # first deliveries in order; redeliveries of what is done, scrambled
        step = rng.randrange(1, 15)
        twin.backend.invoke_aggregate(stream_event(records[done : done + step], shard))
        done += step
        for _ in range(rng.randrange(0, 3)):
            start = rng.randrange(0, min(done, len(records)))
            part = records[start : min(done, start + rng.randrange(1, 25))]
            rng.shuffle(part)
            twin.backend.invoke_aggregate(stream_event(part, shard))
    shuffled = records[:]
    rng.shuffle(shuffled)
    twin.backend.invoke_aggregate(stream_event(shuffled, shard))
    for i in range(7):
        expect = sum(1 for j in range(60) if j % 7 == i)
        assert twin.get(get(f"/statistics/s{i}"))[1]["hits"] == expect
    assert twin.get(get("/statistics"))[1]["hits"] == 60


def test_an_owner_pattern_keeps_junk_slugs_out(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ARTICLES", r"20[0-9]{2}-[a-z0-9-]+")
    backend = Backend(shards=1, seed=3)
    try:
        twin = Twin(backend)
        assert twin.post(hit("2026-hello-world"))[0] == 202
        status, body = twin.post(hit("wp-login.php"))
        assert status == 400 and "articles" in body["error"]
        assert twin.post(like("junk"))[0] == 400
        twin.settle()
        assert twin.get(get("/statistics?top=5"))[1]["top"] == [
            {"slug": "2026-hello-world", "hits": 1, "visitors": 1, "likes": 0}
        ]
    finally:
        backend.close()


def test_a_pattern_that_is_not_a_regex_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    from hitstream.config import ConfigError, parse_articles

    with pytest.raises(ConfigError, match="ARTICLES"):
        parse_articles("(unclosed")
