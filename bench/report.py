"""Cost model, per-level rows, goals and the stdout table."""

from __future__ import annotations

import itertools
import math
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"

# us-east-1 list prices. DynamoDB on-demand after the November 2024 cut (the stack's tables are
# PAY_PER_REQUEST); Lambda arm64; API Gateway HTTP API (first 300M requests); a Function URL has no request
# fee; CloudWatch Logs ingestion, custom metrics and standard-resolution alarms. Sources: docs/benchmarks.md.
PRICE = {
    "wru": 0.625 / 1e6,
    "rru": 0.125 / 1e6,
    "lambda_request": 0.20 / 1e6,
    "gb_second_arm64": 0.0000133334,
    "http_api_request": 1.00 / 1e6,
    "function_url_request": 0.0,
    "log_gb": 0.50,
    "metric_month": 0.30,
    "alarm_month": 0.10,
}
DAYS_PER_MONTH = 30
MEMORY_MB = {"ingest": 256, "aggregate": 512, "query": 256}  # replaced by the synthesized template's values

# serverless-website-analytics, "Worst case projected costs" (1 site, 15 min Firehose buffer, 200 dashboard
# views a month): page views a month -> USD a month. github.com/rehanvdm/serverless-website-analytics
# docs/COST.md (README "Worst case projected costs").
PEER = ((10_000, 2.01), (100_000, 3.24), (1_000_000, 14.64), (10_000_000, 128.74), (100_000_000, 1288.39))
PEER_SOURCE = "https://github.com/rehanvdm/serverless-website-analytics/blob/main/docs/COST.md"

# Issue 12's goals: WRU per hit at the default freshness and at the economy setting, per hits/day.
WRU_GOALS = {
    1_000: (3.0, 2.0),
    10_000: (2.2, 1.5),
    100_000: (1.6, 1.2),
    1_000_000: (1.35, 1.1),
    10_000_000: (1.2, 1.1),
}
NAIVE_RATIO_GOAL = 0.5
COST_GOALS = ((10_000, 1.50, "http_api"), (1_000_000, 35.0, "function_url"))
COLD_GOALS = {"ingest": 1.4, "query": 1.5}


def peer_usd_per_month(views_per_month: float) -> float:
    """The peer's published cost at this many views a month, linear between its published points."""
    pts = PEER
    if views_per_month <= pts[0][0]:
        return pts[0][1]
    for (x0, y0), (x1, y1) in itertools.pairwise(pts):
        if views_per_month <= x1:
            return y0 + (y1 - y0) * (views_per_month - x0) / (x1 - x0)
    (x0, y0), (x1, y1) = pts[-2], pts[-1]
    return y1 + (y1 - y0) * (views_per_month - x1) / (x1 - x0)


def lambda_usd(invocations: float, gb_seconds: float) -> float:
    return invocations * PRICE["lambda_request"] + gb_seconds * PRICE["gb_second_arm64"]


