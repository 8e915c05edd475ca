"""Cost model, goals, the stdout table, docs/benchmarks.md and docs/benchmarks.png."""

from __future__ import annotations

from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"

# us-east-1 list prices, on-demand.
PRICE = {
    "wru": 0.625 / 1e6,
    "rru": 0.125 / 1e6,
    "lambda_request": 0.20 / 1e6,
    "gb_second_arm64": 0.0000133334,
    "http_api_request": 1.00 / 1e6,
}
MEMORY_GB = {"ingest": 256 / 1024, "aggregate": 512 / 1024, "query": 256 / 1024}  # the stack's memory sizes


def lambda_cost(invocations: int, billed_ms_total: float, memory_gb: float) -> float:
    return invocations * PRICE["lambda_request"] + billed_ms_total / 1000 * memory_gb * PRICE["gb_second_arm64"]


def per_million(parts: dict[str, float], hits: int) -> dict[str, float]:
    out = {k: v * 1e6 / hits for k, v in parts.items()}
    out["total"] = sum(out.values())
    return out


def goals(m: dict[str, Any]) -> list[dict[str, Any]]:
    q_small, q_large = m["query_rru_small"], m["query_rru_large"]
    all_time = ("article", "site_all_time")
    worst_all_time = max(max(q_small[k], q_large[k]) for k in all_time)
    flat = all(q_large[k] <= q_small[k] for k in q_small)
    rows = [
        ("wru_per_hit <= 1.5", m["wru_per_hit"] <= 1.5, f"{m['wru_per_hit']:.3f}"),
        (
            "wru_per_hit <= 0.4 x naive",
            m["wru_per_hit"] <= 0.4 * m["naive_wru_per_hit"],
            f"{m['wru_per_hit']:.3f} vs 0.4 x {m['naive_wru_per_hit']:.3f} = {0.4 * m['naive_wru_per_hit']:.3f}"
            f" (ratio {m['wru_per_hit'] / m['naive_wru_per_hit']:.2f})",
        ),
        (
            "hot_item_writes_per_1000_hits <= 10",
            m["hot_item_writes_per_1000_hits"] <= 10,
            f"{m['hot_item_writes_per_1000_hits']:.2f} (naive {m['naive_hot_item_writes_per_1000_hits']:.0f})",
        ),
        (
            "all-time query RRU <= 2",
            worst_all_time <= 2,
            f"max {worst_all_time:g} (GET /statistics/{{slug}}, /statistics)",
        ),
        (
            "query RRU flat small -> large",
            flat,
            ", ".join(f"{k} {q_small[k]:g}->{q_large[k]:g}" for k in q_small),
        ),
        (
            "cost_usd_per_million_hits <= $2.00",
            m["cost_usd_per_million_hits"] <= 2.0,
            f"${m['cost_usd_per_million_hits']:.3f} (naive ${m['naive_cost_usd_per_million_hits']:.3f})",
        ),
        (
            "cold import <= 1.5 x import boto3",
            m["cold_import_ratio_max"] <= 1.5,
            ", ".join(f"{k} {v:.2f}x" for k, v in m["cold_import_ratio"].items()),
        ),
    ]
    return [{"goal": g, "met": bool(ok), "measured": text} for g, ok, text in rows]


