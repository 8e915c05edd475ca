"""Where readers come from, end to end through the real handlers: entry attribution, every dimension, per-article
sources, sites kept apart, and exact counts under faults, redelivery and windows."""

from __future__ import annotations

import json
import random
import time
from collections import defaultdict

from hitstream import days

from tests.builders import get, hit
from tests.conftest import Twin
from twin.backend import Backend

FIREFOX_LINUX = "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0"
IPHONE = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
    "Version/17.5 Mobile/15E148 Safari/604.1"
)
DIMENSIONS = "source,campaign,browser,os,device,country"


def today() -> str:
    return days.today(time.time())


def breakdown(twin: Twin, path: str = "/statistics", extra: str = "") -> dict:
    day = today()
    status, body = twin.get(get(f"{path}?from={day}&to={day}&limit=100{extra}"))
    assert status == 200, body
    return body["breakdown"]


def body(**fields: str) -> str:
    return json.dumps(fields)


def test_the_first_hit_of_the_day_decides_every_dimension(twin: Twin) -> None:
    first = body(referrer="https://www.google.com/search?q=hitstream", utm_campaign="launch")
    later = body(referrer="https://twitter.com/someone/status/1", utm_source="newsletter", utm_campaign="other")
    assert twin.post(hit("a", ip="8.8.8.8", user_agent=FIREFOX_LINUX, body=first))[0] == 202
    assert twin.post(hit("b", ip="8.8.8.8", user_agent=FIREFOX_LINUX, body=later))[0] == 202
    assert twin.post(hit("a", ip="8.8.8.8", user_agent=FIREFOX_LINUX, body=later))[0] == 202
    assert twin.post(hit("a", ip="127.0.0.1", user_agent=IPHONE, body="{}"))[0] == 202
    twin.settle()
    got = breakdown(twin, extra=f"&breakdown={DIMENSIONS}")
    assert got == {
        "source": [
            {"value": "google.com", "visitors": 1, "hits": 3},
            {"value": "(direct)", "visitors": 1, "hits": 1},
        ],
        "campaign": [
            {"value": "launch", "visitors": 1, "hits": 3},
            {"value": "(none)", "visitors": 1, "hits": 1},
        ],
        "browser": [
            {"value": "Firefox", "visitors": 1, "hits": 3},
            {"value": "Mobile Safari", "visitors": 1, "hits": 1},
        ],
        "os": [
            {"value": "Linux", "visitors": 1, "hits": 3},
            {"value": "iOS", "visitors": 1, "hits": 1},
        ],
        "device": [
            {"value": "desktop", "visitors": 1, "hits": 3},
            {"value": "mobile", "visitors": 1, "hits": 1},
        ],
        "country": [
            {"value": "US", "visitors": 1, "hits": 3},
            {"value": "ZZ", "visitors": 1, "hits": 1},
        ],
    }
    # an article's own readers' sources: its visitors and its hits, by each reader's entry
    assert breakdown(twin, "/statistics/a", "&breakdown=source") == {
        "source": [
            {"value": "google.com", "visitors": 1, "hits": 2},
            {"value": "(direct)", "visitors": 1, "hits": 1},
        ]
    }
    assert breakdown(twin, "/statistics/b", "&breakdown=source") == {
        "source": [{"value": "google.com", "visitors": 1, "hits": 1}]
    }


def test_a_referrer_on_the_same_site_is_not_a_source_and_sites_stay_apart(backend: Backend) -> None:
    import os

    from hitstream.config import settings

    os.environ["SITES"] = "blog.example.com,docs.example.com"
    settings.cache_clear()
    try:
        twin = Twin(backend)
        own = body(referrer="https://www.blog.example.com/previous-post")
        sister = body(referrer="https://docs.example.com/guide")
        twin.post(hit("a", ip="198.51.100.1", body=own))
        twin.post(hit("a", ip="198.51.100.2", body=sister))
        docs_hit = hit("a", ip="198.51.100.3", body=own)
        docs_hit["queryStringParameters"] = {"site": "docs.example.com"}
        twin.post(docs_hit)
        twin.settle()
        blog = breakdown(twin, extra="&breakdown=source")["source"]
        assert blog == [
            {"value": "(direct)", "visitors": 1, "hits": 1},
            {"value": "docs.example.com", "visitors": 1, "hits": 1},
        ]
        docs = breakdown(twin, extra="&breakdown=source&site=docs.example.com")["source"]
        assert docs == [{"value": "blog.example.com", "visitors": 1, "hits": 1}]
    finally:
        del os.environ["SITES"]
        settings.cache_clear()


def test_unknown_dimensions_limits_and_missing_ranges_are_400s(twin: Twin) -> None:
    day = today()
    for query in (
        f"from={day}&breakdown=colour",
        f"from={day}&breakdown=",
        "breakdown=source",
        f"from={day}&breakdown=source&limit=0",
        f"from={day}&breakdown=source&limit=101",
    ):
        status, answer = twin.get(get(f"/statistics?{query}"))
        assert status == 400 and "error" in answer, query
    assert twin.get(get(f"/statistics/a?from={day}&breakdown=country"))[0] == 400  # articles: sources only


def test_breakdowns_are_exact_under_faults_redelivery_and_windows() -> None:
    rng = random.Random(11)
    sources = ["google.com", "news.ycombinator.com", "reddit.com", "lobste.rs", None]
    backend = Backend(shards=2, seed=5, fault_rate=0.3, redelivery_rate=0.3, window_s=0.0)
    try:
        twin = Twin(backend)
        entry: dict[int, str] = {}
        expected: dict[str, list[int]] = defaultdict(lambda: [0, 0])
        for i in range(90):
            visitor = rng.randrange(25)
            source = rng.choice(sources)
            fields = {"referrer": f"https://{source}/x"} if source else {}
            assert twin.post(hit(f"s{rng.randrange(4)}", ip=f"198.51.100.{visitor}", body=json.dumps(fields)))[0] == 202
            if visitor not in entry:
                entry[visitor] = source or "(direct)"
                expected[entry[visitor]][0] += 1
            expected[entry[visitor]][1] += 1
            if i % 10 == 9:
                backend.settle(force=rng.random() < 0.5)
        backend.settle()
        assert backend.esm.dlq == []
        rows = breakdown(twin, extra="&breakdown=source")["source"]
        assert {r["value"]: [r["visitors"], r["hits"]] for r in rows} == dict(expected)
    finally:
        backend.close()
