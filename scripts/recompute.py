"""Recompute one UTC day's counters from the raw events table: `make recompute ARGS="--day YYYY-MM-DD"`.

Offline maintenance, for repairing a day whose counters are known to be wrong (a bug, a bad manual edit, a
batch that went to the DLQ). It reads every visitor-day item of the day from the events table and, for each
site (every listed site, or --site), rewrites:

  S#<site> / D#<day>          hits, visitors, likes, articles   absolute values (SET)
  S#<site> / D#<day>          breakdowns (b<code>:<value>, n<code>), see below
  A#<site>#<slug> / D#<day>   visitors, likes (and hits where they are known, see below)
  S#<site> / TOTAL, A#<site>#<slug> / TOTAL                     ADD (recomputed - stored day value), so all-time
                                                                stays the sum of the days

Each day item and its all-time item change in one transaction, conditioned on the day item still holding the
values read, so a concurrent aggregator write makes it re-read rather than lose an update. Running it twice
changes nothing the second time. Fences (binary attributes "f" + 6 characters) are never touched.

What the raw items hold, and so what can be recomputed (docs/decisions.md, "Recomputing a day"):
  * An events item is one visitor's day on one site: w (site code), h (hits), pv / lk (5-byte hashes of the
    articles viewed / liked), e (the entry's dimensions), s (slug of the last event). Site hits, visitors,
    likes, articles and breakdowns follow exactly.
  * Article visitors and likes need each hash mapped back to its slug. The names come from the stats table
    (the article items of that day and of all time, via the rank index) and from each item's `s`. A hash
    that none of them names (an article whose every record was lost) is reported; its article is not
    rewritten, though the site counters still count it.
  * There are no per-article hits in an events item, only the visitor's total h. Each visitor-day gave each
    article in its pv at least one hit, all h when pv holds one article, and at most h - (|pv| - 1); an
    article no one viewed had none. Article hits are kept as stored within those bounds and moved to the
    nearest bound outside them: exact where the bounds meet (most articles: most visitors read one a day),
    reported where they leave a choice. A visitor-day at the cap of distinct articles may have sent hits to
    any article, so on such a day there is no upper bound.
  * An article whose all-time item gets its first hits from a recompute (its records were lost) is counted
    once in S#<site> / TOTAL "articles", in the same transaction.
  * Breakdowns keep the values the site-day item holds (the aggregator kept the first ones it saw, up to a
    cap); every other value folds into "(other)", a new value joins only while there is room. Article-day
    sources are left as stored (they need per-article hits).
  * Otherwise S#<site> / TOTAL "articles" (articles ever seen) is not a sum of days and is left alone.
  * Run it only for a finished day whose stream records have all been folded (iterator age near zero):
    counting records that the aggregator has not folded yet would count them twice. Today is refused
    unless --force.
  * The events table has only a hash key ("<day>#<visitor id>"), so there is no Query by day: this is a Scan
    of the whole table (at most EVENT_TTL_DAYS of items) with a filter. The application itself never scans.

Against AWS it needs credentials and a region from the usual boto3 chain (AWS_PROFILE, AWS_REGION, ...) and
the table names, from --events-table/--stats-table or EVENTS_TABLE/STATS_TABLE, and the sites from --site or
SITES. Without table names it refuses to run: it touches nothing by default.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "functions"))

from hitstream import days, sites
from hitstream.config import DEFAULT_LOCAL_SITES, ConfigError, parse_sites
from hitstream.pipeline.aggregate import DEFAULT_DIMENSIONS, PAIR, VALUE_SLOTS, rerank
from hitstream.pipeline.aggregate import Delta as Counts  # the same four numbers, absolute here
from hitstream.pipeline.ingest import MAX_ARTICLES_PER_VISITOR_DAY, decode_dimensions
from hitstream.storage.schema import (
    DIMENSIONS,
    OTHER,
    PK,
    RANK_INDEX,
    SK,
    TOTAL,
    all_time_rank,
    article_pk,
    day_rank,
    day_sk,
    site_code,
    site_pk,
    slug_hash,
    slug_of,
)

FIELDS = ("hits", "visitors", "likes")
MAX_TRIES = 5
# An article-day item's `born` names the record that created it (aggregate.births counts it once in the site's
# "articles"). Recompute marks items it brings to life with a value no record matches, so none counts them again.
RECOMPUTED_BIRTH = "recompute|"


@dataclass
class SiteDay:
    """One site's day, as its raw visitor-day items say."""

    counts: Counts = field(default_factory=Counts)
    articles: dict[str, Counts] = field(default_factory=dict)  # resolved slugs
    # What the raw items allow for an article's hits: (at least, at most); None: no upper bound is known
    hit_bounds: dict[str, tuple[int, int | None]] = field(default_factory=dict)
    viewed: set[bytes] = field(default_factory=set)  # every article hash viewed that day
    unresolved: set[bytes] = field(default_factory=set)  # hashes that no known slug has
    visitor_days: int = 0
    capped: int = 0  # visitor-days at the cap of distinct articles: their extra hits went anywhere
    breakdown: dict[tuple[str, str], list[int]] = field(default_factory=dict)  # (code, value) -> [visitors, hits]