def level_row(lr: Any, fr: Any, naive: dict[str, Any], obs: dict[str, Any], ddb_latency_ms: float) -> dict[str, Any]:
    """One level and freshness setting: per-hit units from the run, scaled to a month of the level."""
    hits, events = lr.hits, lr.hits + lr.likes
    ing, agg = lr.ingest, fr.tallies

    def wru(tallies: dict[str, Any], label: str, gsi: bool | None = None) -> float:
        t = tallies.get(label)
        if t is None:
            return 0.0
        return float(t.gsi_wru if gsi else (t.wru - t.gsi_wru if gsi is False else t.wru))

    w_events = wru(ing, "events")
    w_counters = wru(agg, "counters", gsi=False)
    w_index = wru(agg, "counters", gsi=True) + wru(ing, "events", gsi=True)
    w_other = wru(ing, "other") + wru(ing, "counters") + wru(agg, "other") + wru(agg, "events")
    w_total = w_events + w_counters + w_index + w_other
    r_total = sum(t.rru for t in ing.values()) + sum(t.rru for t in agg.values())
    month_hits = lr.level.hits_per_day * DAYS_PER_MONTH
    scale = month_hits / hits
    mem = obs["memory_mb"]
    ingest_requests = sum(t.requests + t.reads for t in ing.values()) / events
    ingest_ms = lr.ingest_handler_ms + ddb_latency_ms * ingest_requests
    ingest_gbs = events * math.ceil(ingest_ms) / 1000 * mem["ingest"] / 1024
    agg_gbs = (fr.handler_seconds + fr.invocations * 0.0005) * mem["aggregate"] / 1024  # + half a billed ms each
    log_bytes = events * obs["log_bytes"]["ingest"] + fr.invocations * obs["log_bytes"]["aggregate"]
    cost = {
        "dynamodb_write": w_total * PRICE["wru"] * scale,
        "dynamodb_read": r_total * PRICE["rru"] * scale,
        "lambda_ingest": lambda_usd(events, ingest_gbs) * scale,
        "lambda_aggregate": lambda_usd(fr.invocations, agg_gbs) * scale,
        "logs": log_bytes / 1e9 * PRICE["log_gb"] * scale,
        "http_api": events * PRICE["http_api_request"] * scale,
        "metrics": obs["metrics"] * PRICE["metric_month"],
        "alarms": obs["alarms"] * PRICE["alarm_month"],
    }
    total = sum(cost.values())
    n_tally = naive["tally"]
    n_requests = (n_tally.requests + n_tally.reads) / events
    n_ms = naive["ms_median"] + ddb_latency_ms * n_requests
    n_cost = {
        "dynamodb_write": n_tally.wru * PRICE["wru"] * scale,
        "dynamodb_read": n_tally.rru * PRICE["rru"] * scale,
        "lambda_ingest": lambda_usd(events, events * math.ceil(n_ms) / 1000 * mem["ingest"] / 1024) * scale,
        "logs": events * obs["log_bytes"]["ingest"] / 1e9 * PRICE["log_gb"] * scale,
        "http_api": cost["http_api"],
        "metrics": cost["metrics"],
        "alarms": cost["alarms"],
    }
    n_total = sum(n_cost.values())
    lags = sorted(fr.lags)
    p99 = lags[min(len(lags) - 1, math.ceil(0.99 * len(lags)) - 1)] if lags else 0.0
    (_, hot_pk, hot_sk), hot_n = fr.hottest
    nonempty = max(1, fr.nonempty_invocations)
    return {
        "hits_per_day": lr.level.hits_per_day,
        "freshness_s": fr.freshness_s,
        "batching_window_s": fr.batching_s,
        "tumbling_window_s": fr.tumbling_s,
        "shards": lr.level.shards,
        "articles": lr.level.articles,
        "sample_hits": hits,
        "sample_likes": lr.likes,
        "sample_span_s": lr.span_s,
        "records_per_batch": fr.records / nonempty,
        "invocations_per_1000_hits": fr.invocations * 1000 / hits,
        "wru_per_hit": w_total / hits,
        "wru_events_per_hit": w_events / hits,
        "wru_counters_per_hit": w_counters / hits,
        "wru_index_per_hit": w_index / hits,
        "wru_other_per_hit": w_other / hits,
        "rru_per_hit": r_total / hits,
        "naive_wru_per_hit": n_tally.wru / hits,
        "naive_rru_per_hit": n_tally.rru / hits,
        "hot_item_writes_per_1000_hits": hot_n * 1000 / hits,
        "hot_item": f"{hot_pk}/{hot_sk}",
        "naive_hot_item_writes_per_1000_hits": naive["hottest"][1] * 1000 / hits,
        "usd_per_million_hits": total / month_hits * 1e6,
        "naive_usd_per_million_hits": n_total / month_hits * 1e6,
        "usd_per_month": total,
        "usd_per_month_function_url": total - cost["http_api"],
        "naive_usd_per_month": n_total,
        "naive_usd_per_month_function_url": n_total - n_cost["http_api"],
        "peer_usd_per_month": peer_usd_per_month(month_hits),
        "cost_per_month": cost,
        "naive_cost_per_month": n_cost,
        "p99_lag_s": p99,
        "max_lag_s": lags[-1] if lags else 0.0,
        "naive_p99_lag_s": 0.0,
        "unseen_hits": fr.unseen,
        "retried_invocations": fr.failures,
        "counts_match_truth": fr.counts_ok,
        "counts_match_naive": naive["match_truth"],
        "mismatches": fr.mismatches,
    }


