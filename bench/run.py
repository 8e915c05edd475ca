"""Reads straight from moto (uncounted), and the query probes: RRU of the dashboard's reads, before and
after the store grows 100x."""

from __future__ import annotations

import copy
import datetime as dt
import random
from typing import Any

from bench import workload
from bench.workload import Counts


def _moto_table(name: str) -> Any:
    from moto.core import DEFAULT_ACCOUNT_ID
    from moto.dynamodb.models import dynamodb_backends

    return dynamodb_backends[DEFAULT_ACCOUNT_ID]["us-east-1"].get_table(name)


def _moto_item(table: str, pk: str, sk: str) -> dict[str, Any]:
    from moto.dynamodb.models.dynamo_type import DynamoType

    item = _moto_table(table).get_item(DynamoType({"S": pk}), DynamoType({"S": sk}))
    return {} if item is None else {k: v.value for k, v in item.attrs.items()}


def read_counts(table: str, slugs: list[str], days: list[str]) -> tuple[Counts, Counts]:
    """The naive design's counts: (hits, visitors, likes) per article all time and for the site per day."""

    def triple(item: dict[str, Any]) -> tuple[int, int, int]:
        return int(item.get("hits", 0)), int(item.get("visitors", 0)), int(item.get("likes", 0))

    articles = {s: triple(_moto_item(table, f"A#{s}", "TOTAL")) for s in slugs}
    site = {d: triple(_moto_item(table, "SITE", f"D#{d}")) for d in days}
    return {s: c for s, c in articles.items() if any(c)}, {d: c for d, c in site.items() if any(c)}


# -- queries -------------------------------------------------------------------------------------------------


def query_paths(day: str, site: str) -> dict[str, str]:
    last = dt.date.fromisoformat(day)
    first = last - dt.timedelta(days=30)
    return {
        "article": f"/statistics/{workload.slug(1)}?site={site}",
        "site_all_time": f"/statistics?site={site}",
        "top_all_time": f"/statistics?site={site}&top=10",
        "range_top": f"/statistics?site={site}&from={first.isoformat()}&to={last.isoformat()}&top=10",
    }


def measure_queries(backend: Any, meter: Any, day: str, site: str, label: str) -> dict[str, float]:
    """RRU of each query through the real query handler (the dashboard is public in the bench's backend)."""
    from twin.server import api_event

    rru: dict[str, float] = {}
    headers = {"host": "127.0.0.1", "user-agent": workload.BROWSERS[0]}
    for name, path in query_paths(day, site).items():
        phase = f"query:{label}:{name}"
        meter.phase = phase
        out = backend.invoke("query", api_event("GET", path, headers, b"", "203.0.113.9"))
        if out.get("statusCode") != 200:
            raise RuntimeError(f"{path} returned {out.get('statusCode')}: {out.get('body')}")
        rru[name] = meter.tallies[phase].rru
    meter.phase = "other"
    return rru


def grow_history(table_name: str, site: str, day: str, factor_days: int = 365, articles: int = 20_000,
                 per_day: int = 50, seed: int = 11) -> dict[str, int]:  # fmt: skip
    """Make the store a year older and much wider, by cloning items the real aggregator wrote (so their shape is
    the current one): `factor_days` days of site and article day items before the 31-day query window, and
    `articles` more ranked all-time article items. Written into moto directly (uncounted). The window
    itself is left as it is, so a change in a query's cost comes from history alone."""
    from hitstream.storage import schema

    table = _moto_table(table_name)
    rng = random.Random(seed)
    site_pk = schema.site_pk(site)
    items = list(table.all_items())
    site_day = next((i for i in items if i.hash_key.value == site_pk and str(i.range_key.value).startswith("D#")), None)
    art_total = next(
        (i for i in items if i.hash_key.value.startswith("A#") and i.range_key.value == schema.TOTAL), None
    )
    art_day = next((i for i in items if i.hash_key.value.startswith("A#") and str(i.range_key.value).startswith("D#")),
                   None)  # fmt: skip
    if site_day is None or art_total is None or art_day is None:
        return {"items": 0, "days": 0, "articles": 0}
    window_start = dt.date.fromisoformat(day) - dt.timedelta(days=30)
    written = 0

    def put(template: Any, pk: str, sk: str, slug: str | None, rank: str | None, hits: int) -> None:
        nonlocal written
        attrs = {k: copy.deepcopy(v.to_json()) for k, v in template.attrs.items()}
        attrs[schema.PK], attrs[schema.SK] = {"S": pk}, {"S": sk}
        if slug is not None and "slug" in attrs:
            attrs["slug"] = {"S": slug}
        if rank is not None and schema.RANK_PK in attrs:
            attrs[schema.RANK_PK] = {"S": rank}
        attrs["hits"] = {"N": str(hits)}
        if "visitors" in attrs:
            attrs["visitors"] = {"N": str(max(1, hits * 4 // 5))}
        if schema.RANK_SK in attrs:
            attrs[schema.RANK_SK] = {"N": str(schema.bucket(hits))}
        _put(table, attrs)
        written += 1

    for i in range(articles):
        slug = f"history-{i:06d}"
        put(art_total, schema.article_pk(site, slug), schema.TOTAL, slug, None, rng.randint(1, 500))
    for d in range(1, factor_days + 1):
        day_d = (window_start - dt.timedelta(days=d)).isoformat()
        put(site_day, site_pk, schema.day_sk(day_d), None, None, rng.randint(1, 20_000))
        for j in range(per_day):
            slug = f"history-{rng.randrange(articles):06d}"
            put(art_day, schema.article_pk(site, slug), schema.day_sk(day_d), slug, schema.day_rank(site, day_d),
                rng.randint(1, 200 - j))  # fmt: skip
    return {"items": written, "days": factor_days, "articles": articles}


def _put(table: Any, attrs: dict[str, Any]) -> None:
    from moto.core import DEFAULT_ACCOUNT_ID
    from moto.dynamodb.models import dynamodb_backends

    dynamodb_backends[DEFAULT_ACCOUNT_ID]["us-east-1"].put_item(table.name, attrs, overwrite=True)
