"""Aggregate: fold one shard's stream batch into counters, exactly once per record.

Each counter item carries a fence per stream shard: f#<shard hash> = "<highest sequence number of that shard
already folded into the item>@<its record time>". A write adds a batch's deltas and raises the fence in the
same UpdateItem, on condition that the fence is below the first record it adds. A retried, bisected,
partially retried or duplicated batch therefore re-applies nothing: on a failed condition the item's fence
says which records are already in, and only the rest is added. docs/decisions.md has the full argument.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from botocore.exceptions import ClientError

from . import clients, slugs
from .schema import ALL_TIME_RANK, PK, SITE, SK, TOTAL, article_pk, bucket, day_rank, day_sk

FENCE_KEEP_S = 25 * 3600  # stream records live 24 h, so an older fence can never be needed again
MAX_CONFLICT_ROUNDS = 5
WRITE_TRIES = 3


class PoisonRecord(ValueError):
    """A stream record that can never be folded (malformed image); it goes to the on-failure destination."""


@dataclass(frozen=True)
class Event:
    """What one stream record means for the counters."""

    seq: str
    time: int
    day: str
    slug: str
    hits: int
    likes: int
    article_visitor: int  # first view of this article by this visitor today
    site_visitor: int  # first view of any article by this visitor today

    @property
    def is_noop(self) -> bool:
        return not (self.hits or self.likes)


@dataclass
class Delta:
    hits: int = 0
    visitors: int = 0
    likes: int = 0
    articles: int = 0

    def add(self, other: Delta) -> None:
        self.hits += other.hits
        self.visitors += other.visitors
        self.likes += other.likes
        self.articles += other.articles


@dataclass
class Counter:
    """One stats item and the per-record contributions this batch makes to it, in stream order."""

    pk: str
    sk: str
    rank: str | None = None
    slug: str | None = None
    parts: list[tuple[str, Delta]] = field(default_factory=list)


def seq_key(seq: str) -> str:
    """A sequence number (21-40 digits) as a string whose lexicographic order is numeric order: length first."""
    digits = seq.lstrip("0") or "0"
    return f"{len(digits):02d}{digits}"


def fence_name(shard: str) -> str:
    """A short, stable attribute name per shard: fences stay small, so items stay within one 1 KB write unit."""
    return "f#" + hashlib.blake2b(shard.encode(), digest_size=6).hexdigest()


def fence_value(last_key: str, when: int) -> str:
    # "<seq_key>@<time>" compares like seq_key against a bare seq_key: equal keys sort the fence after.
    return f"{last_key}@{when}"


def fence_parts(value: str) -> tuple[str, int]:
    key, _, when = value.partition("@")
    return key, int(when or 0)


def interpret(new: dict[str, Any], old: dict[str, Any], seq: str, created: int) -> Event:
    try:
        slug, day, kind = str(new["s"]), str(new["d"]), str(new["k"])
        hits = int(new.get("h", 0)) - int(old.get("h", 0))
    except (KeyError, TypeError, ValueError) as exc:
        raise PoisonRecord(f"stream record {seq} lacks a valid event image") from exc
    if not slugs.is_valid(slug) or len(day) != 10 or kind not in ("hit", "like") or not 0 <= hits <= 1:
        raise PoisonRecord(f"stream record {seq} has an invalid event image")
    old_views, new_views = set(old.get("pv") or ()), set(new.get("pv") or ())
    liked = kind == "like" and slug in set(new.get("lk") or ()) and slug not in set(old.get("lk") or ())
    return Event(
        seq=seq_key(seq),
        time=created,
        day=day,
        slug=slug,
        hits=hits if kind == "hit" else 0,
        likes=int(liked),
        article_visitor=int(kind == "hit" and slug in new_views and slug not in old_views),
        site_visitor=int(kind == "hit" and not old_views and bool(new_views)),
    )


def fold(events: Iterable[Event]) -> tuple[dict[tuple[str, str], Counter], dict[tuple[str, str], Counter]]:
    """Per-key contributions: article items (written first) and site items (written after them)."""
    articles: dict[tuple[str, str], Counter] = {}
    site: dict[tuple[str, str], Counter] = {}

    def part(bucket: dict[tuple[str, str], Counter], pk: str, sk: str, seq: str, delta: Delta, **kw: Any) -> None:
        counter = bucket.get((pk, sk))
        if counter is None:
            counter = bucket[(pk, sk)] = Counter(pk, sk, **kw)
        counter.parts.append((seq, delta))

    for e in events:
        if e.is_noop:
            continue
        a = Delta(hits=e.hits, visitors=e.article_visitor, likes=e.likes)
        s = Delta(hits=e.hits, visitors=e.site_visitor, likes=e.likes)
        pk = article_pk(e.slug)
        part(articles, pk, TOTAL, e.seq, a, rank=ALL_TIME_RANK, slug=e.slug)
        part(articles, pk, day_sk(e.day), e.seq, a, rank=day_rank(e.day), slug=e.slug)
        part(site, SITE, TOTAL, e.seq, s)
        part(site, SITE, day_sk(e.day), e.seq, s)
    return articles, site


@dataclass
class Batch:
    shard: str
    last_seq: str
    time: int
    table: str
    write: Callable[..., Any]  # the DynamoDB update_item to use (the twin wraps it to inject faults)

    @property
    def fence(self) -> str:
        return fence_name(self.shard)

    def apply(self, counter: Counter) -> dict[str, Any]:
        """Add the contributions not yet in the item; returns the item as it now stands."""
        parts = counter.parts
        condition = "attribute_not_exists(#f) OR #f < :first"
        known: dict[str, Any] | None = None
        for _ in range(MAX_CONFLICT_ROUNDS):
            if known is not None:
                stored = known.get(self.fence, {}).get("S", "")
                seen = fence_parts(stored)[0]
                parts = [(seq, d) for seq, d in parts if seq > seen]
                if not parts:
                    self._rank(counter, known)
                    return known
                condition = "#f = :seen" if seen else "attribute_not_exists(#f)"
            total = Delta()
            for _seq, d in parts:
                total.add(d)
            names = {"#f": self.fence}
            values: dict[str, Any] = {":last": {"S": fence_value(self.last_seq, self.time)}}
            if known is None:
                values[":first"] = {"S": parts[0][0]}
            elif ":seen" in condition:
                values[":seen"] = {"S": stored}
            adds = []
            for name in ("hits", "visitors", "likes", "articles"):
                amount = getattr(total, name)
                if amount:
                    adds.append(f"{name} :{name}")
                    values[f":{name}"] = {"N": str(amount)}
            sets = ["#f = :last"]
            if counter.slug is not None:
                sets += ["slug = :slug", "rk = :rk"]
                values[":slug"], values[":rk"] = {"S": counter.slug}, {"S": counter.rank}
                born = next((seq for seq, d in parts if d.hits), None)
                if born is not None:
                    sets.append("born = if_not_exists(born, :born)")
                    values[":born"] = {"S": f"{self.fence}|{born}"}
                if total.hits:  # right for a new item; an existing one is re-bucketed by _rank if needed
                    sets.append("rb = if_not_exists(rb, :rb)")
                    values[":rb"] = {"N": str(bucket(total.hits))}
            expression = "SET " + ", ".join(sets) + (" ADD " + ", ".join(adds) if adds else "")
            try:
                out = self._write(
                    TableName=self.table,
                    Key={PK: {"S": counter.pk}, SK: {"S": counter.sk}},
                    UpdateExpression=expression,
                    ConditionExpression=condition,
                    ExpressionAttributeNames=names,
                    ExpressionAttributeValues=values,
                    ReturnValues="ALL_NEW",
                    ReturnValuesOnConditionCheckFailure="ALL_OLD",
                )
            except ClientError as exc:
                if exc.response["Error"]["Code"] != "ConditionalCheckFailedException":
                    raise
                known = exc.response.get("Item") or self._read(counter)
                continue
            item: dict[str, Any] = out["Attributes"]
            self._prune(counter, item)
            self._rank(counter, item)
            return item
        raise RuntimeError(f"counter {counter.pk}/{counter.sk} kept changing under its fence")

    def _rank(self, counter: Counter, item: dict[str, Any]) -> None:
        if counter.slug is not None:
            rerank(self._write, self.table, {PK: {"S": counter.pk}, SK: {"S": counter.sk}}, item)

    def _write(self, **request: Any) -> Any:
        """update_item with a few quick retries of transient failures. A retried write whose first try did
        land (a lost response) fails its fence condition, which apply() reads as 'already in'."""
        for attempt in range(WRITE_TRIES):
            try:
                return self.write(**request)
            except ClientError as exc:
                if exc.response["Error"]["Code"] == "ConditionalCheckFailedException" or attempt == WRITE_TRIES - 1:
                    raise
                time.sleep(0.01 * 2**attempt)
        raise AssertionError("unreachable")

    def _read(self, counter: Counter) -> dict[str, Any]:
        db: Any = clients.dynamodb()
        got = db.get_item(TableName=self.table, Key={PK: {"S": counter.pk}, SK: {"S": counter.sk}}, ConsistentRead=True)
        return got.get("Item", {})

    def _prune(self, counter: Counter, item: dict[str, Any]) -> None:
        """Drop fences of shards that have not written this item for longer than stream retention."""
        stale = [
            name
            for name, value in item.items()
            if name.startswith("f#")
            and name != self.fence
            and fence_parts(value.get("S", ""))[1] < self.time - FENCE_KEEP_S
        ]
        if not stale:
            return
        names: dict[str, str] = {}
        values: dict[str, Any] = {}
        checks = []
        for i, name in enumerate(stale):
            names[f"#f{i}"] = name
            values[f":f{i}"] = item[name]
            checks.append(f"#f{i} = :f{i}")
        try:
            self.write(
                TableName=self.table,
                Key={PK: {"S": counter.pk}, SK: {"S": counter.sk}},
                UpdateExpression="REMOVE " + ", ".join(f"#f{i}" for i in range(len(stale))),
                ConditionExpression=" AND ".join(checks),
                ExpressionAttributeNames=names,
                ExpressionAttributeValues=values,
            )
        except ClientError as exc:
            if exc.response["Error"]["Code"] != "ConditionalCheckFailedException":
                raise


def rerank(write: Callable[..., Any], table: str, key: dict[str, Any], item: dict[str, Any]) -> None:
    """Keep an article item's rank bucket in step with its hits. Only when the bucket changes (rarely) does this
    write, and only if hits are still what we saw: a concurrent writer that moved them re-buckets after itself."""
    hits = int(item.get("hits", {}).get("N", "0"))
    want = bucket(hits)
    if not hits or item.get("rb", {}).get("N") == str(want):
        return
    try:
        write(
            TableName=table,
            Key=key,
            UpdateExpression="SET rb = :rb",
            ConditionExpression="hits = :hits",
            ExpressionAttributeValues={":rb": {"N": str(want)}, ":hits": {"N": str(hits)}},
        )
    except ClientError as exc:
        if exc.response["Error"]["Code"] != "ConditionalCheckFailedException":
            raise


def births(
    shard: str, batch_seqs: set[str], articles: dict[tuple[str, str], Counter], items: list[dict[str, Any]]
) -> list[Counter]:
    """Site-level 'articles' contributions: an article item counts once, for the record that created it."""
    extra: dict[tuple[str, str], Counter] = {}
    for counter, item in zip(articles.values(), items, strict=True):
        born = item.get("born", {}).get("S", "")
        owner, _, seq = born.partition("|")
        if owner != fence_name(shard) or seq not in batch_seqs:
            continue
        sk = counter.sk
        target = extra.setdefault((SITE, sk), Counter(SITE, sk))
        target.parts.append((seq, Delta(articles=1)))
    return list(extra.values())


def merge(site: dict[tuple[str, str], Counter], extra: list[Counter]) -> list[Counter]:
    for counter in extra:
        into = site.setdefault((counter.pk, counter.sk), Counter(counter.pk, counter.sk))
        into.parts.extend(counter.parts)
    for counter in site.values():
        counter.parts.sort(key=lambda p: p[0])
    return list(site.values())


def apply_batch(
    events: list[Event],
    shard: str,
    last_seq: str,
    table: str,
    *,
    write: Callable[..., Any] | None = None,
    concurrency: int = 1,
) -> int:
    """Fold and write one batch; returns the number of counter writes attempted. Raises on a failed write."""
    if not events:
        return 0
    batch = Batch(
        shard=shard,
        last_seq=seq_key(last_seq),
        time=max(e.time for e in events) or int(time.time()),
        table=table,
        write=write or clients.dynamodb().update_item,
    )
    articles, site = fold(events)
    run = _runner(concurrency)
    items = run(batch.apply, list(articles.values()))
    seqs = {e.seq for e in events}
    site_counters = merge(site, births(shard, seqs, articles, items))
    run(batch.apply, site_counters)
    return len(articles) + len(site_counters)


class BatchWriteFailed(RuntimeError):
    """Some counter writes failed; those that succeeded stay (fenced), and the batch is retried."""


def _runner(concurrency: int) -> Callable[[Callable[[Counter], dict[str, Any]], list[Counter]], list[dict[str, Any]]]:
    """Write every counter even when some fail, so each delivery makes as much progress as it can."""

    def attempt(fn: Callable[[Counter], dict[str, Any]], counter: Counter) -> dict[str, Any] | Exception:
        try:
            return fn(counter)
        except Exception as exc:  # noqa: BLE001 - collected and re-raised below
            return exc

    def run(fn: Callable[[Counter], dict[str, Any]], counters: list[Counter]) -> list[dict[str, Any]]:
        if concurrency > 1 and len(counters) > 1:
            with ThreadPoolExecutor(max_workers=concurrency) as pool:
                results = list(pool.map(lambda c: attempt(fn, c), counters))
        else:
            results = [attempt(fn, c) for c in counters]
        errors = [r for r in results if isinstance(r, Exception)]
        if errors:
            raise BatchWriteFailed(f"{len(errors)} of {len(counters)} counter writes failed") from errors[0]
        return results  # type: ignore[return-value]

    return run
