"""The deterministic, seeded workload: Zipf-distributed page views and likes from a fixed visitor population."""

from __future__ import annotations

import bisect
import datetime as dt
import itertools
import random
from collections import defaultdict
from dataclasses import dataclass

BROWSERS = (
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_6) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Safari/605",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:133.0) Gecko/20100101 Firefox/133.0",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Mobile/15E148",
)


@dataclass(frozen=True)
class Spec:
    hits: int = 100_000
    articles: int = 1_000
    visitors: int = 20_000
    days: int = 7
    pages_per_visit: float = 1.5
    like_rate: float = 0.05
    zipf_s: float = 1.0
    seed: int = 7
    first_day: str = "2026-01-05"

    @property
    def day_list(self) -> list[str]:
        start = dt.date.fromisoformat(self.first_day)
        return [(start + dt.timedelta(days=i)).isoformat() for i in range(self.days)]


@dataclass(frozen=True)
class Event:
    ts: float
    kind: str  # "hit" | "like"
    slug: str
    visitor: int

    @property
    def day(self) -> str:
        return dt.datetime.fromtimestamp(self.ts, dt.UTC).strftime("%Y-%m-%d")


def slug(i: int) -> str:
    return f"article-{i:04d}"


def ip_of(visitor: int) -> str:
    """A distinct address per visitor, so (ip, user agent) identifies exactly one simulated visitor."""
    return f"10.{(visitor >> 16) & 255}.{(visitor >> 8) & 255}.{visitor & 255}"


def ua_of(visitor: int) -> str:
    return BROWSERS[visitor % len(BROWSERS)]


def generate(spec: Spec) -> list[Event]:
    """Visits until `spec.hits` page views: a uniform random visitor and moment, a geometric number of pages
    (mean pages_per_visit), each a Zipf(s) article; a like follows a view with probability like_rate."""
    rng = random.Random(spec.seed)
    weights = list(itertools.accumulate(1.0 / (i**spec.zipf_s) for i in range(1, spec.articles + 1)))
    top = weights[-1]
    start = dt.datetime.fromisoformat(spec.first_day).replace(tzinfo=dt.UTC).timestamp()
    span = spec.days * 86400
    stop_p = 1.0 / spec.pages_per_visit
    events: list[Event] = []
    hits = 0
    while hits < spec.hits:
        visitor = rng.randrange(spec.visitors)
        ts = start + rng.random() * (span - 3600)
        while hits < spec.hits:
            article = bisect.bisect_left(weights, rng.random() * top)
            events.append(Event(ts, "hit", slug(article + 1), visitor))
            hits += 1
            if rng.random() < spec.like_rate:
                events.append(Event(ts + 20, "like", slug(article + 1), visitor))
            if rng.random() < stop_p:
                break
            ts += rng.uniform(20, 120)
    events.sort(key=lambda e: (e.ts, e.visitor, e.kind))
    return events


Counts = dict[str, tuple[int, int, int]]


def expected(events: list[Event]) -> tuple[Counts, Counts]:
    """Ground truth by the contract: (hits, visitors, likes) per article all-time, and for the site per day."""
    hits: dict[str, int] = defaultdict(int)
    likes: dict[str, int] = defaultdict(int)
    uniq: dict[str, set[tuple[str, int]]] = defaultdict(set)
    liked: set[tuple[str, int, str]] = set()
    site: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0])
    site_uniq: set[tuple[str, int]] = set()
    for e in events:
        day = e.day
        if e.kind == "hit":
            hits[e.slug] += 1
            uniq[e.slug].add((day, e.visitor))
            site[day][0] += 1
            if (day, e.visitor) not in site_uniq:
                site_uniq.add((day, e.visitor))
                site[day][1] += 1
        elif (day, e.visitor, e.slug) not in liked:
            liked.add((day, e.visitor, e.slug))
            likes[e.slug] += 1
            site[day][2] += 1
    slugs = set(hits) | set(likes)
    articles = {s: (hits[s], len(uniq[s]), likes[s]) for s in slugs}
    return articles, {d: (v[0], v[1], v[2]) for d, v in site.items()}
