"""Recompute one UTC day's counters from the raw events table: `make recompute ARGS="--day YYYY-MM-DD"`.

Offline maintenance, for repairing a day whose counters are known to be wrong (a bug, a bad manual edit, a
batch that went to the DLQ). It reads every visitor-day item of the day from the events table and rewrites:

  SITE / D#<day>      hits, visitors, likes, articles   as absolute values (SET)
  A#<slug> / D#<day>  hits, visitors, likes             as absolute values (SET)
  SITE / TOTAL, A#<slug> / TOTAL                         ADD (recomputed - stored day value), so all-time
                                                         stays the sum of the days

Each day item and its all-time item change in one transaction, conditioned on the day item still holding the
values read, so a concurrent aggregator write makes it re-read rather than lose an update. Running it twice
changes nothing the second time. The fence attributes (f#*, t#*) of the items are never touched.

Limits, said plainly:
  * The events table has only a hash key ("<day>#<visitor id>"), so there is no Query by day: this is a Scan of
    the whole table (at most EVENT_TTL_DAYS of items) with a filter. Fine for a maintenance command; the
    application itself never scans.
  * Raw items expire after EVENT_TTL_DAYS (30), so only the last 30 days can be recomputed.
  * Article hits come from the per-article attributes c#<slug> (written by ingest since they were added).
    A visitor-day item without them (older data), or past the 500-articles cap, holds hits that cannot be
    attributed to an article: on such a day the article hits are left as stored, and the output says so.
  * SITE / TOTAL "articles" (articles ever seen) is not a sum of days and is left alone.
  * Run it only for a finished day whose stream records have all been folded (iterator age near zero):
    counting records that the aggregator has not folded yet would count them twice. Today is refused
    unless --force.

Against AWS it needs credentials and a region from the usual boto3 chain (AWS_PROFILE, AWS_REGION, ...) and
the table names, from --events-table/--stats-table or EVENTS_TABLE/STATS_TABLE. Without table names it
refuses to run: it touches nothing by default.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "functions"))

from hitstream import days
from hitstream.aggregate import Delta as Counts  # the same four numbers, absolute here
from hitstream.aggregate import rerank
from hitstream.ingest import HITS_PREFIX
from hitstream.schema import (
    ALL_TIME_RANK,
    PK,
    RANK_INDEX,
    SITE,
    SK,
    TOTAL,
    article_pk,
    day_rank,
    day_sk,
)

FIELDS = ("hits", "visitors", "likes")
MAX_TRIES = 5


@dataclass
class Recomputed:
    site: Counts = field(default_factory=Counts)
    articles: dict[str, Counts] = field(default_factory=dict)
    visitor_days: int = 0
    unattributed_hits: int = 0  # hits in items without (complete) per-article counts

    @property
    def article_hits_known(self) -> bool:
        return self.unattributed_hits == 0


def _n(item: dict[str, Any], name: str) -> int:
    value = item.get(name)
    return int(value["N"]) if value else 0


def _strings(item: dict[str, Any], name: str) -> set[str]:
    value = item.get(name)
    return set(value["SS"]) if value else set()


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


def recompute(items: list[dict[str, Any]]) -> Recomputed:
    out = Recomputed()
    for item in items:
        out.visitor_days += 1
        hits, viewed, liked = _n(item, "h"), _strings(item, "pv"), _strings(item, "lk")
        per_article = {
            name[len(HITS_PREFIX) :]: int(v["N"]) for name, v in item.items() if name.startswith(HITS_PREFIX)
        }
        out.site.hits += hits
        out.site.visitors += int(bool(viewed))
        out.site.likes += len(liked)
        out.unattributed_hits += max(0, hits - sum(per_article.values()))
        for slug in viewed | liked | set(per_article):
            counts = out.articles.setdefault(slug, Counts())
            counts.hits += per_article.get(slug, 0)
            counts.visitors += int(slug in viewed)
            counts.likes += int(slug in liked)
    # The aggregator counts an article on a day when it gets its first hit there; a hit always puts the slug
    # into pv (past the cap, a visitor's extra articles were already counted by earlier visitors or not at all).
    out.site.articles = sum(1 for c in out.articles.values() if c.visitors)
    return out


class Repair:
    def __init__(self, db: Any, stats_table: str, day: str, *, dry_run: bool = False) -> None:
        self.db, self.table, self.day, self.dry_run = db, stats_table, day, dry_run
        self.changes: list[dict[str, Any]] = []

    def _get(self, pk: str, sk: str) -> dict[str, Any]:
        got = self.db.get_item(TableName=self.table, Key={PK: {"S": pk}, SK: {"S": sk}}, ConsistentRead=True)
        item: dict[str, Any] = got.get("Item", {})
        return item

    def stored_article_slugs(self) -> set[str]:
        """Articles with a day item holding hits (the sparse rank index lists exactly those)."""
        slugs: set[str] = set()
        kwargs: dict[str, Any] = {
            "TableName": self.table,
            "IndexName": RANK_INDEX,
            "KeyConditionExpression": "rk = :rk",
            "ExpressionAttributeValues": {":rk": {"S": day_rank(self.day)}},
        }
        while True:
            page = self.db.query(**kwargs)
            slugs.update(i[PK]["S"][2:] for i in page.get("Items", []))  # keys only: "A#<slug>"
            if "LastEvaluatedKey" not in page:
                return slugs
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    def fix(self, pk: str, target: Counts, *, slug: str | None = None, keep_hits: bool = False) -> None:
        """Make pk/D#day hold `target`, and move pk/TOTAL by the same difference; retried on a race."""
        names = (*FIELDS, "articles") if slug is None else FIELDS
        for _ in range(MAX_TRIES):
            stored = self._get(pk, day_sk(self.day))
            want = {name: getattr(target, name) for name in names}
            if keep_hits:
                want["hits"] = _n(stored, "hits")
            have = {name: _n(stored, name) for name in names}
            if want == have:
                return
            if self.dry_run:
                self.changes.append({"pk": pk, "day": self.day, "stored": have, "recomputed": want})
                return
            try:
                self._write(pk, stored, have, want, slug)
            except self.db.exceptions.TransactionCanceledException:
                continue  # the aggregator wrote in between: read again
            self.changes.append({"pk": pk, "day": self.day, "stored": have, "recomputed": want})
            return
        raise RuntimeError(f"{pk}/{day_sk(self.day)} kept changing; is the stream still being folded for this day?")

    def _write(
        self, pk: str, stored: dict[str, Any], have: dict[str, int], want: dict[str, int], slug: str | None
    ) -> None:
        values: dict[str, Any] = {}
        sets, checks = [], []
        for name, value in want.items():
            if name in stored:
                checks.append(f"{name} = :old_{name}")
                values[f":old_{name}"] = stored[name]
            else:
                checks.append(f"attribute_not_exists({name})")
            if value != have[name] or name in stored:
                sets.append(f"{name} = :new_{name}")
                values[f":new_{name}"] = {"N": str(value)}
        if slug is not None:
            sets += ["slug = :slug", "rk = :rk"]
            values[":slug"], values[":rk"] = {"S": slug}, {"S": day_rank(self.day)}
        day_update = {
            "TableName": self.table,
            "Key": {PK: {"S": pk}, SK: {"S": day_sk(self.day)}},
            "UpdateExpression": "SET " + ", ".join(sets),
            "ConditionExpression": " AND ".join(checks),
            "ExpressionAttributeValues": values,
        }
        items: list[dict[str, Any]] = [{"Update": day_update}]
        adds = {name: want[name] - have[name] for name in FIELDS if want[name] != have[name]}
        if adds:
            total_values: dict[str, Any] = {f":{n}": {"N": str(d)} for n, d in adds.items()}
            expression = "ADD " + ", ".join(f"{n} :{n}" for n in adds)
            if slug is not None:
                expression = "SET slug = :slug, rk = :rk " + expression
                total_values[":slug"], total_values[":rk"] = {"S": slug}, {"S": ALL_TIME_RANK}
            items.append(
                {
                    "Update": {
                        "TableName": self.table,
                        "Key": {PK: {"S": pk}, SK: {"S": TOTAL}},
                        "UpdateExpression": expression,
                        "ExpressionAttributeValues": total_values,
                    }
                }
            )
        self.db.transact_write_items(TransactItems=items)
        if slug is not None:  # keep the rank buckets in step with the hits just written
            for sk in (day_sk(self.day), TOTAL):
                key = {PK: {"S": pk}, SK: {"S": sk}}
                item = self.db.get_item(TableName=self.table, Key=key, ConsistentRead=True).get("Item", {})
                rerank(self.db.update_item, self.table, key, item)


