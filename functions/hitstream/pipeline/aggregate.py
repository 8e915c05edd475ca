"""Aggregate: fold one shard's stream records into counters, exactly once per record.

Each counter item carries a fence per stream shard: f<shard hash> = <highest sequence number of that shard
already folded into the item, then its record time> (binary). A write adds deltas and raises the fence in the
same UpdateItem, on condition that the fence is below the first record it adds. A retried, bisected,
partially retried, duplicated or reordered delivery therefore re-applies nothing: on a failed condition the
item's fence says which records are already in, and only the rest is added. docs/decisions.md has the full
argument.
"""

from __future__ import annotations

import base64
import hashlib
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from botocore.exceptions import ClientError

from hitstream import slugs
from hitstream.pipeline.ingest import decode_dimensions
from hitstream.storage import clients
from hitstream.storage.schema import (
    DIMENSIONS,
    OTHER,
    PAIR,
    PK,
    SK,
    TOTAL,
    all_time_rank,
    article_pk,
    bucket,
    day_rank,
    day_sk,
    site_code,
    site_pk,
    slug_hash,
)

# A fence may go once no record at or below it can be delivered again: Lambda drops records older than the
# event source's MaximumRecordAge (6 h), so 7 h leaves an hour of margin (docs/decisions.md §2).
FENCE_KEEP_S = 7 * 3600
MAX_CONFLICT_ROUNDS = 6
WRITE_TRIES = 3
# Rows kept per dimension per site-day (and sources per article-day), "(other)" included: up to BREAKDOWN_CAP - 1
# values of their own, and "(other)" for the rest.
BREAKDOWN_CAP = 30
VALUE_SLOTS = BREAKDOWN_CAP - 1
DEFAULT_DIMENSIONS = ("(direct)", "(none)", "Other", "Other", "other", "ZZ")
SOURCE = DIMENSIONS["source"]
NEW_PER_WRITE = 10  # new values per dimension per write, so conditions stay well under 4 KB
# Distinct breakdown values one write adds to: with NEW_PER_WRITE, every expression stays under DynamoDB's 4 KB.
VALUES_PER_WRITE = 120
KNOWN_ITEMS = 20_000  # per container: which breakdown values and fences an item holds, from its last write


class PoisonRecord(ValueError):
    """A stream record that can never be folded (malformed image); it goes to the on-failure destination."""


@dataclass(frozen=True)
class Event:
    """What one stream record means for the counters."""

    seq: str
    time: int
    day: str
    site: str
    slug: str
    hits: int
    likes: int
    article_visitor: int  # first view of this article by this visitor today
    site_visitor: int  # first view of any article by this visitor today
    dimensions: tuple[str, ...] = DEFAULT_DIMENSIONS

    @property
    def is_noop(self) -> bool:
        return not (self.hits or self.likes)


@dataclass
class Delta:
    hits: int = 0
    visitors: int = 0
    likes: int = 0
    articles: int = 0
    breakdown: dict[tuple[str, str], list[int]] = field(default_factory=dict)  # (code, value) -> [visitors, hits]

    def add(self, other: Delta) -> None:
        self.hits += other.hits
        self.visitors += other.visitors
        self.likes += other.likes
        self.articles += other.articles
        for key, (v, h) in other.breakdown.items():
            pair = self.breakdown.setdefault(key, [0, 0])
            pair[0] += v
            pair[1] += h


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


