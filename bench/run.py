"""The two designs over the same workload, on moto, with the real hitstream code and the naive baseline."""

from __future__ import annotations

import array
import datetime as dt
import math
import multiprocessing as mp
import random
import statistics
import time
from collections import Counter
from dataclasses import asdict, dataclass, field
from typing import Any

from bench import workload
from bench.meter import ItemKey, Meter, Tally
from bench.workload import Counts, Event, Spec

NAIVE_TABLE = "bench-naive"


@dataclass
class DesignResult:
    tally: Tally
    phases: dict[str, Tally]
    item_writes: Counter[ItemKey]
    article_counts: Counts
    site_counts: Counts
    event_ms: array.array  # in-process time of each ingest call (record() or the naive writes), ms
    largest_item: dict[str, int] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)

    def hottest(self) -> tuple[ItemKey, int]:
        if not self.item_writes:
            return ("", "", ""), 0
        return self.item_writes.most_common(1)[0]


# -- reading results straight from moto (not DynamoDB requests: uncounted) -----------------------------------


def _moto_item(table: str, pk: str, sk: str) -> dict[str, Any]:
    from moto.core import DEFAULT_ACCOUNT_ID
    from moto.dynamodb.models import dynamodb_backends
    from moto.dynamodb.models.dynamo_type import DynamoType

    t = dynamodb_backends[DEFAULT_ACCOUNT_ID]["us-east-1"].get_table(table)
    item = t.get_item(DynamoType({"S": pk}), DynamoType({"S": sk}))
    return {} if item is None else {k: v.value for k, v in item.attrs.items()}


def read_counts(table: str, slugs: list[str], days: list[str]) -> tuple[Counts, Counts]:
    def triple(item: dict[str, Any]) -> tuple[int, int, int]:
        return int(item.get("hits", 0)), int(item.get("visitors", 0)), int(item.get("likes", 0))

    articles = {s: triple(_moto_item(table, f"A#{s}", "TOTAL")) for s in slugs}
    site = {d: triple(_moto_item(table, "SITE", f"D#{d}")) for d in days}
    return {s: c for s, c in articles.items() if any(c)}, {d: c for d, c in site.items() if any(c)}


# -- naive ---------------------------------------------------------------------------------------------------

_progress: Any = None


def _init_worker(progress: Any) -> None:
    global _progress
    _progress = progress


def naive_worker(spec: dict[str, Any], part: int, parts: int, literal: bool, own_mock: bool = True) -> dict[str, Any]:
    """Run the naive design over the visitors with visitor % parts == part. Visitors never share markers,
    and counters only ever receive ADDs, so the parts' requests and their sums equal one run's."""
    from twin.backend import prepare_environment

    prepare_environment()
    mock = None
    if own_mock:
        from moto import mock_aws

        mock = mock_aws()
        mock.start()
    import boto3

    from bench.naive import NaiveStore, table_definition

    s = Spec(**spec)
    events = [e for e in workload.generate(s) if e.visitor % parts == part]
    client = boto3.client("dynamodb", region_name="us-east-1")
    table = f"{NAIVE_TABLE}-{part}"
    client.create_table(**table_definition(table))
    meter = Meter()
    meter.attach(client)
    meter.phase = "naive"
    store = NaiveStore(client, table, literal=literal)
    ms = array.array("d")
    done_at = 0
    for i, e in enumerate(events):
        day = e.day
        start = int(dt.datetime.fromisoformat(day).replace(tzinfo=dt.UTC).timestamp())
        t0 = time.perf_counter()
        vid = store.visitor(day, workload.ip_of(e.visitor), workload.ua_of(e.visitor))
        (store.hit if e.kind == "hit" else store.like)(e.slug, day, start, vid)
        ms.append((time.perf_counter() - t0) * 1000)
        if _progress is not None and i - done_at >= 200:
            with _progress.get_lock():
                _progress.value += i - done_at
            done_at = i
    if _progress is not None:
        with _progress.get_lock():
            _progress.value += len(events) - done_at
    slugs = [workload.slug(i) for i in range(1, s.articles + 1)]
    articles, site = read_counts(table, slugs, s.day_list)
    out = {
        "tally": meter.total(),
        "item_writes": Counter({k: n for k, n in meter.item_writes.items() if n > 1 or k[1].startswith(("A#", "S"))}),
        "articles": articles,
        "site": site,
        "ms": ms,
        "largest": dict(meter.largest_item),
        "events": len(events),
    }
    if mock is not None:
        mock.stop()
    return out