def run(db: Any, events_table: str, stats_table: str, day: str, *, dry_run: bool = False) -> dict[str, Any]:
    raw = recompute(scan_day(db, events_table, day))
    repair = Repair(db, stats_table, day, dry_run=dry_run)
    keep_hits = not raw.article_hits_known
    for slug in sorted(set(raw.articles) | repair.stored_article_slugs()):
        repair.fix(article_pk(slug), raw.articles.get(slug, Counts()), slug=slug, keep_hits=keep_hits)
    repair.fix(SITE, raw.site)
    report: dict[str, Any] = {
        "day": day,
        "visitor_days": raw.visitor_days,
        "site": asdict(raw.site),
        "articles": len(raw.articles),
        "dry_run": dry_run,
        "changed": repair.changes,
    }
    if keep_hits:
        report["warning"] = (
            f"{raw.unattributed_hits} hits of this day cannot be attributed to an article (items written before "
            "per-article counts existed, or past the 500-articles cap): article hits were left as stored"
        )
    return report


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="make recompute ARGS=...",
        description="Recompute one UTC day's counters from the raw events table (see docs/security.md).",
    )
    parser.add_argument("--day", required=True, help="the UTC day, YYYY-MM-DD")
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
    return args


def main(argv: list[str] | None = None, db: Any = None) -> dict[str, Any]:
    args = parse_args(argv)
    if db is None:
        import boto3

        db = boto3.client("dynamodb")
    report = run(db, args.events_table, args.stats_table, args.day, dry_run=args.dry_run)
    print(json.dumps(report, indent=2))
    return report


if __name__ == "__main__":
    main()