def _n(item: dict[str, Any], name: str) -> int:
    value = item.get(name)
    return int(value["N"]) if value and "N" in value else 0


def _hashes(item: dict[str, Any], name: str) -> set[bytes]:
    value = item.get(name)
    return {bytes(v) for v in value["BS"]} if value and "BS" in value else set()


def _s(item: dict[str, Any], name: str) -> str:
    value = item.get(name)
    return str(value["S"]) if value and "S" in value else ""


def scan_day(db: Any, events_table: str, day: str) -> list[dict[str, Any]]:
    """Every visitor-day item of the day. A Scan: the events table has no key to Query a day by."""
    items: list[dict[str, Any]] = []
    kwargs: dict[str, Any] = {
        "TableName": events_table,
        "FilterExpression": "begins_with(pk, :prefix)",
        "ExpressionAttributeValues": {":prefix": {"S": f"{day}#"}},
        "ConsistentRead": True,
    }
    while True:
        page = db.scan(**kwargs)
        items.extend(page.get("Items", []))
        if "LastEvaluatedKey" not in page:
            return items
        kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]


def names_for(slugs: set[str]) -> dict[bytes, str]:
    """hash -> slug; a hash two known slugs share (about 1 in 10^12 per pair) names neither."""
    names: dict[bytes, str] = {}
    clashes: set[bytes] = set()
    for slug in sorted(slugs):
        h = slug_hash(slug)
        if h in names:
            clashes.add(h)
        names[h] = slug
    return {h: s for h, s in names.items() if h not in clashes}


def recompute(items: list[dict[str, Any]], names: dict[bytes, str]) -> SiteDay:
    out = SiteDay()
    low: dict[str, int] = {}
    high: dict[str, int] = {}
    for item in items:
        out.visitor_days += 1
        hits, viewed, liked = _n(item, "h"), _hashes(item, "pv"), _hashes(item, "lk")
        out.counts.hits += hits
        out.counts.visitors += int(bool(viewed))
        out.counts.likes += len(liked)
        out.capped += int(len(viewed) >= MAX_ARTICLES_PER_VISITOR_DAY)
        out.viewed |= viewed
        for h in viewed | liked:
            slug = names.get(h)
            if slug is None:
                out.unresolved.add(h)
                continue
            counts = out.articles.setdefault(slug, Counts())
            counts.visitors += int(h in viewed)
            counts.likes += int(h in liked)
            if h in viewed:
                # Every article this visitor viewed had at least one of its h hits: this one had at least
                # one (all of them when it is the only one) and at most what the others leave.
                low[slug] = low.get(slug, 0) + (hits if len(viewed) == 1 else 1)
                high[slug] = high.get(slug, 0) + hits - (len(viewed) - 1)
        if viewed:  # the visitor's first hit of the day made it a visitor, from its entry's values
            entry = decode_dimensions(_s(item, "e"))
            if len(entry) != len(DEFAULT_DIMENSIONS):
                entry = DEFAULT_DIMENSIONS
            for code, value in zip(DIMENSIONS.values(), entry, strict=True):
                pair = out.breakdown.setdefault((code, value), [0, 0])
                pair[0] += 1
                pair[1] += hits
    # Past the cap of distinct articles, a visitor's hits go to articles its pv does not hold: no upper bound.
    out.hit_bounds = {slug: (low.get(slug, 0), None if out.capped else high.get(slug, 0)) for slug in out.articles}
    return out