def merge_naive(parts: list[dict[str, Any]]) -> DesignResult:
    tally = Tally()
    writes: Counter[ItemKey] = Counter()
    articles: dict[str, list[int]] = {}
    site: dict[str, list[int]] = {}
    ms = array.array("d")
    largest: dict[str, int] = {}
    for p in parts:
        tally.add(p["tally"])
        for (_table, pk, sk), n in p["item_writes"].items():
            writes[(NAIVE_TABLE, pk, sk)] += n
        for into, src in ((articles, p["articles"]), (site, p["site"])):
            for k, v in src.items():
                acc = into.setdefault(k, [0, 0, 0])
                for j in range(3):
                    acc[j] += v[j]
        ms.extend(p["ms"])
        for v in p["largest"].values():
            largest[NAIVE_TABLE] = max(largest.get(NAIVE_TABLE, 0), v)
    return DesignResult(
        tally=tally,
        phases={"naive": tally},
        item_writes=writes,
        article_counts={k: (v[0], v[1], v[2]) for k, v in articles.items()},
        site_counts={k: (v[0], v[1], v[2]) for k, v in site.items()},
        event_ms=ms,
        largest_item=largest,
    )


def start_naive(spec: Spec, workers: int, literal: bool) -> tuple[Any, list[Any], Any]:
    ctx = mp.get_context("spawn")
    counter = ctx.Value("q", 0)
    from concurrent.futures import ProcessPoolExecutor

    pool = ProcessPoolExecutor(max_workers=workers, mp_context=ctx, initializer=_init_worker, initargs=(counter,))
    futures = [pool.submit(naive_worker, asdict(spec), k, workers, literal) for k in range(workers)]
    return pool, futures, counter


# -- hitstream -----------------------------------------------------------------------------------------------


@dataclass
class HitstreamRun:
    backend: Any
    meter: Meter
    result: DesignResult
    aggregate_ms: list[float]
    batch_sizes: list[int]
    invocations: int


def run_hitstream(
    spec: Spec, events: list[Event], *, shards: int, batch_size: int, progress: Any = None
) -> HitstreamRun:
    from twin.backend import Backend

    # Query reads are measured without the owner-token check: with it, each query container adds one GetItem
    # (0.5 RRU) a minute, whatever the traffic (functions/hitstream/auth.py), not a cost per query.
    backend = Backend(shards=shards, batch_size=batch_size, seed=1, env={"DASHBOARD": "public"})
    from hitstream import clients
    from hitstream.config import settings
    from hitstream.ingest import Beacon, Kind, record

    meter = Meter(classify=lambda key: "salt" if key[1] == "SALT" else None)
    meter.attach(clients.dynamodb())
    cfg = settings()
    aggregate_ms: list[float] = []
    batch_sizes: list[int] = []
    inner = backend.esm.handler

    def timed(event: dict[str, Any]) -> dict[str, Any] | None:
        batch_sizes.append(len(event.get("Records") or []))
        t0 = time.perf_counter()
        try:
            return inner(event)
        finally:
            aggregate_ms.append((time.perf_counter() - t0) * 1000)

    backend.esm.handler = timed
    done = [0]
    if progress is not None:
        progress.sources["hitstream"] = lambda: (done[0], len(events))
    settle_every = 4 * batch_size * max(1, shards)  # enough pending per shard to fill whole batches
    ms = array.array("d")
    for i, e in enumerate(events):
        meter.phase = "ingest"
        beacon = Beacon(Kind(e.kind), e.slug, workload.ip_of(e.visitor), workload.ua_of(e.visitor))
        t0 = time.perf_counter()
        record(beacon, cfg, now=e.ts)
        ms.append((time.perf_counter() - t0) * 1000)
        done[0] = i + 1
        if (i + 1) % settle_every == 0:
            meter.phase = "aggregate"
            backend.settle()
    meter.phase = "aggregate"
    backend.settle()
    meter.phase = "other"
    slugs = [workload.slug(i) for i in range(1, spec.articles + 1)]
    articles, site = read_counts(cfg.stats_table, slugs, spec.day_list)
    result = DesignResult(
        tally=meter.total("ingest", "aggregate", "salt"),
        phases={k: v for k, v in meter.tallies.items()},
        item_writes=Counter(meter.item_writes),
        article_counts=articles,
        site_counts=site,
        event_ms=ms,
        largest_item=dict(meter.largest_item),
        extra={"dlq": len(backend.esm.dlq)},
    )
    return HitstreamRun(backend, meter, result, aggregate_ms, batch_sizes, backend.esm.invocations)


# -- queries -------------------------------------------------------------------------------------------------

QUERIES = ("article", "site_all_time", "top_all_time", "range_top")


def query_paths(spec: Spec) -> dict[str, str]:
    last = dt.date.fromisoformat(spec.day_list[-1])
    first = last - dt.timedelta(days=30)
    return {
        "article": f"/statistics/{workload.slug(1)}",
        "site_all_time": "/statistics",
        "top_all_time": "/statistics?top=10",
        "range_top": f"/statistics?from={first.isoformat()}&to={last.isoformat()}&top=10",
    }


