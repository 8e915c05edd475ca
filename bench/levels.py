"""One traffic level: a warmed store, a steady-state sample of simulated time, both designs on the same events.

A level is a rate (hits a day) on a stream with a plausible number of shards. The sample is the traffic of
one shard over `span_s` simulated seconds: shards fold independently and see statistically the same
traffic, so one shard at rate/shards is the level's per-hit cost. The span is a whole number of every
freshness setting's tumbling window, so no window is cut short. Before the sample, the store is warmed:
the previous day and the sampled day's morning are ingested and aggregated by the real code on all shards
(so counter items carry every shard's fence, ranks exist), then their counts are raised to what the level's
traffic would have made them (uncounted, straight into moto), so rank buckets move as rarely as they would.
"""

from __future__ import annotations

import array
import bisect
import copy
import datetime as dt
import itertools
import math
import random
import statistics
import time
import zlib
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from bench import esm_sim, workload
from bench.meter import Meter, Tally
from bench.workload import Counts, Event

DAY_S = 86400
PAGES_PER_VISIT = 1.5
LIKE_RATE = 0.05
ZIPF_S = 1.0
HISTORY_DAYS = 30  # the warm store's all-time counts stand for this many days of the level's traffic
DDB_LATENCY_MS = 5.0  # modelled round trip of one DynamoDB request from Lambda (moto answers in-process)
AGGREGATE_WRITE_CONCURRENCY = 16  # stacks/constants.py: the aggregator's parallel writes on AWS


@dataclass(frozen=True)
class Level:
    hits_per_day: int
    shards: int
    articles: int

    @property
    def shard_rate(self) -> float:
        """Hits per second on one shard."""
        return self.hits_per_day / DAY_S / self.shards


# Shards: DynamoDB Streams has a shard per table partition; a partition holds 10 GB and 1,000 WCU/s. The
# events table keeps 30 days of visitor-day items of ~250 bytes: ~45 GB at 10M hits a day (5 partitions),
# ~4.5 GB at 1M (1-2); below that one partition holds everything. docs/benchmarks.md states the rule.
LEVELS = (
    Level(1_000, 1, 50),
    Level(10_000, 1, 200),
    Level(100_000, 1, 500),
    Level(1_000_000, 2, 1_000),
    Level(10_000_000, 4, 2_000),
)


def shard_id(i: int) -> str:
    return f"shardId-{i:020d}-bench{i:04d}"