def breakdown_target(counts: dict[tuple[str, str], list[int]], stored: dict[str, Any]) -> dict[str, int]:
    """The breakdown attributes a site-day item should hold: b<code>:<value> pairs and n<code> counts.

    The values the item holds stay (the aggregator kept the first it saw, under the cap); every other value
    counts in OTHER, except while the item has no OTHER yet: then the aggregator never folded a value away,
    so an unknown value was lost, and it joins while there is room (busiest first, up to VALUE_SLOTS values of
    their own; OTHER is not counted in n<code>). On a correct item this is exactly what it holds: a recompute writes nothing.
    """
    by_code: dict[str, dict[str, list[int]]] = {}
    for (code, value), pair in counts.items():
        by_code.setdefault(code, {})[value] = pair
    want: dict[str, int] = {}
    for code in sorted(set(DIMENSIONS.values()) | {name[1] for name in stored if _is_breakdown(name)}):
        pairs = by_code.get(code, {})
        present = {name[3:] for name in stored if name.startswith(f"b{code}:")}
        kept = {v for v in present if v in pairs or v == OTHER}
        fresh = sorted((v for v in pairs if v not in kept), key=lambda v: (-pairs[v][0], -pairs[v][1], v))
        # With OTHER stored the aggregator has been folding values away, and any value not kept is one of
        # those. Without it, a value not kept was lost (a DLQ batch): it joins while there is room.
        room = 0 if OTHER in present else VALUE_SLOTS - len(kept - {OTHER})
        kept |= set(fresh[: max(0, room)])
        other = [0, 0]
        for value in fresh[max(0, room) :]:
            other = [other[0] + pairs[value][0], other[1] + pairs[value][1]]
        for value in sorted(kept):
            v, h = pairs.get(value, [0, 0])
            if value == OTHER:
                v, h = v + other[0], h + other[1]
            if v or h:
                want[f"b{code}:{value}"] = v * PAIR + h
        held = sum(1 for name in want if name.startswith(f"b{code}:") and name != f"b{code}:{OTHER}")
        if held or f"b{code}:{OTHER}" in want:
            want[f"n{code}"] = held
    return want


def _is_breakdown(name: str) -> bool:
    return (name[:1] == "b" and name[2:3] == ":") or (len(name) == 2 and name[0] == "n")


