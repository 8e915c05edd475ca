"""A reference model of what hitstream must report, computed straight from the accepted events."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass


@dataclass(frozen=True)
class Accepted:
    kind: str  # "hit" | "like"
    slug: str
    visitor: str
    day: str


class Model:
    def __init__(self, events: list[Accepted]) -> None:
        self.hits: dict[tuple[str, str], int] = defaultdict(int)  # (slug, day)
        self.viewers: dict[tuple[str, str], set[str]] = defaultdict(set)
        self.site_viewers: dict[str, set[str]] = defaultdict(set)
        self.likers: dict[tuple[str, str], set[str]] = defaultdict(set)
        for e in events:
            if e.kind == "hit":
                self.hits[(e.slug, e.day)] += 1
                self.viewers[(e.slug, e.day)].add(e.visitor)
                self.site_viewers[e.day].add(e.visitor)
            else:
                self.likers[(e.slug, e.day)].add(e.visitor)
        self.slugs = {s for s, _ in self.hits} | {s for s, _ in self.likers}

    def article(self, slug: str, days: list[str] | None = None) -> dict[str, int]:
        keep = (lambda d: True) if days is None else set(days).__contains__
        return {
            "hits": sum(n for (s, d), n in self.hits.items() if s == slug and keep(d)),
            "visitors": sum(len(v) for (s, d), v in self.viewers.items() if s == slug and keep(d)),
            "likes": sum(len(v) for (s, d), v in self.likers.items() if s == slug and keep(d)),
        }

    def site(self, days: list[str] | None = None) -> dict[str, int]:
        keep = (lambda d: True) if days is None else set(days).__contains__
        return {
            "hits": sum(n for (_, d), n in self.hits.items() if keep(d)),
            "visitors": sum(len(v) for d, v in self.site_viewers.items() if keep(d)),
            "likes": sum(len(v) for (_, d), v in self.likers.items() if keep(d)),
            "articles": len({s for s, _ in self.hits}),
        }

    def day(self, day: str) -> dict[str, int]:
        s = self.site([day])
        return {"date": day, "hits": s["hits"], "visitors": s["visitors"], "likes": s["likes"]}  # type: ignore[dict-item]

    def top(self, n: int, days: list[str] | None = None) -> list[dict[str, object]]:
        rows = [{"slug": s, **self.article(s, days)} for s in self.slugs]
        rows = [r for r in rows if r["hits"]]
        rows.sort(key=lambda r: (-int(r["hits"]), str(r["slug"])))  # type: ignore[call-overload]
        return rows[:n]