def sample_span(
    level: Level, max_hits: int, windows: list[int], max_span_s: int = 12 * 3600, whole_windows: bool = True
) -> int:
    """Simulated seconds of one shard's traffic: about max_hits hits, at most 12 h (one UTC day's daytime),
    a whole number of every tumbling window and at least one of the longest. Without `whole_windows` (the
    smoke run) the span is just short: it exercises the code, its per-hit figures are not steady-state."""
    unit = math.lcm(*windows)
    span = min(max_span_s, max_hits / level.shard_rate)
    if not whole_windows:
        return max(1, int(span))
    return max(unit, int(span // unit) * unit)


# -- traffic -------------------------------------------------------------------------------------------------


def generate(level: Level, start: float, span_s: int, seed: int, visitor_base: int = 0) -> list[Event]:
    """Poisson visits at the level's full rate; a visit is a visitor, a geometric number of pages (mean 1.5,
    20-120 s apart) of Zipf(1) articles, a like after a view with probability 0.05. Only the visitor-days
    whose key hashes to the sampled shard are kept (the events item key is the visitor-day)."""
    rng = random.Random(seed)
    weights = list(itertools.accumulate(1.0 / (i**ZIPF_S) for i in range(1, level.articles + 1)))
    top = weights[-1]
    visit_rate = level.hits_per_day / DAY_S / PAGES_PER_VISIT
    pool = max(100, level.hits_per_day // 2)  # returning visitors: a day's visits come from this population
    day = dt.datetime.fromtimestamp(start, dt.UTC).strftime("%Y-%m-%d")
    end = start + span_s
    events: list[Event] = []
    t = start
    while True:
        t += rng.expovariate(visit_rate)
        if t >= end:
            break
        visitor = visitor_base + rng.randrange(pool)
        keep = level.shards == 1 or zlib.crc32(f"{day}#{visitor}".encode()) % level.shards == 0
        ts = t
        while ts < end:
            article = bisect.bisect_left(weights, rng.random() * top)
            if keep:
                events.append(Event(ts, "hit", workload.slug(article + 1), visitor))
            if rng.random() < LIKE_RATE and ts + 20 < end and keep:
                events.append(Event(ts + 20, "like", workload.slug(article + 1), visitor))
            if rng.random() < 1 / PAGES_PER_VISIT:
                break
            ts += rng.uniform(20, 120)
    events.sort(key=lambda e: (e.ts, e.visitor, e.kind))
    return events


def share(level: Level, article: int) -> float:
    """The Zipf share of traffic of article number `article` (1-based)."""
    norm = sum(1.0 / (i**ZIPF_S) for i in range(1, level.articles + 1))
    return 1.0 / (article**ZIPF_S) / norm


# -- the real code, through the compatibility of two generations of its interface ----------------------------


def beacon(kind: str, slug: str, visitor: int, site: str) -> Any:
    from hitstream.pipeline.ingest import Beacon, Kind

    kw: dict[str, Any] = {"kind": Kind(kind), "slug": slug, "ip": workload.ip_of(visitor)}
    kw["user_agent"] = workload.ua_of(visitor)
    if "site" in Beacon.__dataclass_fields__:
        kw["site"] = site
    return Beacon(**kw)


def default_site() -> str:
    from hitstream.config import settings

    return str(getattr(settings(), "default_site", "localhost"))


# -- moto access that is not a DynamoDB request (uncounted) --------------------------------------------------


def _moto_table(name: str) -> Any:
    from moto.core import DEFAULT_ACCOUNT_ID
    from moto.dynamodb.models import dynamodb_backends

    return dynamodb_backends[DEFAULT_ACCOUNT_ID]["us-east-1"].get_table(name)


def snapshot(name: str) -> Any:
    return copy.deepcopy(_moto_table(name).items)


def restore(name: str, items: Any) -> None:
    _moto_table(name).items = copy.deepcopy(items)


class StreamTap:
    """New records of the events table's stream, straight from moto's shard, as Lambda delivers them."""

    def __init__(self, table: str, stream_arn: str) -> None:
        self.shard = _moto_table(table).stream_shard
        self.seen = len(self.shard.items)
        self.arn = stream_arn

    def take(self) -> list[dict[str, Any]]:
        from twin.backend import lambda_record

        new = self.shard.items[self.seen :]
        self.seen = len(self.shard.items)
        out = []
        for item in new:
            rec = item.record
            body = rec["dynamodb"]
            # moto emits an extra key-only INSERT when UpdateItem creates an item; DynamoDB does not.
            if rec["eventName"] == "REMOVE" or body.get("NewImage") == body.get("Keys"):
                continue
            out.append(lambda_record(copy.deepcopy(rec), self.arn))
        return out


# -- one level -----------------------------------------------------------------------------------------------


@dataclass
class FreshnessResult:
    freshness_s: int
    batching_s: int
    tumbling_s: int
    tallies: dict[str, Tally]
    invocations: int
    nonempty_invocations: int
    records: int
    handler_seconds: float
    lags: list[float]
    unseen: int
    failures: int
    hottest: tuple[tuple[str, str, str], int]
    counts_ok: bool
    mismatches: list[str] = field(default_factory=list)
    wall_s: float = 0.0


@dataclass
class LevelResult:
    level: Level
    span_s: int
    start: float
    hits: int
    likes: int
    ingest: dict[str, Tally]
    ingest_handler_ms: float
    fresh: list[FreshnessResult]
    truth_articles: Counts
    truth_site: Counts
    warm_items: int
    wall_s: float = 0.0
    timings: dict[str, float] = field(default_factory=dict)
    events: list[Event] = field(default_factory=list)
    fresh_plans: list[list[esm_sim.Invocation]] = field(default_factory=list)


def _p(values: list[float], q: float) -> float:
    if not values:
        return 0.0
    values = sorted(values)
    return values[min(len(values) - 1, math.ceil(q * len(values)) - 1)]


def classify_for(cfg: Any) -> Any:
    def classify(key: tuple[str, str, str]) -> str:
        table, pk, _sk = key
        if table == cfg.events_table:
            return "events"
        if table == cfg.stats_table and pk != "SALT":
            return "counters"
        return "other"  # salts (their own table, or the stats table in the twin), anything else

    return classify


API_CHECKS = 10  # articles also checked through the real query handler (all-time totals), most popular first


def day_counts(table: str, slugs: list[str], site: str, day: str) -> tuple[Counts, tuple[int, int, int]]:
    """Counts of the sampled day's article and site items, read from moto (uncounted)."""
    from hitstream.storage import schema

    from bench.run import _moto_item

    def triple(item: dict[str, Any]) -> tuple[int, int, int]:
        return int(item.get("hits", 0)), int(item.get("visitors", 0)), int(item.get("likes", 0))

    articles = {s: triple(_moto_item(table, schema.article_pk(site, s), schema.day_sk(day))) for s in slugs}
    return articles, triple(_moto_item(table, schema.site_pk(site), schema.day_sk(day)))


def _compare(
    got: Counts,
    base: Counts,
    got_site: tuple[int, int, int],
    base_site: tuple[int, int, int],
    truth: Counts,
    truth_site: Counts,
    label: str = "",
) -> list[str]:
    """What the run added to each article and to the site must equal the ground truth of the sample."""
    out = []
    for slug, now in got.items():
        delta = tuple(a - b for a, b in zip(now, base[slug], strict=True))
        if delta != truth.get(slug, (0, 0, 0)):
            out.append(f"{label}{slug}: {delta} != {truth.get(slug, (0, 0, 0))}")
    site_delta = tuple(a - b for a, b in zip(got_site, base_site, strict=True))
    site_truth = tuple(sum(v[j] for v in truth_site.values()) for j in range(3))
    if site_delta != site_truth:
        out.append(f"{label}site: {site_delta} != {site_truth}")
    return out


def api_counts(backend: Any, slugs: list[str], site: str) -> tuple[Counts, tuple[int, int, int]]:
    """All-time counts per article and for the site, through the real query handler (public reads)."""
    from twin.server import api_event

    headers = {"host": "127.0.0.1", "user-agent": workload.BROWSERS[0]}
    out: Counts = {}
    for slug in slugs:
        res = backend.invoke("query", api_event("GET", f"/statistics/{slug}?site={site}", headers, b"", "203.0.113.9"))
        body = __import__("json").loads(res["body"])
        out[slug] = (int(body["hits"]), int(body["visitors"]), int(body["likes"]))
    res = backend.invoke("query", api_event("GET", f"/statistics?site={site}", headers, b"", "203.0.113.9"))
    body = __import__("json").loads(res["body"])
    return out, (int(body["hits"]), int(body["visitors"]), int(body["likes"]))


def calibrate_ingest(backend: Any, n: int, site: str, now: float) -> float:
    """Median in-process ms of the real ingest Lambda handler on HTTP API events (meter off)."""
    from twin.server import api_event

    out = []
    for i in range(n):
        ua = workload.ua_of(i)
        headers = {"host": site, "user-agent": ua, "content-type": "text/plain", "origin": f"http://{site}"}
        event = api_event("POST", f"/statistics/bench-calibration-{i % 7}/hits?site={site}", headers, b"{}",
                          f"198.51.100.{i % 250}")  # fmt: skip
        t0 = time.perf_counter()
        res = backend.invoke("ingest", event)
        out.append((time.perf_counter() - t0) * 1000)
        if res.get("statusCode") != 202:
            raise RuntimeError(f"ingest handler returned {res.get('statusCode')}: {res.get('body')}")
    return float(statistics.median(out))


def run_level(
    level: Level,
    *,
    freshness: list[int],
    max_hits: int,
    seed: int,
    day: str = "2026-01-07",
    calibration: int = 30,
    whole_windows: bool = True,
    progress: Any = None,
    naive_submit: Any = None,
) -> tuple[LevelResult, Any, Any]:
    """Run one level through the real ingest and aggregate code. Returns the result, the backend (still
    running, for the caller's queries; close it) and the naive future (or None)."""
    from hitstream.config import settings
    from hitstream.storage import clients, schema

    from twin.backend import Backend

    t_level = time.monotonic()
    # Public dashboard: the owner-token check is one GetItem per query container a minute, not a per-hit cost.
    backend = Backend(shards=1, seed=seed, env={"DASHBOARD": "public"})
    cfg = settings()
    site = default_site()
    windows = [schema.stream_windows(f) for f in freshness]
    day_start = dt.datetime.fromisoformat(day).replace(tzinfo=dt.UTC).timestamp()
    span = sample_span(level, max_hits, [w[1] for w in windows], whole_windows=whole_windows)
    unit = math.lcm(*[w[1] for w in windows])
    start = math.ceil((day_start + 6 * 3600) / unit) * unit
    events = generate(level, start, span, seed)
    naive_future = naive_submit(events) if naive_submit is not None else None
    truth_articles, truth_site = workload.expected(events)

    meter = Meter(classify=classify_for(cfg))
    meter.attach(clients.dynamodb())
    ingest_ms = calibrate_ingest(backend, calibration, site, start) if calibration else 0.0

    # -- warm: yesterday and this morning, on every shard, by the real code; then scaled up (uncounted) ------
    meter.enabled = False
    tap = StreamTap(cfg.events_table, backend.stream_arn)
    rng = random.Random(seed + 1)
    warm: list[esm_sim.Arrival] = []
    base = 10_000_000  # warm-up visitors never collide with the sample's
    morning_s = start - day_start
    touched = sorted({e.slug for e in events})
    from hitstream.pipeline.ingest import record

    for slug in touched:
        # one warm hit per article the sample touches: this morning if its traffic makes one by then (the
        # day item exists), else yesterday (only its all-time item exists)
        n = int(slug.rsplit("-", 1)[1])
        expected_morning = share(level, n) * level.hits_per_day * morning_s / DAY_S
        ts = day_start + rng.random() * (morning_s - 60) if expected_morning >= 1 else day_start - DAY_S / 2
        record(beacon("hit", slug, base + n, site), cfg, now=ts)
        for rec in tap.take():
            rec["dynamodb"]["ApproximateCreationDateTime"] = int(ts)
            key = repr(sorted(rec["dynamodb"]["Keys"].items())).encode()
            warm.append(esm_sim.Arrival(ts, shard_id(zlib.crc32(key) % level.shards), rec))
    # delivered in big batches: the warm-up's own cost is not measured, only its result
    plan = esm_sim.plan(warm, batching_s=DAY_S, tumbling_s=DAY_S)
    esm_sim.run(
        plan,
        lambda ev: backend.invoke("aggregate", ev),
        stream_arn=backend.stream_arn,
        tumbling_s=DAY_S,
        duration=lambda inv: 0.0,
    )
    warm_items = inflate(cfg.stats_table, level, site, day, morning_s)
    slugs = touched
    base_articles, base_site = day_counts(cfg.stats_table, slugs, site, day)
    base_api = api_counts(backend, slugs[:API_CHECKS], site)
    stats_snapshot = snapshot(cfg.stats_table)

    # -- the sample: ingest once (metered), keep each record's arrival time --------------------------------
    meter.enabled = True
    meter.tallies.clear()
    meter.phase = "ingest"
    from hitstream.pipeline.ingest import record

    arrivals: list[esm_sim.Arrival] = []
    sampled = shard_id(0)
    done = [0]
    if progress is not None:
        progress.sources[f"{level.hits_per_day:,}/day"] = lambda: (done[0], len(events))
    t_ingest = time.monotonic()
    for i, e in enumerate(events):
        record(beacon(e.kind, e.slug, e.visitor, site), cfg, now=e.ts)
        for rec in tap.take():
            rec["dynamodb"]["ApproximateCreationDateTime"] = int(e.ts)
            arrivals.append(esm_sim.Arrival(e.ts, sampled, rec, 1 if e.kind == "hit" else 0))
        done[0] = i + 1
    ingest_tallies = {k: v for k, v in meter.tallies.items()}
    timings = {"warm_s": t_ingest - t_level, "ingest_s": time.monotonic() - t_ingest}
    hits = sum(e.kind == "hit" for e in events)
    likes = len(events) - hits

    # -- aggregate, once per freshness setting, from the same warmed store --------------------------------
    fresh: list[FreshnessResult] = []
    plans: list[list[esm_sim.Invocation]] = []
    for f, (batching, tumbling) in zip(freshness, windows, strict=True):
        t_f = time.monotonic()
        restore(cfg.stats_table, stats_snapshot)
        meter.tallies.clear()
        meter.item_writes.clear()
        meter.phase = "aggregate"
        plan = esm_sim.plan(arrivals, batching_s=batching, tumbling_s=tumbling)
        clock: dict[str, Any] = {}

        def handler(event: dict[str, Any], clock: dict[str, Any] = clock) -> dict[str, Any] | None:
            before = meter.total("counters", "other")
            clock["reqs0"], clock["writes0"] = before.requests + before.reads, meter.tallies["counters"].writes
            t0 = time.perf_counter()
            try:
                return backend.invoke("aggregate", event)
            finally:
                clock["wall"] = time.perf_counter() - t0

        def duration(inv: esm_sim.Invocation, clock: dict[str, Any] = clock) -> float:
            after = meter.total("counters", "other")
            requests = after.requests + after.reads - clock["reqs0"]
            inv.wrote += meter.tallies["counters"].writes - clock["writes0"]
            rounds = math.ceil(requests / AGGREGATE_WRITE_CONCURRENCY) if requests else 0
            return float(clock["wall"]) + rounds * DDB_LATENCY_MS / 1000

        outcome = esm_sim.run(
            plan,
            handler,
            stream_arn=backend.stream_arn,
            tumbling_s=tumbling,
            duration=duration,
        )
        plans.append(plan)
        seen = esm_sim.visible_at(plan)
        lags = [seen[id(a)] - a.t for inv in plan for a in inv.records if a.hits and id(a) in seen]
        unseen = sum(1 for inv in plan for a in inv.records if a.hits and id(a) not in seen)
        stats_writes = Counter({k: n for k, n in meter.item_writes.items() if k[0] == cfg.stats_table})
        meter.enabled = False
        got_articles, got_site = day_counts(cfg.stats_table, slugs, site, day)
        got_api = api_counts(backend, slugs[:API_CHECKS], site)
        meter.enabled = True
        mismatches = _compare(got_articles, base_articles, got_site, base_site, truth_articles, truth_site)
        mismatches += _compare(got_api[0], base_api[0], got_api[1], base_api[1], truth_articles, truth_site, "api ")
        fresh.append(
            FreshnessResult(
                freshness_s=f,
                batching_s=batching,
                tumbling_s=tumbling,
                tallies={k: v for k, v in meter.tallies.items()},
                invocations=len(plan),
                nonempty_invocations=sum(1 for inv in plan if inv.records),
                records=sum(len(inv.records) for inv in plan),
                handler_seconds=sum(inv.seconds for inv in plan),
                lags=lags,
                unseen=unseen,
                failures=int(outcome["failures"]),
                hottest=stats_writes.most_common(1)[0] if stats_writes else (("", "", ""), 0),
                counts_ok=not mismatches,
                mismatches=mismatches[:5],
                wall_s=time.monotonic() - t_f,
            )
        )
    result = LevelResult(
        level=level,
        span_s=span,
        start=start,
        hits=hits,
        likes=likes,
        ingest=ingest_tallies,
        ingest_handler_ms=ingest_ms,
        fresh=fresh,
        truth_articles=truth_articles,
        truth_site=truth_site,
        warm_items=warm_items,
        timings=timings,
        events=events,
        fresh_plans=plans,
        wall_s=time.monotonic() - t_level,
    )
    meter.phase = "other"
    setattr(backend, "bench_meter", meter)  # noqa: B010 - the caller measures queries with the same meter
    return result, backend, naive_future


def inflate(table_name: str, level: Level, site: str, day: str, morning_s: float) -> int:
    """Raise the warm store's counts to what the level's traffic would have made them: yesterday's and this
    morning's day items, and all-time items standing for HISTORY_DAYS days. Rank buckets follow the counts.
    Written into moto directly: not DynamoDB requests, not counted."""
    from hitstream.storage import schema
    from moto.dynamodb.models.dynamo_type import DynamoType

    table = _moto_table(table_name)
    yesterday = (dt.date.fromisoformat(day) - dt.timedelta(days=1)).isoformat()
    per_day = level.hits_per_day
    site_pk = schema.site_pk(site)

    def article_pk(slug: str) -> str:
        return schema.article_pk(site, slug)

    targets: dict[tuple[str, str], float] = {
        (site_pk, schema.TOTAL): per_day * HISTORY_DAYS,
        (site_pk, schema.day_sk(yesterday)): per_day,
        (site_pk, schema.day_sk(day)): per_day * morning_s / DAY_S,
    }
    for n in range(1, level.articles + 1):
        pk, p = article_pk(workload.slug(n)), share(level, n)
        targets[(pk, schema.TOTAL)] = p * per_day * HISTORY_DAYS
        targets[(pk, schema.day_sk(yesterday))] = p * per_day
        targets[(pk, schema.day_sk(day))] = p * per_day * morning_s / DAY_S
    changed = 0
    for item in list(table.all_items()):
        pk = item.hash_key.value
        sk = item.range_key.value if item.range_key is not None else ""
        target = targets.get((pk, sk))
        if target is None or "hits" not in item.attrs:
            continue
        hits = max(int(item.attrs["hits"].value), int(target))
        item.attrs["hits"] = DynamoType({"N": str(hits)})
        for name, ratio in (("visitors", 0.75), ("likes", 0.04)):
            if name in item.attrs:
                value = max(int(item.attrs[name].value), int(hits * ratio))
                item.attrs[name] = DynamoType({"N": str(value)})
        if schema.RANK_SK in item.attrs:
            item.attrs[schema.RANK_SK] = DynamoType({"N": str(schema.bucket(hits))})
        changed += 1
    return changed


# -- the naive baseline on the same events ---------------------------------------------------------------------

NAIVE_TABLE = "bench-naive"


def naive_run(events: list[Event], own_mock: bool = True) -> dict[str, Any]:
    """The naive design over `events` on its own moto table: tally, counts, per-event in-process ms."""
    from twin.backend import prepare_environment

    prepare_environment()
    mock = None
    if own_mock:
        from moto import mock_aws

        mock = mock_aws()
        mock.start()
    import boto3

    from bench.naive import NaiveStore, table_definition

    client = boto3.client("dynamodb", region_name="us-east-1")
    client.create_table(**table_definition(NAIVE_TABLE))
    meter = Meter()
    meter.attach(client)
    meter.phase = "naive"
    store = NaiveStore(client, NAIVE_TABLE)
    ms = array.array("d")
    for e in events:
        day = e.day
        start = int(dt.datetime.fromisoformat(day).replace(tzinfo=dt.UTC).timestamp())
        t0 = time.perf_counter()
        vid = store.visitor(day, workload.ip_of(e.visitor), workload.ua_of(e.visitor))
        (store.hit if e.kind == "hit" else store.like)(e.slug, day, start, vid)
        ms.append((time.perf_counter() - t0) * 1000)
    from bench.run import read_counts

    slugs = sorted({e.slug for e in events})
    days = sorted({e.day for e in events})
    articles, site = read_counts(NAIVE_TABLE, slugs, days)
    hot = meter.item_writes.most_common(1)
    out = {
        "tally": meter.total(),
        "articles": articles,
        "site": site,
        "ms_median": float(statistics.median(ms)) if ms else 0.0,
        "hottest": hot[0] if hot else (("", "", ""), 0),
    }
    if mock is not None:
        mock.stop()
    return out