class Repair:
    def __init__(self, db: Any, stats_table: str, site: str, day: str, *, dry_run: bool = False) -> None:
        self.db, self.table, self.site, self.day, self.dry_run = db, stats_table, site, day, dry_run
        self.changes: list[dict[str, Any]] = []

    def _get(self, pk: str, sk: str) -> dict[str, Any]:
        got = self.db.get_item(TableName=self.table, Key={PK: {"S": pk}, SK: {"S": sk}}, ConsistentRead=True)
        item: dict[str, Any] = got.get("Item", {})
        return item

    def ranked_slugs(self, rank: str) -> set[str]:
        """Articles of one rank partition: those with a day item (or all-time item) holding hits. Keys only."""
        slugs: set[str] = set()
        kwargs: dict[str, Any] = {
            "TableName": self.table,
            "IndexName": RANK_INDEX,
            "KeyConditionExpression": "rk = :rk",
            "ExpressionAttributeValues": {":rk": {"S": rank}},
        }
        while True:
            page = self.db.query(**kwargs)
            slugs.update(slug_of(i[PK]["S"]) for i in page.get("Items", []))
            if "LastEvaluatedKey" not in page:
                return slugs
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    def fix_article(self, slug: str, target: Counts, bounds: tuple[int, int | None]) -> int:
        """Make the article's day item hold `target`, its hits as stored but within `bounds`; returns its hits."""
        pk = article_pk(self.site, slug)
        for _ in range(MAX_TRIES):
            stored = self._get(pk, day_sk(self.day))
            have = {name: _n(stored, name) for name in FIELDS}
            want = {name: getattr(target, name) for name in FIELDS}
            low, high = bounds
            want["hits"] = max(low, have["hits"] if high is None else min(high, have["hits"]))
            born: dict[str, Any] = {}
            removes: list[str] = []
            if want["hits"] and "born" not in stored:
                born["born"] = {"S": RECOMPUTED_BIRTH}
            if not want["hits"] and "born" in stored:  # a later first hit makes it an article of the day again
                removes.append("born")
            # An all-time item that gets its first hits here (they were lost) is a new article of the site too.
            total = self._get(pk, TOTAL)
            birth = "born" not in total and _n(total, "hits") + want["hits"] - have["hits"] > 0
            if want == have and not born and not removes and not birth:
                return want["hits"]
            if self._try(pk, stored, have, want, born, removes, article=slug, birth=birth):
                return want["hits"]
        raise RuntimeError(f"{pk}/{day_sk(self.day)} kept changing; is the stream still being folded for this day?")

    def fix_site(self, target: Counts, breakdown: dict[tuple[str, str], list[int]]) -> None:
        pk = site_pk(self.site)
        names = (*FIELDS, "articles")
        for _ in range(MAX_TRIES):
            stored = self._get(pk, day_sk(self.day))
            have = {name: _n(stored, name) for name in names}
            want = {name: getattr(target, name) for name in names}
            stored_bd = {name: _n(stored, name) for name in stored if _is_breakdown(name)}
            want_bd = breakdown_target(breakdown, stored)
            extra_set = {name: {"N": str(v)} for name, v in want_bd.items() if stored_bd.get(name) != v}
            removes = sorted(name for name in stored_bd if name not in want_bd)
            if want == have and not extra_set and not removes:
                return
            if self._try(pk, stored, have, want, extra_set, removes, article=None):
                return
        raise RuntimeError(f"{pk}/{day_sk(self.day)} kept changing; is the stream still being folded for this day?")

    def _try(
        self,
        pk: str,
        stored: dict[str, Any],
        have: dict[str, int],
        want: dict[str, int],
        extra_set: dict[str, Any],
        removes: list[str],
        *,
        article: str | None,
        birth: bool = False,
    ) -> bool:
        """One conditioned transaction; False when the item changed since it was read (read again)."""
        change: dict[str, Any] = {"pk": pk, "day": self.day, "stored": have, "recomputed": want}
        touched = sorted({*extra_set, *removes})
        if touched:
            change["attributes"] = touched
        if birth:
            change["new_article"] = True  # counted in the site's all-time articles
        if self.dry_run:
            self.changes.append(change)
            return True
        try:
            self._write(pk, stored, have, want, extra_set, removes, article, birth)
        except self.db.exceptions.TransactionCanceledException:
            return False  # the aggregator wrote in between
        self.changes.append(change)
        return True

    def _write(
        self,
        pk: str,
        stored: dict[str, Any],
        have: dict[str, int],
        want: dict[str, int],
        extra_set: dict[str, Any],
        removes: list[str],
        article: str | None,
        birth: bool,
    ) -> None:
        names: dict[str, str] = {}
        values: dict[str, Any] = {}
        sets, checks = [], []
        # Every aggregator write to a day item moves one of these counters (a breakdown value comes with a hit),
        # so conditioning on them is conditioning on the item as read.
        for name, value in want.items():
            if name in stored:
                checks.append(f"{name} = :old_{name}")
                values[f":old_{name}"] = stored[name]
            else:
                checks.append(f"attribute_not_exists({name})")
            if value != have[name] or name in stored:
                sets.append(f"{name} = :new_{name}")
                values[f":new_{name}"] = {"N": str(value)}
        if article is not None:  # as the aggregator writes article items (the slug is in the key)
            extra_set = {**extra_set, "rk": {"S": day_rank(self.site, self.day)}}
        for i, (name, value) in enumerate(sorted(extra_set.items())):
            names[f"#x{i}"], values[f":x{i}"] = name, value
            sets.append(f"#x{i} = :x{i}")
        dropped = []
        for i, name in enumerate(removes):
            names[f"#r{i}"] = name
            dropped.append(f"#r{i}")
        day_update: dict[str, Any] = {
            "TableName": self.table,
            "Key": {PK: {"S": pk}, SK: {"S": day_sk(self.day)}},
            "UpdateExpression": "SET " + ", ".join(sets) + (" REMOVE " + ", ".join(dropped) if dropped else ""),
            "ConditionExpression": " AND ".join(checks),
            "ExpressionAttributeValues": values,
        }
        if names:
            day_update["ExpressionAttributeNames"] = names
        items: list[dict[str, Any]] = [{"Update": day_update}]
        adds = {name: want[name] - have[name] for name in FIELDS if want[name] != have[name]}
        total: dict[str, Any] = {"TableName": self.table, "Key": {PK: {"S": pk}, SK: {"S": TOTAL}}}
        total_values: dict[str, Any] = {f":{n}": {"N": str(d)} for n, d in adds.items()}
        total_sets = []
        if article is not None and (adds or birth):
            total_sets.append("rk = :rk")
            total_values[":rk"] = {"S": all_time_rank(self.site)}
        if birth:  # only if no record has made it an article meanwhile (then it is counted already)
            total_sets.append("born = :born")
            total_values[":born"] = {"S": RECOMPUTED_BIRTH}
            total["ConditionExpression"] = "attribute_not_exists(born)"
        if total_values:
            total["UpdateExpression"] = " ".join(
                part
                for part in (
                    "SET " + ", ".join(total_sets) if total_sets else "",
                    "ADD " + ", ".join(f"{n} :{n}" for n in adds) if adds else "",
                )
                if part
            )
            total["ExpressionAttributeValues"] = total_values
            items.append({"Update": total})
        if birth:
            items.append(
                {
                    "Update": {
                        "TableName": self.table,
                        "Key": {PK: {"S": site_pk(self.site)}, SK: {"S": TOTAL}},
                        "UpdateExpression": "ADD articles :one",
                        "ExpressionAttributeValues": {":one": {"N": "1"}},
                    }
                }
            )
        self.db.transact_write_items(TransactItems=items)
        if article is not None:  # keep the rank buckets in step with the hits just written
            for sk in (day_sk(self.day), TOTAL):
                key = {PK: {"S": pk}, SK: {"S": sk}}
                item = self.db.get_item(TableName=self.table, Key=key, ConsistentRead=True).get("Item", {})
                rerank(self.db.update_item, self.table, key, item)