def goals(rows: list[dict[str, Any]], cold: dict[str, Any], default_s: int, economy_s: int) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    by = {(r["hits_per_day"], r["freshness_s"]): r for r in rows}
    for level, (g_default, g_economy) in WRU_GOALS.items():
        for f, goal in ((default_s, g_default), (economy_s, g_economy)):
            r = by.get((level, f))
            if r is None:
                continue
            out.append(
                {
                    "goal": f"{level:,}/day, freshness {f} s: WRU per hit <= {goal}",
                    "met": r["wru_per_hit"] <= goal,
                    "measured": f"{r['wru_per_hit']:.2f}",
                }
            )
        r = by.get((level, default_s))
        if r is not None:
            ratio = r["wru_per_hit"] / r["naive_wru_per_hit"]
            out.append(
                {
                    "goal": f"{level:,}/day, freshness {default_s} s: WRU per hit <= {NAIVE_RATIO_GOAL} x naive",
                    "met": ratio <= NAIVE_RATIO_GOAL,
                    "measured": f"{r['wru_per_hit']:.2f} vs {r['naive_wru_per_hit']:.2f} ({ratio:.2f}x)",
                }
            )
    for level, limit, endpoint in COST_GOALS:
        r = by.get((level, default_s))
        if r is None:
            continue
        usd = r["usd_per_month_function_url"] if endpoint == "function_url" else r["usd_per_month"]
        label = "Function URL" if endpoint == "function_url" else "HTTP API"
        out.append(
            {
                "goal": f"{level:,}/day all-in ({label}, freshness {default_s} s) <= ${limit:.2f}/month",
                "met": usd <= limit,
                "measured": f"${usd:.2f}",
            }
        )
    for name, limit in COLD_GOALS.items():
        ratio = cold["ratio"].get(name)
        if ratio is not None:
            out.append(
                {
                    "goal": f"cold start {name} (import + first request) <= {limit} x import boto3",
                    "met": ratio <= limit,
                    "measured": f"{ratio:.2f}x",
                }
            )
    return out


def table(m: dict[str, Any], details: dict[str, Any]) -> str:
    rows = details["rows"]
    lines = [
        "per level (one shard's steady-state sample in simulated time, scaled to a 30-day month; "
        "WRU split: events + counters + index + other)",
        "",
        f"{'hits/day':>10} {'fresh':>5} {'shards':>6} {'sample':>7} {'rec/batch':>9} {'WRU/hit':>7} {'ev':>5} "
        f"{'ctr':>5} {'idx':>5} {'oth':>5} {'naive':>6} {'$/M hits':>8} {'$/month':>8} {'FnURL':>8} "
        f"{'naive$':>8} {'peer$':>8} {'p99 lag':>8}",
    ]
    for r in rows:
        lines.append(
            f"{r['hits_per_day']:>10,} {r['freshness_s']:>5} {r['shards']:>6} {r['sample_hits']:>7,} "
            f"{r['records_per_batch']:>9.1f} {r['wru_per_hit']:>7.2f} {r['wru_events_per_hit']:>5.2f} "
            f"{r['wru_counters_per_hit']:>5.2f} {r['wru_index_per_hit']:>5.2f} {r['wru_other_per_hit']:>5.2f} "
            f"{r['naive_wru_per_hit']:>6.2f} {r['usd_per_million_hits']:>8.2f} {r['usd_per_month']:>8.2f} "
            f"{r['usd_per_month_function_url']:>8.2f} {r['naive_usd_per_month']:>8.2f} "
            f"{r['peer_usd_per_month']:>8.2f} {r['p99_lag_s']:>7.0f}s"
        )
    head = next(r for r in rows if r["hits_per_day"] == m["headline_level"]["hits_per_day"]
                and r["freshness_s"] == m["headline_level"]["freshness_s"])  # fmt: skip
    lines += ["", f"monthly cost at the headline level ({head['hits_per_day']:,}/day, {head['freshness_s']} s):"]
    for key, value in head["cost_per_month"].items():
        lines.append(f"  {key:22}{value:>10.3f}   naive {head['naive_cost_per_month'].get(key, 0.0):>10.3f}")
    obs = details["observability"]
    cold = details["cold_start"]
    lines += [
        "",
        f"fixed: {obs['alarms']} alarms, {obs['metrics']} custom metrics ({', '.join(obs['metric_names'])}); "
        f"logs {obs['log_bytes']['ingest']:.0f} B per ingest and {obs['log_bytes']['aggregate']:.0f} B per "
        "aggregate invocation",
        "query RRU (small store / with a year of history and 20k more articles): "
        + ", ".join(f"{k} {m['query_rru_small'][k]:g}/{m['query_rru_large'][k]:g}" for k in m["query_rru_small"]),
        f"cold start, import + first request (median of {cold['runs']}): boto3 "
        f"{cold['seconds_import']['boto3'] * 1000:.0f} ms; "
        + ", ".join(
            f"{k} {cold['seconds_first_request'][k] * 1000:.0f} ms ({cold['ratio'][k]:.2f}x; import alone "
            f"{cold['import_ratio'][k]:.2f}x)"
            for k in cold["ratio"]
        ),
        f"counts: hitstream == naive == ground truth on every article and the site, every level and setting: "
        f"{'OK' if m['counts_match'] else 'MISMATCH'}",
        "",
        "goals (issue 12):",
    ]
    for g in m["goals"]:
        lines.append(f"  [{'met' if g['met'] else 'MISSED'}] {g['goal']}: {g['measured']}")
    return "\n".join(lines)
