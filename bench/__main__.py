"""`python -m bench` (what `make bench` runs); `python -m bench --smoke` is a tiny run of the same code path.

Every traffic level runs through the real ingest and aggregate handlers on moto, in simulated time, with the
naive per-hit design on the same events beside it. The last stdout line is one JSON object.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from bench import levels, report
from bench.progress import Progress

HEADLINE = (100_000, None)  # hits/day and freshness (None: the default) whose figures head the JSON
ECONOMY_S = 600


def parse(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    p.add_argument("--smoke", action="store_true", help="every level tiny (a few hundred hits in all), no docs")
    p.add_argument("--max-hits", type=int, help="real hits per level, at most (the sampled span is shorter)")
    p.add_argument("--levels", help="comma-separated hits/day to run (default: all five)")
    p.add_argument("--seed", type=int, default=7)
    p.add_argument("--cold-runs", type=int)
    p.add_argument("--workers", type=int, help="processes for the naive design (0 = after each level, here)")
    p.add_argument("--docs", action=argparse.BooleanOptionalAction, default=None, help="write docs/benchmarks.*")
    p.add_argument("--quiet", action="store_true", help="no progress line")
    return p.parse_args(argv)


MAX_HITS = {1_000: 600, 10_000: 2_500, 100_000: 3_000, 1_000_000: 3_000, 10_000_000: 3_000}


def main(argv: list[str] | None = None) -> dict[str, Any]:
    args = parse(argv)
    smoke = args.smoke
    opt = {
        "cold_runs": args.cold_runs if args.cold_runs is not None else (1 if smoke else 5),
        "workers": args.workers if args.workers is not None else (0 if smoke else 1),
        "docs": args.docs if args.docs is not None else not smoke,
    }
    from twin.backend import prepare_environment

    prepare_environment({"DASHBOARD": "public"})
    from hitstream.storage import schema

    started = time.monotonic()
    default_s = schema.DEFAULT_FRESHNESS_S
    freshness = [default_s, ECONOMY_S]
    chosen = [lv for lv in levels.LEVELS if not args.levels or str(lv.hits_per_day) in args.levels.split(",")]
    head_level = HEADLINE[0] if any(lv.hits_per_day == HEADLINE[0] for lv in chosen) else chosen[0].hits_per_day

    pool = None
    if opt["workers"] > 0:
        import multiprocessing as mp
        from concurrent.futures import ProcessPoolExecutor

        pool = ProcessPoolExecutor(max_workers=opt["workers"], mp_context=mp.get_context("spawn"))

    rows: list[dict[str, Any]] = []
    results: list[tuple[Any, Any]] = []
    queries: dict[str, Any] = {}
    sample_records: list[dict[str, Any]] = []
    with Progress(enabled=not args.quiet) as progress:
        progress.set("synth (alarms, memory)")
        facts = _synth_facts()
        for level in chosen:
            progress.set(f"level {level.hits_per_day:,}/day")
            cap = args.max_hits or (60 if smoke else MAX_HITS[level.hits_per_day])

            def submit(events: list[Any]) -> Any:
                return pool.submit(levels.naive_run, events) if pool is not None else None

            lr, backend, future = levels.run_level(
                level,
                freshness=freshness,
                max_hits=cap,
                seed=args.seed,
                calibration=5 if smoke else 30,
                whole_windows=not smoke,
                progress=progress,
                naive_submit=submit,
            )
            if level.hits_per_day == head_level:
                meter = getattr(backend, "bench_meter")  # noqa: B009
                site = levels.default_site()
                day = time.strftime("%Y-%m-%d", time.gmtime(lr.start))
                queries["small"] = _queries(backend, meter, day, site)
                from bench.run import grow_history

                progress.set("growing history")
                queries["history"] = grow_history(backend.settings.stats_table, site, day,
                                                  **({"factor_days": 20, "articles": 200} if smoke else {}))  # fmt: skip
                queries["large"] = _queries(backend, meter, day, site)
                sample_records = [a.record for inv in lr.fresh_plans[0] for a in inv.records][:20]
            backend.close()
            naive = levels.naive_run(list(lr.events), own_mock=True) if future is None else None
            results.append((lr, future if naive is None else naive))
        progress.set("naive (waiting)")
        naives = [(lr, n if isinstance(n, dict) else n.result()) for lr, n in results]
        if pool is not None:
            pool.shutdown()
        progress.set("cold start")
        cold = _cold_start(sample_records, opt["cold_runs"], bool(facts.get("platform_log_lines", True)))
        progress.set("done")

    obs = {
        "alarms": facts["alarms"],
        "memory_mb": {**report.MEMORY_MB, **facts["memory_mb"]},
        "metrics": len(cold["metrics"]),
        "metric_names": [m.split(":", 1)[1].split("[", 1)[0] for m in cold["metrics"]],
        "log_bytes": cold["log_bytes_per_invocation"],
        "platform_lines": cold["platform_lines"],
    }
    for lr, naive in naives:
        truth_articles, _ = lr.truth_articles, lr.truth_site
        naive["match_truth"] = naive["articles"] == truth_articles and naive["site"] == lr.truth_site
        for fr in lr.fresh:
            rows.append(report.level_row(lr, fr, naive, obs, levels.DDB_LATENCY_MS))
    head = next(r for r in rows if r["hits_per_day"] == head_level and r["freshness_s"] == default_s)
    counts_truth = all(r["counts_match_truth"] for r in rows)
    counts_naive = all(r["counts_match_naive"] for r in rows)
    metrics: dict[str, Any] = {
        "hits": head["sample_hits"],
        "wru_per_hit": head["wru_per_hit"],
        "naive_wru_per_hit": head["naive_wru_per_hit"],
        "hot_item_writes_per_1000_hits": head["hot_item_writes_per_1000_hits"],
        "naive_hot_item_writes_per_1000_hits": head["naive_hot_item_writes_per_1000_hits"],
        "query_rru_small": queries.get("small", {}),
        "query_rru_large": queries.get("large", {}),
        "cost_usd_per_million_hits": head["usd_per_million_hits"],
        "naive_cost_usd_per_million_hits": head["naive_usd_per_million_hits"],
        "headline_level": {"hits_per_day": head_level, "freshness_s": default_s},
        "hits_total": sum(lr.hits for lr, _ in naives),
        "cold_start_ratio": cold["ratio"],
        "cold_import_ratio": cold["import_ratio"],
        "counts_match": counts_truth and counts_naive,
        "counts_match_truth": counts_truth,
        "counts_match_naive": counts_naive,
        "levels": [{k: v for k, v in r.items() if k not in ("cost_per_month", "naive_cost_per_month")} for r in rows],
    }
    metrics["goals"] = report.goals(rows, cold, default_s, ECONOMY_S)
    metrics["goals_met"] = sum(g["met"] for g in metrics["goals"])
    metrics["goals_total"] = len(metrics["goals"])
    metrics["seconds"] = round(time.monotonic() - started, 1)
    details = {
        "rows": rows,
        "observability": obs,
        "cold_start": cold,
        "synth": facts,
        "history": queries.get("history", {}),
        "ddb_latency_ms": levels.DDB_LATENCY_MS,
        "timings": {f"{lr.level.hits_per_day}": {**lr.timings, "wall_s": lr.wall_s} for lr, _ in naives},
        "argv": sys.argv[1:] if argv is None else argv,
        "commit": _commit(),
        "date": time.strftime("%Y-%m-%d", time.gmtime()),
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


def _queries(backend: Any, meter: Any, day: str, site: str) -> dict[str, float]:
    from bench.run import measure_queries

    meter.enabled = True
    return measure_queries(backend, meter, day, site, "q")


def _synth_facts() -> dict[str, Any]:
    from bench import probes

    try:
        return probes.synth_facts()
    except RuntimeError as exc:  # no CDK toolchain: the stack's constants say the same
        print(f"synth unavailable ({exc}); using stacks/constants.py values", file=sys.stderr)
        return {"alarms": 5, "memory_mb": {}, "esm": {}, "billing": ["PAY_PER_REQUEST"], "synth": False}


def _cold_start(records: list[dict[str, Any]], runs: int, platform_lines: bool) -> dict[str, Any]:
    from bench import probes, workload
    from twin.server import api_event

    ua = workload.BROWSERS[0]
    headers = {"host": "localhost", "user-agent": ua, "content-type": "text/plain", "origin": "http://localhost"}
    ingest = [api_event("POST", f"/statistics/{workload.slug(i + 1)}/hits", headers, b"{}", f"198.51.100.{i}")
              for i in range(6)]  # fmt: skip
    query = [api_event("GET", f"/statistics/{workload.slug(i + 1)}", headers, b"", "198.51.100.9") for i in range(6)]
    window = {"start": "2026-01-07T06:00:00Z", "end": "2026-01-07T06:00:50Z"}
    batch = {"shardId": "shardId-00000000000000000000-bench0000", "eventSourceARN": "arn:aws:dynamodb:us-east-1:"
             "123456789012:table/hitstream-events/stream/bench", "window": window, "isWindowTerminatedEarly": False}  # fmt: skip
    aggregate = [
        {**batch, "Records": records[:10], "state": {}, "isFinalInvokeForWindow": False},
        {**batch, "Records": records[10:], "state": {}, "isFinalInvokeForWindow": False},
        {**batch, "Records": [], "state": {}, "isFinalInvokeForWindow": True},
    ]
    events = {"ingest": ingest, "query": query, "aggregate": aggregate}
    return probes.cold_start(events, runs=runs, platform_lines=platform_lines)


def _commit() -> str:
    try:
        out = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, check=True)
        dirty = subprocess.run(["git", "status", "--porcelain", "--", "functions", "bench", "stacks"],
                               capture_output=True, text=True).stdout.strip()  # fmt: skip
        return out.stdout.strip() + ("+uncommitted" if dirty else "")
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


if __name__ == "__main__":
    main()