def run_site(
    db: Any, stats_table: str, site: str, day: str, items: list[dict[str, Any]], *, dry_run: bool = False
) -> dict[str, Any]:
    repair = Repair(db, stats_table, site, day, dry_run=dry_run)
    stored_today = repair.ranked_slugs(day_rank(site, day))
    known = stored_today | repair.ranked_slugs(all_time_rank(site)) | {_s(i, "s") for i in items}
    raw = recompute(items, names_for({s for s in known if s}))
    held: dict[str, int] = {}  # article -> the hits its day item holds after the repair
    undetermined: dict[str, list[int | None]] = {}  # article -> the hit bounds that leave a choice
    for slug in sorted(set(raw.articles) | stored_today):
        # An article no one viewed had no hits, unless someone went past the cap (then it may have had any).
        low, high = raw.hit_bounds.get(slug, (0, None if raw.capped else 0))
        held[slug] = repair.fix_article(slug, raw.articles.get(slug, Counts()), (low, high))
        if high is None or low < high:
            undetermined[slug] = [low, high]
    # The site's articles of the day: every article someone viewed, and any other article still holding hits.
    raw.counts.articles = len(raw.viewed | {slug_hash(s) for s, h in held.items() if h > 0})
    repair.fix_site(raw.counts, raw.breakdown)
    warnings = []
    if undetermined:
        why = (
            f"{raw.capped} visitor-days went past {MAX_ARTICLES_PER_VISITOR_DAY} articles"
            if raw.capped
            else "visitors who read several articles that day split their hits in ways the raw items do not record"
        )
        warnings.append(
            f"hits of {len(undetermined)} articles are not determined by the raw items ({why}): kept as stored "
            f"within the bounds the items allow: {', '.join(list(undetermined)[:20])}"
        )
    if raw.unresolved:
        warnings.append(
            f"{len(raw.unresolved)} articles viewed or liked that day have no known slug (every record of them was lost): "
            "their article items were not rewritten; the site's counters of the day include them, its all-time "
            "number of articles does not"
        )
    return {
        "site": site,
        "visitor_days": raw.visitor_days,
        "counts": {name: getattr(raw.counts, name) for name in (*FIELDS, "articles")},
        "articles": len(raw.articles),
        "hits_undetermined": undetermined,  # [at least, at most (null: no bound)]
        "changed": repair.changes,
        "warnings": warnings,
    }