def measure_queries(run: HitstreamRun, spec: Spec, label: str) -> tuple[dict[str, float], dict[str, float]]:
    """RRU and in-process duration (ms) of each query, through the real query handler."""
    from twin.server import api_event

    rru: dict[str, float] = {}
    ms: dict[str, float] = {}
    headers = {"host": "127.0.0.1", "user-agent": workload.BROWSERS[0]}
    for name, path in query_paths(spec).items():
        phase = f"query:{label}:{name}"
        run.meter.phase = phase
        t0 = time.perf_counter()
        out = run.backend.invoke("query", api_event("GET", path, headers, b"", "203.0.113.9"))
        ms[name] = (time.perf_counter() - t0) * 1000
        if out.get("statusCode") != 200:
            raise RuntimeError(f"{path} returned {out.get('statusCode')}: {out.get('body')}")
        rru[name] = run.meter.tallies[phase].rru
    run.meter.phase = "other"
    return rru, ms


def grow_history(spec: Spec, factor: int = 100, articles_per_day: int = 100, seed: int = 11) -> dict[str, int]:
    """Make the store `factor` times older and wider, written into moto directly (uncounted): `factor` x the
    workload's days of history before the 31-day query window (site and article day items, ranked), and
    `factor` x its articles all-time (ranked). The window itself is left as it is, so any change in a
    query's cost comes from history alone."""
    from hitstream import aggregate
    from hitstream.config import settings
    from moto.core import DEFAULT_ACCOUNT_ID
    from moto.dynamodb.models import dynamodb_backends

    backend = dynamodb_backends[DEFAULT_ACCOUNT_ID]["us-east-1"]
    table = settings().stats_table
    rng = random.Random(seed)
    last = dt.date.fromisoformat(spec.day_list[-1])
    window_start = last - dt.timedelta(days=30)
    n_days = factor * spec.days
    extra_articles = (factor - 1) * spec.articles
    shard = "shardId-00000000000000000000-twin0000"
    fence = {aggregate.fence_name(shard): {"S": aggregate.fence_value(aggregate.seq_key("1" * 21), 1767225600)}}
    written = 0

    def put(item: dict[str, Any]) -> None:
        nonlocal written
        backend.put_item(table, item, overwrite=True)  # unconditional: skips moto's expression parsing
        written += 1

    def counts(scale: int) -> dict[str, Any]:
        hits = rng.randint(1, scale)
        return {
            "hits": {"N": str(hits)},
            "visitors": {"N": str(max(1, hits * 4 // 5))},
            "likes": {"N": str(hits // 20)},
        }

    for i in range(extra_articles):
        slug = f"history-{i:06d}"
        put({"pk": {"S": f"A#{slug}"}, "sk": {"S": "TOTAL"}, "slug": {"S": slug}, "rk": {"S": "ALL"},
             "born": {"S": f"{shard}|{'0' * 40}"}, **fence, **counts(500)})  # fmt: skip
    for d in range(1, n_days + 1):
        day = (window_start - dt.timedelta(days=d)).isoformat()
        put({"pk": {"S": "SITE"}, "sk": {"S": f"D#{day}"}, **fence, **counts(20_000), "articles": {"N": "3"}})
        for j in range(articles_per_day):
            slug = f"history-{rng.randrange(extra_articles or 1):06d}"
            put({"pk": {"S": f"A#{slug}"}, "sk": {"S": f"D#{day}"}, "slug": {"S": slug}, "rk": {"S": f"D#{day}"},
                 **fence, **counts(200 - j)})  # fmt: skip
    return {"items": written, "days": n_days, "articles": extra_articles}


# -- the real ingest handler, for its per-invocation duration ------------------------------------------------


def calibrate_ingest(run: HitstreamRun, n: int) -> list[float]:
    """Durations (ms) of the real ingest Lambda handler on HTTP API events, in-process. Run last: these hits
    land on today's date under their own slugs and are not part of the workload."""
    from twin.server import api_event

    run.meter.phase = "calibration"
    out = []
    for i in range(n):
        headers = {"host": "127.0.0.1", "user-agent": workload.ua_of(i), "content-type": "text/plain"}
        event = api_event("POST", f"/statistics/bench-calibration-{i % 20}/hits", headers, b"{}", workload.ip_of(i))
        t0 = time.perf_counter()
        res = run.backend.invoke("ingest", event)
        out.append((time.perf_counter() - t0) * 1000)
        if res.get("statusCode") != 202:
            raise RuntimeError(f"ingest handler returned {res.get('statusCode')}")
    run.meter.phase = "other"
    return out


def billed_ms(ms: float) -> int:
    return max(1, math.ceil(ms))


def median(values: list[float] | array.array) -> float:
    return float(statistics.median(values)) if len(values) else 0.0