def table(m: dict[str, Any], details: dict[str, Any]) -> str:
    h, n = details["hitstream"], details["naive"]
    lines = [
        f"workload: {m['hits']:,} hits + {m['likes_sent']:,} likes, {details['spec']['articles']:,} articles (Zipf "
        f"s={details['spec']['zipf_s']}), {details['spec']['visitors']:,} visitors, {details['spec']['days']} UTC days,"
        f" seed {details['spec']['seed']}",
        f"stream: batch size {details['batch_size']}, {details['shards']} shard(s), {h['invocations']} aggregate "
        f"invocations, mean batch {h['mean_batch']:.0f} records",
        "",
        f"{'':34}{'hitstream':>14}{'naive':>14}",
        f"{'DynamoDB requests':34}{h['requests']:>14,}{n['requests']:>14,}",
        f"{'  per hit':34}{h['requests'] / m['hits']:>14.3f}{n['requests'] / m['hits']:>14.3f}",
        f"{'WRU (incl. GSI)':34}{h['wru']:>14,.0f}{n['wru']:>14,.0f}",
        f"{'  of which GSI':34}{h['gsi_wru']:>14,.0f}{n['gsi_wru']:>14,.0f}",
        f"{'  events table (ingest)':34}{h['phases']['ingest']['wru']:>14,.0f}{'-':>14}",
        f"{'  stats table (aggregate)':34}{h['phases']['aggregate']['wru']:>14,.0f}{'-':>14}",
        f"{'  salt':34}{h['phases']['salt']['wru']:>14,.0f}{'-':>14}",
        f"{'WRU per hit':34}{m['wru_per_hit']:>14.3f}{m['naive_wru_per_hit']:>14.3f}",
        f"{'RRU (write path)':34}{h['rru']:>14,.1f}{n['rru']:>14,.1f}",
        f"{'failed conditional writes':34}{h['failed_conditions']:>14,}{n['failed_conditions']:>14,}",
        f"{'hottest item':34}{h['hot_item']:>14}{n['hot_item']:>14}",
        f"{'  writes to it per 1000 hits':34}{m['hot_item_writes_per_1000_hits']:>14.2f}"
        f"{m['naive_hot_item_writes_per_1000_hits']:>14.2f}",
        f"{'largest item written (bytes)':34}{h['largest_item']:>14,}{n['largest_item']:>14,}",
        f"{'ingest ms/event (in-process)':34}{h['ingest_ms']:>14.2f}{n['ingest_ms']:>14.2f}",
        "",
        "cost per million hits (USD)",
    ]
    for key in ("dynamodb_write", "dynamodb_read", "lambda_ingest", "lambda_aggregate", "http_api", "total"):
        lines.append(f"{'  ' + key:34}{h['cost'].get(key, 0):>14.4f}{n['cost'].get(key, 0):>14.4f}")
    lines += ["", "query RRU (GET, via the query handler)   small store   100x history"]
    for k in m["query_rru_small"]:
        lines.append(f"  {k:38}{m['query_rru_small'][k]:>11g}{m['query_rru_large'][k]:>15g}")
    ci = details["cold_import"]
    lines += [
        "",
        f"cold import (median of {ci['runs']}): boto3 {ci['seconds']['boto3'] * 1000:.0f} ms; "
        + ", ".join(f"{k} {ci['seconds'][k] * 1000:.0f} ms ({ci['ratio'][k]:.2f}x)" for k in ci["ratio"]),
    ]
    tw = details["twin"]
    lines += [
        f"local twin over HTTP: {tw['hits']} hits from {tw['threads']} threads, all visible after {tw['seconds']:.1f} s"
        f" -> {tw['hits_per_s']:.0f} hits/s; lost {tw['lost']}",
        f"cross-check hitstream == naive == ground truth (hits, visitors, likes per article and site per day): "
        f"{'OK' if m['counts_match'] else 'MISMATCH'}",
        "",
        "goals:",
    ]
    for g in m["goals"]:
        lines.append(f"  [{'met' if g['met'] else 'MISSED'}] {g['goal']}: {g['measured']}")
    return "\n".join(lines)


def plot(m: dict[str, Any], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    traffic = [10**e for e in (4, 4.5, 5, 5.5, 6, 6.5, 7, 7.5, 8, 8.5, 9)]
    fig, ax = plt.subplots(figsize=(7.5, 4.6), dpi=120)
    for label, per_m, style in (
        ("hitstream", m["cost_usd_per_million_hits"], "-"),
        ("naive per-hit design", m["naive_cost_usd_per_million_hits"], "--"),
    ):
        ax.plot(traffic, [t / 1e6 * per_m for t in traffic], style, label=f"{label} (${per_m:.2f} per million hits)")
    ax.plot(traffic, [t / 1e6 * 2.0 for t in traffic], ":", color="grey", label="goal: $2.00 per million hits")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("hits per month")
    ax.set_ylabel("USD per month (us-east-1, on-demand)")
    ax.set_title("Monthly cost against monthly traffic (measured per-hit cost; storage not included)", fontsize=9)
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
