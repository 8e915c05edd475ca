"""Query: totals, daily series and top articles from GetItem and Query only; never a Scan."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from hitstream import days
from hitstream.storage import clients
from hitstream.storage.schema import (
    DIMENSIONS,
    PAIR,
    PK,
    RANK_INDEX,
    RANK_SK,
    SK,
    TOTAL,
    all_time_rank,
    article_pk,
    bucket_bounds,
    day_rank,
    day_sk,
    site_pk,
    slug_of,
)

FIELDS = ("hits", "visitors", "likes")
TOP_PAGE = 25
# The most a top-N request reads, whatever the data holds: index pages over all partitions, and candidates read
# exactly. Past these (thousands of articles tied at the threshold), ties are broken by slug among those read.
MAX_INDEX_PAGES = 60


def max_exact(n: int) -> int:
    return 2 * n + 10


@dataclass(frozen=True)
class Range:
    first: dt.date
    last: dt.date

    @property
    def days(self) -> list[str]:
        return days.days_between(self.first, self.last)


def _n(item: dict[str, Any], name: str) -> int:
    value = item.get(name)
    return int(value["N"]) if value else 0


def _counts(item: dict[str, Any]) -> dict[str, int]:
    return {name: _n(item, name) for name in FIELDS}


class Reader:
    def __init__(self, table: str) -> None:
        self.table = table

    @property
    def db(self) -> Any:
        return clients.dynamodb()

    def _get(self, pk: str, sk: str) -> dict[str, Any]:
        return self.db.get_item(TableName=self.table, Key={PK: {"S": pk}, SK: {"S": sk}}).get("Item", {})

    def _query(self, **kwargs: Any) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = []
        while True:
            page = self.db.query(TableName=self.table, **kwargs)
            items.extend(page.get("Items", []))
            if "LastEvaluatedKey" not in page:
                return items
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    def _days(self, pk: str, rng: Range) -> list[dict[str, Any]]:
        return self._query(
            KeyConditionExpression="pk = :pk AND sk BETWEEN :a AND :b",
            ExpressionAttributeValues={
                ":pk": {"S": pk},
                ":a": {"S": day_sk(rng.first.isoformat())},
                ":b": {"S": day_sk(rng.last.isoformat())},
            },
        )

    @staticmethod
    def _daily(items: list[dict[str, Any]], rng: Range) -> list[dict[str, Any]]:
        by_day = {item[SK]["S"][2:]: _counts(item) for item in items}
        return [{"date": day, **by_day.get(day, dict.fromkeys(FIELDS, 0))} for day in rng.days]

    def site(
        self,
        site: str,
        rng: Range | None = None,
        top: int | None = None,
        breakdown: tuple[str, ...] = (),
        limit: int = 10,
    ) -> dict[str, Any]:
        total = self._get(site_pk(site), TOTAL)
        out: dict[str, Any] = {**_counts(total), "articles": _n(total, "articles")}
        if rng is not None:
            items = self._days(site_pk(site), rng)
            daily = self._daily(items, rng)
            out.update({name: sum(d[name] for d in daily) for name in FIELDS})
            out["daily"] = daily
            if breakdown:
                out["breakdown"] = breakdowns(items, breakdown, limit)
        if top is not None:
            out["top"] = self.top_all_time(site, top) if rng is None else self.top_in_range(site, top, rng)
        return out

    def article(
        self, site: str, slug: str, rng: Range | None = None, breakdown: tuple[str, ...] = (), limit: int = 10
    ) -> dict[str, Any]:
        if rng is None:
            return {"slug": slug, **_counts(self._get(article_pk(site, slug), TOTAL))}
        items = self._days(article_pk(site, slug), rng)
        daily = self._daily(items, rng)
        out: dict[str, Any] = {"slug": slug, **{name: sum(d[name] for d in daily) for name in FIELDS}, "daily": daily}
        if breakdown:
            out["breakdown"] = breakdowns(items, breakdown, limit)
        return out

    def sites(self, names: tuple[str, ...]) -> list[dict[str, Any]]:
        """All-time totals of every listed site, in the configured order (BatchGetItem, 100 keys a call)."""
        found: dict[str, dict[str, Any]] = {}
        for i in range(0, len(names), 100):
            keys = [{PK: {"S": site_pk(s)}, SK: {"S": TOTAL}} for s in names[i : i + 100]]
            for item in self._batch_get(keys):
                found[item[PK]["S"][2:]] = item
        return [{"site": s, **_counts(found.get(s, {})), "articles": _n(found.get(s, {}), "articles")} for s in names]

    def _batch_get(self, keys: list[dict[str, Any]]) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = []
        request: dict[str, Any] = {self.table: {"Keys": keys}}
        while request:
            got = self.db.batch_get_item(RequestItems=request)
            items.extend(got.get("Responses", {}).get(self.table, []))
            request = got.get("UnprocessedKeys") or {}
        return items

    def _ranked(self, rank: str, limit: int, start: dict[str, Any] | None = None) -> dict[str, Any]:
        kwargs: dict[str, Any] = {
            "TableName": self.table,
            "IndexName": RANK_INDEX,
            "KeyConditionExpression": "rk = :rk",
            "ExpressionAttributeValues": {":rk": {"S": rank}},
            "ScanIndexForward": False,
            "Limit": limit,
        }
        if start:
            kwargs["ExclusiveStartKey"] = start
        return self.db.query(**kwargs)

    def _totals(self, site: str, slugs: list[str]) -> dict[str, dict[str, Any]]:
        """All-time rows of these articles, by BatchGetItem."""
        rows: dict[str, dict[str, Any]] = {}
        for i in range(0, len(slugs), 100):
            keys = [{PK: {"S": article_pk(site, s)}, SK: {"S": TOTAL}} for s in slugs[i : i + 100]]
            for item in self._batch_get(keys):
                slug = slug_of(item[PK]["S"])
                rows[slug] = {"slug": slug, **_counts(item)}
        return rows

    def top_all_time(self, site: str, n: int) -> list[dict[str, Any]]:
        return self._top(n, [all_time_rank(site)], lambda slugs: self._totals(site, slugs))

    def top_in_range(self, site: str, n: int, rng: Range) -> list[dict[str, Any]]:
        return self._top(
            n, [day_rank(site, d) for d in rng.days], lambda slugs: {s: self.article(site, s, rng) for s in slugs}
        )

    def _top(
        self, n: int, partitions: list[str], exact: Callable[[list[str]], dict[str, dict[str, Any]]]
    ) -> list[dict[str, Any]]:
        """Exact top-n by hits summed over rank partitions (one per day, or the all-time one).

        Threshold algorithm on hit buckets: each partition of the keys-only "rank" index is read from its highest
        bucket down. An article seen in a partition has between its bucket's bounds there; one not seen has at most
        the upper bound of the partition's last bucket read (0 once it is read to the end). Reading stops when n
        articles are sure to beat everything never seen and few seen ones stay undecided; only those are then
        read exactly (GetItem/Query) and ranked, ties by slug.
        """
        seen: dict[str, dict[str, int]] = {}
        floor = dict.fromkeys(partitions, 0)
        cursor: dict[str, dict[str, Any] | None] = dict.fromkeys(partitions)
        open_parts = set(partitions)
        page_size = max(n + 1, TOP_PAGE)

        pages = 0

        def read(part: str) -> None:
            nonlocal pages
            pages += 1
            page = self._ranked(part, page_size, cursor[part])
            for item in page.get("Items", []):
                seen.setdefault(slug_of(item[PK]["S"]), {})[part] = floor[part] = _n(item, RANK_SK)
            cursor[part] = page.get("LastEvaluatedKey")
            if cursor[part] is None:
                open_parts.discard(part)
                floor[part] = 0

        def bounds() -> tuple[int, list[str]]:
            low = {s: sum(bucket_bounds(b)[0] for b in per.values()) for s, per in seen.items()}
            ranked = sorted(low.values(), reverse=True)
            kth = ranked[n - 1] if len(ranked) >= n else 0
            undecided = [
                s
                for s, per in seen.items()
                if sum(
                    bucket_bounds(per[p] if p in per else (floor[p] if p in open_parts else 0))[1] for p in partitions
                )
                >= kth
            ]
            return kth, undecided

        for part in partitions:
            read(part)
        kth, undecided = bounds()
        while (
            open_parts
            and pages < MAX_INDEX_PAGES
            and (sum(bucket_bounds(floor[p])[1] for p in open_parts) >= max(kth, 1) or len(undecided) > 2 * n + 10)
        ):
            read(max(open_parts, key=lambda p: floor[p]))
            kth, undecided = bounds()
        if len(undecided) > max_exact(n):  # many ties: the surest candidates first, ties by slug
            low = {s: sum(bucket_bounds(b)[0] for b in seen[s].values()) for s in undecided}
            undecided = sorted(undecided, key=lambda s: (-low[s], s))[: max_exact(n)]
        rows = [r for r in exact(sorted(undecided)).values() if r["hits"] > 0]
        rows.sort(key=lambda r: (-r["hits"], r["slug"]))
        return [{k: r[k] for k in ("slug", *FIELDS)} for r in rows[:n]]


def breakdowns(items: list[dict[str, Any]], dimensions: tuple[str, ...], limit: int) -> dict[str, list[dict[str, Any]]]:
    """Per dimension, the values summed over the day items: visitors, then hits, descending, then value."""
    out: dict[str, list[dict[str, Any]]] = {}
    for dimension in dimensions:
        prefix = f"b{DIMENSIONS[dimension]}:"
        totals: dict[str, list[int]] = {}
        for item in items:
            for name, value in item.items():
                if name.startswith(prefix) and "N" in value:
                    n = int(value["N"])
                    pair = totals.setdefault(name[len(prefix) :], [0, 0])
                    pair[0] += n // PAIR
                    pair[1] += n % PAIR
        rows = sorted(totals.items(), key=lambda kv: (-kv[1][0], -kv[1][1], kv[0]))[:limit]
        out[dimension] = [{"value": value, "visitors": v, "hits": h} for value, (v, h) in rows]
    return out
