"""Top-N over a range is exact, and reads only the top of each day's ranking, not every article."""

from __future__ import annotations

import random
from collections import Counter
from typing import Any

import pytest
from hitstream.storage import clients

from tests.builders import get, image, stream_event, stream_record

DAYS = ["2026-11-18", "2026-11-19", "2026-11-20"]


@pytest.fixture
def store(twin: Any) -> dict[tuple[str, str], int]:
    """200 articles over three days: a long tail, a few daily hits, and one article steady on every day."""
    rng = random.Random(3)
    hits: Counter[tuple[str, str]] = Counter()
    for day in DAYS:
        for i in range(200):
            hits[(f"post-{i:03d}", day)] = max(0, int(60 / (1 + i) ** 0.9) + rng.randint(-2, 2))
        hits[("steady", day)] = 25
        hits[(f"spike-{day}", day)] = 90
    records, seq = [], 1
    for (slug, day), n in sorted(hits.items()):
        for v in range(n):
            new = {**image(slug, day, hits=1, views={slug}), "pk": {"S": f"{day}#{slug}#{v}"}}
            records.append(stream_record(new, seq=seq))
            seq += 1
    for i in range(0, len(records), 1000):
        assert twin.backend.invoke_aggregate(stream_event(records[i : i + 1000]))["batchItemFailures"] == []
    return dict(hits)


def expected(hits: dict[tuple[str, str], int], n: int, days: list[str]) -> list[tuple[str, int]]:
    totals: Counter[str] = Counter()
    for (slug, day), h in hits.items():
        if day in days and h:
            totals[slug] += h
    return sorted(totals.items(), key=lambda kv: (-kv[1], kv[0]))[:n]


@pytest.mark.parametrize("n", [1, 3, 10])
def test_top_over_a_range_and_all_time_is_exact(twin, store, n):
    body = twin.get(get(f"/statistics?from={DAYS[0]}&to={DAYS[-1]}&top={n}"))[1]
    assert [(r["slug"], r["hits"]) for r in body["top"]] == expected(store, n, DAYS)
    body = twin.get(get(f"/statistics?from={DAYS[1]}&to={DAYS[1]}&top={n}"))[1]
    assert [(r["slug"], r["hits"]) for r in body["top"]] == expected(store, n, DAYS[1:2])
    body = twin.get(get(f"/statistics?top={n}"))[1]
    assert [(r["slug"], r["hits"]) for r in body["top"]] == expected(store, n, DAYS)
    assert all(r["visitors"] == r["hits"] for r in body["top"])  # every hit here is a new visitor


def test_top_reads_only_the_head_of_each_days_ranking(twin, store):
    returned = []

    def count(parsed: dict[str, Any], model: Any, **_: Any) -> None:
        if model.name == "Query":
            returned.append(parsed.get("Count", 0))

    db = clients.dynamodb()
    db.meta.events.register("after-call.dynamodb.Query", count)
    try:
        twin.get(get(f"/statistics?from={DAYS[0]}&to={DAYS[-1]}&top=3"))
    finally:
        db.meta.events.unregister("after-call.dynamodb.Query", count)
    article_days = sum(1 for h in store.values() if h)
    assert sum(returned) < article_days / 3, (sum(returned), article_days)
