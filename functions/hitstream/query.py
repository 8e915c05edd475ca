"""Query: totals, daily series and top articles from GetItem and Query only; never a Scan."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from . import clients, days
from .schema import ALL_TIME_RANK, PK, RANK_INDEX, SITE, SK, TOTAL, article_pk, day_rank, day_sk

FIELDS = ("hits", "visitors", "likes")
TOP_PAGE = 25


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

    def _daily(self, pk: str, rng: Range) -> list[dict[str, Any]]:
        items = self._query(
            KeyConditionExpression="pk = :pk AND sk BETWEEN :a AND :b",
            ExpressionAttributeValues={
                ":pk": {"S": pk},
                ":a": {"S": day_sk(rng.first.isoformat())},
                ":b": {"S": day_sk(rng.last.isoformat())},
            },
        )
        by_day = {item[SK]["S"][2:]: _counts(item) for item in items}
        return [{"date": day, **by_day.get(day, dict.fromkeys(FIELDS, 0))} for day in rng.days]

    def site(self, rng: Range | None = None, top: int | None = None) -> dict[str, Any]:
        total = self._get(SITE, TOTAL)
        out: dict[str, Any] = {**_counts(total), "articles": _n(total, "articles")}
        if rng is not None:
            daily = self._daily(SITE, rng)
            out.update({name: sum(d[name] for d in daily) for name in FIELDS})
            out["daily"] = daily
        if top is not None:
            out["top"] = self.top_all_time(top) if rng is None else self.top_in_range(top, rng)
        return out

    def article(self, slug: str, rng: Range | None = None) -> dict[str, Any]:
        if rng is None:
            return {"slug": slug, **_counts(self._get(article_pk(slug), TOTAL))}
        daily = self._daily(article_pk(slug), rng)
        return {"slug": slug, **{name: sum(d[name] for d in daily) for name in FIELDS}, "daily": daily}

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

    def top_all_time(self, n: int) -> list[dict[str, Any]]:
        rows: list[dict[str, Any]] = []
        start = None
        # Read past n while the n-th hit count is tied, so ties break by slug, deterministically.
        while True:
            page = self._ranked(ALL_TIME_RANK, n + 1, start)
            rows.extend({"slug": i["slug"]["S"], **_counts(i)} for i in page.get("Items", []))
            start = page.get("LastEvaluatedKey")
            if not start or (len(rows) > n and rows[-1]["hits"] < rows[n - 1]["hits"]):
                break
        rows.sort(key=lambda r: (-r["hits"], r["slug"]))
        return rows[:n]

    def top_in_range(self, n: int, rng: Range) -> list[dict[str, Any]]:
        """Exact top-n by hits summed over the range, reading each day's ranking only as deep as needed.

        Threshold algorithm: each day's GSI partition is read in descending hits. An article not yet seen on
        a day can have at most that day's last-read hits there (0 once the day is read to the end), which
        bounds every total. Reading stops once n articles beat the bound of every article never seen and
        few seen ones remain undecided; only those and the winners are then summed exactly.
        """
        day_list = rng.days
        seen: dict[str, dict[str, int]] = {}
        floor = dict.fromkeys(day_list, 0)
        cursor: dict[str, dict[str, Any] | None] = dict.fromkeys(day_list)
        open_days = set(day_list)
        page_size = max(n, TOP_PAGE)

        def read(day: str) -> None:
            page = self._ranked(day_rank(day), page_size, cursor[day])
            for item in page.get("Items", []):
                seen.setdefault(item["slug"]["S"], {})[day] = floor[day] = _n(item, "hits")
            cursor[day] = page.get("LastEvaluatedKey")
            if cursor[day] is None:
                open_days.discard(day)
                floor[day] = 0

        def bounds() -> tuple[int, list[str]]:
            lows = sorted((sum(v.values()) for v in seen.values()), reverse=True)
            kth = lows[n - 1] if len(lows) >= n else 0
            undecided = [
                slug
                for slug, per_day in seen.items()
                if any(d in open_days and d not in per_day for d in day_list)
                and sum(per_day.get(d, floor[d]) for d in day_list) >= kth
            ]
            return kth, undecided

        for day in day_list:
            read(day)
        kth, undecided = bounds()
        while open_days and (sum(floor.values()) >= kth or len(undecided) > 2 * n):
            read(max(open_days, key=lambda d: floor[d]))
            kth, undecided = bounds()

        exact = {slug: sum(per_day.values()) for slug, per_day in seen.items()}
        fetched = {slug: self.article(slug, rng) for slug in undecided}
        exact.update({slug: row["hits"] for slug, row in fetched.items()})
        winners = sorted((slug for slug, hits in exact.items() if hits > 0), key=lambda s: (-exact[s], s))[:n]
        rows = [fetched.get(slug) or self.article(slug, rng) for slug in winners]
        return [{k: r[k] for k in ("slug", *FIELDS)} for r in rows]