def seq_bytes(key: str) -> bytes:
    """A seq_key as compact binary with the same order: one length byte, then the number big-endian."""
    number = int(key[2:])
    raw = number.to_bytes(max(1, (number.bit_length() + 7) // 8), "big")
    return bytes([len(raw)]) + raw


def fence_name(shard: str) -> str:
    """A short, stable attribute name per shard (36 bits of hash): fences stay small, so items stay small."""
    digest = hashlib.blake2b(shard.encode(), digest_size=6).digest()
    return "f" + base64.urlsafe_b64encode(digest).decode()[:6]


def fence_value(last_key: str, when: int) -> bytes:
    # <seq bytes><3-byte hour>: compares like seq_bytes against a bare seq_bytes, an equal seq sorting after.
    return seq_bytes(last_key) + max(0, min(when // 3600, 2**24 - 1)).to_bytes(3, "big")


def fence_parts(value: bytes) -> tuple[bytes, int]:
    """(the sequence part, the record time rounded down to the hour, in seconds)."""
    if not value:
        return b"", 0
    cut = 1 + value[0]
    return value[:cut], int.from_bytes(value[cut : cut + 3], "big") * 3600


def _is_fence(name: str) -> bool:
    return len(name) == 7 and name[0] == "f"


def _is_breakdown(name: str) -> bool:
    """b<code>:<value> pairs and n<code> counts."""
    return (name[:1] == "b" and name[2:3] == ":") or (len(name) == 2 and name[0] == "n")


def interpret(new: dict[str, Any], old: dict[str, Any], seq: str, created: int, sites: dict[str, str]) -> Event:
    try:
        slug, kind, pk = str(new["s"]), str(new["k"]), str(new["pk"])
        site = sites[str(new["w"])]
        hits = int(new.get("h", 0)) - int(old.get("h", 0))
    except (KeyError, TypeError, ValueError) as exc:
        raise PoisonRecord(f"stream record {seq} lacks a valid event image (or its site is no longer listed)") from exc
    day = pk[:10]
    if not slugs.is_valid(slug) or pk[10:11] != "#" or kind not in ("hit", "like") or not 0 <= hits <= 1:
        raise PoisonRecord(f"stream record {seq} has an invalid event image")
    hashed = slug_hash(slug)
    old_views, new_views = _bytes_set(old.get("pv")), _bytes_set(new.get("pv"))
    liked = kind == "like" and hashed in _bytes_set(new.get("lk")) and hashed not in _bytes_set(old.get("lk"))
    dims = decode_dimensions(str(new.get("e") or ""))
    return Event(
        seq=seq_key(seq),
        time=created,
        day=day,
        site=site,
        slug=slug,
        hits=hits if kind == "hit" else 0,
        likes=int(liked),
        article_visitor=int(kind == "hit" and hashed in new_views and hashed not in old_views),
        site_visitor=int(kind == "hit" and not old_views and bool(new_views)),
        dimensions=dims if len(dims) == len(DEFAULT_DIMENSIONS) else DEFAULT_DIMENSIONS,
    )


def _bytes_set(value: Any) -> set[bytes]:
    """A binary set from a stream image: Lambda's JSON event carries each element base64-encoded (str)."""
    return {base64.b64decode(v) if isinstance(v, str) else bytes(v) for v in value} if value else set()


def site_codes(sites: Iterable[str]) -> dict[str, str]:
    return {site_code(s): s for s in sites}


def fold(events: Iterable[Event]) -> tuple[dict[tuple[str, str], Counter], dict[tuple[str, str], Counter]]:
    """Per-key contributions, each in sequence order: article items (written first) and site items (after them)."""
    articles: dict[tuple[str, str], Counter] = {}
    site: dict[tuple[str, str], Counter] = {}

    def part(into: dict[tuple[str, str], Counter], pk: str, sk: str, seq: str, delta: Delta, **kw: Any) -> None:
        counter = into.get((pk, sk))
        if counter is None:
            counter = into[(pk, sk)] = Counter(pk, sk, **kw)
        counter.parts.append((seq, delta))

    for e in sorted(events, key=lambda e: e.seq):  # a redelivery may arrive out of order
        if e.is_noop:
            continue
        a = Delta(hits=e.hits, visitors=e.article_visitor, likes=e.likes)
        s = Delta(hits=e.hits, visitors=e.site_visitor, likes=e.likes)
        a_day = Delta(hits=e.hits, visitors=e.article_visitor, likes=e.likes)
        s_day = Delta(hits=e.hits, visitors=e.site_visitor, likes=e.likes)
        if e.hits or e.article_visitor:
            a_day.breakdown[(SOURCE, e.dimensions[0])] = [e.article_visitor, e.hits]
        if e.hits or e.site_visitor:
            for code, value in zip(DIMENSIONS.values(), e.dimensions, strict=True):
                s_day.breakdown[(code, value)] = [e.site_visitor, e.hits]
        pk = article_pk(e.site, e.slug)
        part(articles, pk, TOTAL, e.seq, a, rank=all_time_rank(e.site), slug=e.slug)
        part(articles, pk, day_sk(e.day), e.seq, a_day, rank=day_rank(e.site, e.day), slug=e.slug)
        part(site, site_pk(e.site), TOTAL, e.seq, s)
        part(site, site_pk(e.site), day_sk(e.day), e.seq, s_day)
    return articles, site


class _Known:
    """What this container last saw of an item: its breakdown values per map and its fences (bounded LRU)."""

    def __init__(self, size: int) -> None:
        self.size = size
        self.items: OrderedDict[tuple[str, str], dict[str, Any]] = OrderedDict()
        self.lock = threading.Lock()  # the counter writes of a batch run on several threads

    def get(self, key: tuple[str, str]) -> dict[str, Any] | None:
        with self.lock:
            item = self.items.get(key)
            if item is not None:
                self.items.move_to_end(key)
            return item

    def put(self, key: tuple[str, str], item: dict[str, Any]) -> None:
        kept = {name: value for name, value in item.items() if _is_fence(name) or _is_breakdown(name)}
        with self.lock:
            self.items[key] = kept
            self.items.move_to_end(key)
            while len(self.items) > self.size:
                self.items.popitem(last=False)

    def clear(self) -> None:
        with self.lock:
            self.items.clear()


KNOWN = _Known(KNOWN_ITEMS)


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
        """Add the contributions not yet in the item; returns the item as it now stands.

        Contributions go in sequence order, as few writes as the expression limits allow: usually one. A write
        that takes only a prefix of them raises the fence to the last record it holds, so the next write (or a
        retry) starts right after it."""
        key = (counter.pk, counter.sk)
        parts = counter.parts
        known: dict[str, Any] | None = None  # the item as a failed condition (or our own last write) returned it
        stored: bytes | None = None
        rounds = 0
        while rounds < MAX_CONFLICT_ROUNDS:
            if known is not None:
                stored = bytes(known.get(self.fence, {}).get("B", b""))
                seen = fence_parts(stored)[0]
                parts = [(seq, d) for seq, d in parts if seq_bytes(seq) > seen]
                if not parts:
                    self._rank(counter, known)
                    return known
            view = known if known is not None else KNOWN.get(key)
            chunk = _chunk(parts, view)
            last_key = self.last_seq if len(chunk) == len(parts) else chunk[-1][0]
            names: dict[str, str] = {"#f": self.fence}
            values: dict[str, Any] = {":last": {"B": fence_value(last_key, self.time)}}
            if known is None:
                conditions = ["(attribute_not_exists(#f) OR #f < :first)"]
                values[":first"] = {"B": seq_bytes(chunk[0][0])}
            elif stored:
                conditions = ["#f = :seen"]
                values[":seen"] = {"B": stored}
            else:
                conditions = ["attribute_not_exists(#f)"]
            total = Delta()
            for _seq, d in chunk:
                total.add(d)
            adds = []
            for name in ("hits", "visitors", "likes", "articles"):
                amount = getattr(total, name)
                if amount:
                    adds.append(f"{name} :{name}")
                    values[f":{name}"] = {"N": str(amount)}
            sets = ["#f = :last"]
            if counter.slug is not None:  # the slug itself is in the key (schema.slug_of)
                sets.append("rk = :rk")
                values[":rk"] = {"S": counter.rank}
                born = next((seq for seq, d in chunk if d.hits), None)
                if born is not None:
                    sets.append("born = if_not_exists(born, :born)")
                    values[":born"] = {"S": f"{self.fence}|{born}"}
                if total.hits:  # right for a new item; an existing one is re-bucketed by _rank if needed
                    sets.append("rb = if_not_exists(rb, :rb)")
                    values[":rb"] = {"N": str(bucket(total.hits))}
            _breakdown(total.breakdown, view, adds, conditions, names, values)
            removes = self._stale_fences(view, conditions, names, values)
            expression = "SET " + ", ".join(sets) + (" ADD " + ", ".join(adds) if adds else "")
            if removes:
                expression += " REMOVE " + ", ".join(removes)
            try:
                out = self._write(
                    TableName=self.table,
                    Key={PK: {"S": counter.pk}, SK: {"S": counter.sk}},
                    UpdateExpression=expression,
                    ConditionExpression=" AND ".join(conditions),
                    ExpressionAttributeNames=names,
                    ExpressionAttributeValues=values,
                    ReturnValues="ALL_NEW",
                    ReturnValuesOnConditionCheckFailure="ALL_OLD",
                )
            except ClientError as exc:
                if exc.response["Error"]["Code"] != "ConditionalCheckFailedException":
                    raise
                # ALL_OLD returns the item as it stands; no Item means there is none (yet): nothing to read
                known = exc.response.get("Item") or {}
                KNOWN.put(key, known)
                rounds += 1
                continue
            item: dict[str, Any] = out["Attributes"]
            KNOWN.put(key, item)
            if len(chunk) == len(parts):
                self._rank(counter, item)
                return item
            known, parts = item, parts[len(chunk) :]  # the rest, on top of what we just wrote
        raise RuntimeError(f"counter {counter.pk}/{counter.sk} kept changing under its fence")

    def _stale_fences(
        self, view: dict[str, Any] | None, conditions: list[str], names: dict[str, str], values: dict[str, Any]
    ) -> list[str]:
        """Fences of other shards older than FENCE_KEEP_S go in the same write, if they are still as seen."""
        removes: list[str] = []
        for name, value in (view or {}).items():
            if not _is_fence(name) or name == self.fence or not isinstance(value, dict):
                continue
            raw = bytes(value.get("B", b""))
            if raw and fence_parts(raw)[1] + 3600 < self.time - FENCE_KEEP_S:
                i = len(removes)
                names[f"#p{i}"], values[f":p{i}"] = name, {"B": raw}
                conditions.append(f"#p{i} = :p{i}")
                removes.append(f"#p{i}")
        return removes

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


def _present(view: dict[str, Any] | None, code: str) -> set[str]:
    prefix = f"b{code}:"
    return {name[len(prefix) :] for name in (view or {}) if name.startswith(prefix)}


def _room(view: dict[str, Any] | None, code: str) -> int | None:
    """Slots left for new values of a dimension (None: the dimension is believed absent from the item)."""
    count = (view or {}).get(f"n{code}")
    if count is None:
        return None
    return max(0, VALUE_SLOTS - int(count.get("N", "0")))


def _slots(view: dict[str, Any] | None, code: str) -> int:
    room = _room(view, code)
    return VALUE_SLOTS if room is None else room


def _chunk(parts: list[tuple[str, Delta]], view: dict[str, Any] | None) -> list[tuple[str, Delta]]:
    """The longest prefix of the contributions one write can take: at most NEW_PER_WRITE new values per dimension
    while the dimension has more room than that, and at most VALUES_PER_WRITE breakdown values in all.

    Cutting here, rather than sending the surplus to "(other)", keeps each value's contributions in one place
    for ever: a value goes to "(other)" only once its dimension is full, and a full dimension stays full."""
    new: dict[str, set[str]] = {}
    keys: set[tuple[str, str]] = set()
    present: dict[str, set[str]] = {}
    for i, (_seq, delta) in enumerate(parts):
        grown_keys = keys | set(delta.breakdown)
        grown_new = {code: set(values) for code, values in new.items()}
        for code, value in delta.breakdown:
            if code not in present:
                present[code] = _present(view, code)
            if value != OTHER and value not in present[code]:
                grown_new.setdefault(code, set()).add(value)
        over = len(grown_keys) > VALUES_PER_WRITE or any(
            len(values) > NEW_PER_WRITE and _slots(view, code) > NEW_PER_WRITE for code, values in grown_new.items()
        )
        if over and i > 0:
            return parts[:i]
        keys, new = grown_keys, grown_new
    return parts


def _breakdown(
    counts: dict[tuple[str, str], list[int]],
    view: dict[str, Any] | None,
    adds: list[str],
    conditions: list[str],
    names: dict[str, str],
    values: dict[str, Any],
) -> None:
    """ADD breakdown pairs to top-level attributes b<code>:<value>: at most VALUE_SLOTS values per dimension,
    counted in n<code>, and beside them "(other)", which is not counted and takes what comes once they are full.

    `view` is the item as last seen (exact when a failed condition returned it, else this container's memory,
    or nothing). Values believed new are added on condition that they are still missing and that the count
    still leaves room for them; a dimension believed absent on condition that its count is. A wrong belief
    fails the condition, the item comes back, and the next round knows exactly. Every state an item can reach
    (a count from 0 to VALUE_SLOTS, with or without "(other)") admits a write: a full dimension takes new
    values into "(other)" with no condition at all.
    """
    by_code: dict[str, dict[str, list[int]]] = {}
    for (code, value), pair in counts.items():
        by_code.setdefault(code, {})[value] = pair
    for code, pairs in sorted(by_code.items()):
        count_name = f"n{code}"
        room = _room(view, code)
        present = _present(view, code)
        kept = _cap(pairs, present, VALUE_SLOTS if room is None else room)
        new = [v for v in kept if v not in present and v != OTHER]
        if room is None:
            conditions.append(f"attribute_not_exists({_name(names, count_name)})")
        else:
            for value in new:
                conditions.append(f"attribute_not_exists({_name(names, f'b{code}:{value}')})")
            if new:
                conditions.append(f"{_name(names, count_name)} <= {_value(values, VALUE_SLOTS - len(new))}")
        if new or room is None:
            adds.append(f"{_name(names, count_name)} {_value(values, len(new))}")
        for value, (v, h) in sorted(kept.items()):
            adds.append(f"{_name(names, f'b{code}:{value}')} {_value(values, v * PAIR + h)}")


def _name(names: dict[str, str], attribute: str) -> str:
    placeholder = f"#a{len(names)}"
    names[placeholder] = attribute
    return placeholder


def _value(values: dict[str, Any], number: int) -> str:
    placeholder = f":n{len(values)}"
    values[placeholder] = {"N": str(number)}
    return placeholder


def _cap(pairs: dict[str, list[int]], present: set[str], room: int) -> dict[str, list[int]]:
    """Values already in the item stay; up to `room` new ones (busiest first) join them; the rest go to OTHER."""
    kept: dict[str, list[int]] = {}
    other = [0, 0]
    for value, pair in sorted(pairs.items(), key=lambda kv: (-kv[1][0], -kv[1][1], kv[0])):
        if value in present:
            into = kept.setdefault(value, [0, 0])
        elif value == OTHER:
            into = other
        elif room > 0:
            into = kept.setdefault(value, [0, 0])
            room -= 1
        else:
            into = other
        into[0] += pair[0]
        into[1] += pair[1]
    if other != [0, 0] or OTHER in pairs:
        kept[OTHER] = other
    return kept


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
        site = counter.pk.split("#", 2)[1]
        key = (site_pk(site), counter.sk)
        target = extra.setdefault(key, Counter(*key))
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
    """Fold and write one invocation's records; returns the number of counters written. Raises on a failed
    write (the ones that did land are fenced, so the retry adds only what is missing)."""
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
    site_counters = merge(site, births(shard, {e.seq for e in events}, articles, items))
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