def run(
    db: Any, events_table: str, stats_table: str, day: str, site_names: tuple[str, ...], *, dry_run: bool = False
) -> dict[str, Any]:
    by_code: dict[str, list[dict[str, Any]]] = {}
    for item in scan_day(db, events_table, day):
        by_code.setdefault(_s(item, "w"), []).append(item)
    reports = [
        run_site(db, stats_table, site, day, by_code.pop(site_code(site), []), dry_run=dry_run) for site in site_names
    ]
    report: dict[str, Any] = {
        "day": day,
        "dry_run": dry_run,
        "sites": reports,
        "changed": [c for r in reports for c in r["changed"]],
        "warnings": [f"{r['site']}: {w}" for r in reports for w in r["warnings"]],
    }
    if by_code:
        report["other_items"] = sum(len(items) for items in by_code.values())  # sites not recomputed in this run
    return report


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="make recompute ARGS=...",
        description="Recompute one UTC day's counters from the raw events table (see docs/security.md).",
    )
    parser.add_argument("--day", required=True, help="the UTC day, YYYY-MM-DD")
    parser.add_argument(
        "--site", action="append", default=[], help="a site to recompute (repeatable); default: every site in $SITES"
    )
    parser.add_argument("--events-table", default=os.environ.get("EVENTS_TABLE"), help="default: $EVENTS_TABLE")
    parser.add_argument("--stats-table", default=os.environ.get("STATS_TABLE"), help="default: $STATS_TABLE")
    parser.add_argument("--dry-run", action="store_true", help="report what would change, write nothing")
    parser.add_argument("--force", action="store_true", help="allow today (only once its stream is folded)")
    args = parser.parse_args(argv)
    try:
        days.parse_day(args.day)
    except ValueError:
        parser.error(f"--day must be YYYY-MM-DD, got {args.day!r}")
    if not args.events_table or not args.stats_table:
        parser.error("table names are required: --events-table/--stats-table or EVENTS_TABLE/STATS_TABLE")
    if args.day >= days.today(time.time()) and not args.force:
        parser.error(f"{args.day} is not over yet (UTC); its stream may still be folding. Use --force to insist.")
    try:
        listed = parse_sites(os.environ["SITES"]) if os.environ.get("SITES", "").strip() else DEFAULT_LOCAL_SITES
    except ConfigError as exc:
        parser.error(str(exc))
    chosen = []
    for raw in args.site:
        site = sites.normalize(raw)
        if site is None:
            parser.error(f"--site must be a hostname, got {raw!r}")
        if site not in chosen:
            chosen.append(site)
    args.sites = tuple(chosen) or listed
    return args


def main(argv: list[str] | None = None, db: Any = None) -> dict[str, Any]:
    args = parse_args(argv)
    if db is None:
        import boto3

        db = boto3.client("dynamodb")
    report = run(db, args.events_table, args.stats_table, args.day, args.sites, dry_run=args.dry_run)
    print(json.dumps(report, indent=2))
    return report


if __name__ == "__main__":
    main()
