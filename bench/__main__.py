"""`python -m bench` (what `make bench` runs); `python -m bench --smoke` is a tiny run of the same code path."""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

from bench import report, run, workload
from bench.progress import Progress


def parse(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    p.add_argument("--smoke", action="store_true", help="a tiny workload (300 hits, 20 articles), no docs")
    p.add_argument("--hits", type=int)
    p.add_argument("--articles", type=int)
    p.add_argument("--visitors", type=int)
    p.add_argument("--days", type=int)
    p.add_argument("--seed", type=int, default=7)
    p.add_argument("--shards", type=int, default=1, help="stream shards (a single-partition table has one)")
    p.add_argument("--workers", type=int, help="processes for the naive run (0 = in this process)")
    p.add_argument("--naive-literal", action="store_true", help="visitor increments as separate UpdateItems")
    p.add_argument("--twin-hits", type=int)
    p.add_argument("--import-runs", type=int)
    p.add_argument("--docs", action=argparse.BooleanOptionalAction, default=None, help="write docs/benchmarks.*")
    p.add_argument("--quiet", action="store_true", help="no progress line")
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> dict[str, Any]:
    args = parse(argv)
    if args.smoke:
        spec = workload.Spec(hits=300, articles=20, visitors=60, days=2, seed=args.seed)
        defaults = {"workers": 0, "twin_hits": 60, "import_runs": 1, "docs": False}
    else:
        spec = workload.Spec(seed=args.seed)
        defaults = {"workers": 2, "twin_hits": 2000, "import_runs": 5, "docs": True}
    overrides = {k: getattr(args, k) for k in ("hits", "articles", "visitors", "days") if getattr(args, k)}
    spec = workload.Spec(**{**asdict(spec), **overrides})
    opt = {k: v if (v := getattr(args, k)) is not None else d for k, d in defaults.items()}
    from twin.backend import prepare_environment

    prepare_environment()  # functions/ on sys.path, the twin's local AWS settings
    from hitstream.schema import STREAM_BATCH_SIZE

    started = time.monotonic()
    events = workload.generate(spec)
    truth_articles, truth_site = workload.expected(events)
    likes_sent = sum(e.kind == "like" for e in events)
    with Progress(enabled=not args.quiet) as progress:
        pool = None
        naive_parts: list[dict[str, Any]] = []
        if opt["workers"] > 0:
            pool, futures, counter = run.start_naive(spec, opt["workers"], args.naive_literal)
            progress.sources["naive"] = lambda: (int(counter.value), len(events))
        progress.set("hitstream: ingest+stream")
        hs = run.run_hitstream(spec, events, shards=args.shards, batch_size=STREAM_BATCH_SIZE, progress=progress)
        progress.set("queries")
        q_small, q_small_ms = run.measure_queries(hs, spec, "small")
        progress.set("growing history 100x")
        grown = run.grow_history(spec, articles_per_day=min(100, spec.articles))
        q_large, _ = run.measure_queries(hs, spec, "large")
        progress.set("ingest handler timing")
        calibration = run.calibrate_ingest(hs, 300 if not args.smoke else 30)
        hs.backend.close()
        progress.set("naive")
        if pool is None:
            from twin.backend import Backend

            b = Backend(shards=1)  # a fresh moto for the naive table
            try:
                naive_parts = [run.naive_worker(asdict(spec), 0, 1, args.naive_literal, own_mock=False)]
            finally:
                b.close()
        else:
            naive_parts = [f.result() for f in futures]
            pool.shutdown()
        naive = run.merge_naive(naive_parts)
        progress.set("cold imports")
        cold = __import__("bench.probes", fromlist=["cold_imports"]).cold_imports(opt["import_runs"])
        progress.set("twin over HTTP")
        from bench import probes

        twin = probes.twin_throughput(opt["twin_hits"])
        progress.set("done")

    hits = spec.hits
    h, n = hs.result, naive
    overhead = max(0.0, run.median(calibration) - run.median(h.event_ms))
    ingest_billed = sum(run.billed_ms(overhead + t) for t in h.event_ms)
    naive_billed = sum(run.billed_ms(overhead + t) for t in n.event_ms)
    agg_billed = sum(run.billed_ms(t) for t in hs.aggregate_ms)
    n_events = len(events)
    h_cost = report.per_million(
        {
            "dynamodb_write": h.tally.wru * report.PRICE["wru"],
            "dynamodb_read": h.tally.rru * report.PRICE["rru"],
            "lambda_ingest": report.lambda_cost(n_events, ingest_billed, report.MEMORY_GB["ingest"]),
            "lambda_aggregate": report.lambda_cost(hs.invocations, agg_billed, report.MEMORY_GB["aggregate"]),
            "http_api": n_events * report.PRICE["http_api_request"],
        },
        hits,
    )
    n_cost = report.per_million(
        {
            "dynamodb_write": n.tally.wru * report.PRICE["wru"],
            "dynamodb_read": n.tally.rru * report.PRICE["rru"],
            "lambda_ingest": report.lambda_cost(n_events, naive_billed, report.MEMORY_GB["ingest"]),
            "http_api": n_events * report.PRICE["http_api_request"],
        },
        hits,
    )
    h_hot, h_hot_n = h.hottest()
    n_hot, n_hot_n = n.hottest()
    match_truth = h.article_counts == truth_articles and h.site_counts == truth_site
    match_naive = h.article_counts == n.article_counts and h.site_counts == n.site_counts
    metrics: dict[str, Any] = {
        "hits": hits,
        "likes_sent": likes_sent,
        "wru_per_hit": h.tally.wru / hits,
        "naive_wru_per_hit": n.tally.wru / hits,
        "rru_per_hit": h.tally.rru / hits,
        "naive_rru_per_hit": n.tally.rru / hits,
        "requests_per_hit": h.tally.requests / hits,
        "naive_requests_per_hit": n.tally.requests / hits,
        "gsi_wru_per_hit": h.tally.gsi_wru / hits,
        "hot_item_writes_per_1000_hits": h_hot_n * 1000 / hits,
        "naive_hot_item_writes_per_1000_hits": n_hot_n * 1000 / hits,
        "query_rru_small": q_small,
        "query_rru_large": q_large,
        "cost_usd_per_million_hits": h_cost["total"],
        "naive_cost_usd_per_million_hits": n_cost["total"],
        "cold_import_ratio": cold["ratio"],
        "cold_import_ratio_max": cold["max_ratio"],
        "twin_hits_per_s": twin["hits_per_s"],
        "twin_lost": twin["lost"],
        "counts_match": match_truth and match_naive,
        "counts_match_naive": match_naive,
        "counts_match_truth": match_truth,
        "aggregate_invocations": hs.invocations,
        "dlq": h.extra.get("dlq", 0),
    }
    metrics["goals"] = report.goals(metrics)
    metrics["goals_met"] = sum(g["met"] for g in metrics["goals"])
    metrics["goals_total"] = len(metrics["goals"])
    metrics["seconds"] = round(time.monotonic() - started, 1)

    def side(
        r: run.DesignResult, hot: tuple[str, str, str], cost: dict[str, float], ingest_ms: float
    ) -> dict[str, Any]:
        d = r.tally.as_dict()
        d.update(
            phases={k: v.as_dict() for k, v in r.phases.items()},
            hot_item="/".join(p for p in hot[1:] if p)[:13],
            hot_item_full="/".join(hot),
            largest_item=max(r.largest_item.values(), default=0),
            cost=cost,
            ingest_ms=ingest_ms,
        )
        return d

    h_side = side(h, h_hot, h_cost, sum(h.event_ms) / max(1, len(h.event_ms)))
    for phase in ("ingest", "aggregate", "salt"):
        h_side["phases"].setdefault(phase, {"wru": 0.0})
    h_side.update(invocations=hs.invocations, mean_batch=sum(hs.batch_sizes) / max(1, len(hs.batch_sizes)))
    details = {
        "spec": asdict(spec),
        "batch_size": STREAM_BATCH_SIZE,
        "shards": args.shards,
        "workers": opt["workers"],
        "naive_literal": args.naive_literal,
        "hitstream": h_side,
        "naive": side(n, n_hot, n_cost, sum(n.event_ms) / max(1, len(n.event_ms))),
        "cold_import": cold,
        "twin": twin,
        "history": grown,
        "query_ms_small": q_small_ms,
        "ingest_handler_ms_median": run.median(calibration),
        "ingest_overhead_ms": overhead,
        "aggregate_ms_median": run.median(hs.aggregate_ms),
        "paths": run.query_paths(spec),
    }
    if os.environ.get("BENCH_DETAILS_OUT"):  # everything, for re-rendering the docs without a re-run
        Path(os.environ["BENCH_DETAILS_OUT"]).write_text(
            json.dumps({"metrics": metrics, "details": details}, default=float)
        )
    text = report.table(metrics, details)
    print(text)
    if opt["docs"]:
        from bench import docs

        docs.write(metrics, details, text)
        print(f"\nwrote {report.DOCS / 'benchmarks.md'} and {report.DOCS / 'benchmarks.png'}")
    print(json.dumps(metrics, sort_keys=False, default=float))
    sys.stdout.flush()
    return metrics


if __name__ == "__main__":
    main()
