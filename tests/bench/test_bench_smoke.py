"""A tiny run of the benchmark's whole code path: every level and freshness setting, both designs, the meter,
the simulated event source mapping, the probes and the report."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
HEADLINE_KEYS = {
    "hits",
    "wru_per_hit",
    "naive_wru_per_hit",
    "hot_item_writes_per_1000_hits",
    "naive_hot_item_writes_per_1000_hits",
    "query_rru_small",
    "query_rru_large",
    "cost_usd_per_million_hits",
    "naive_cost_usd_per_million_hits",
    "levels",
}
LEVEL_KEYS = {
    "hits_per_day",
    "freshness_s",
    "records_per_batch",
    "wru_per_hit",
    "naive_wru_per_hit",
    "usd_per_month",
    "naive_usd_per_month",
    "usd_per_month_function_url",
    "p99_lag_s",
    "wru_events_per_hit",
    "wru_counters_per_hit",
    "wru_index_per_hit",
    "wru_other_per_hit",
}


@pytest.mark.e2e  # fresh interpreters and a local moto server for the cold-start probe, a CDK synth
def test_bench_smoke() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "bench", "--smoke", "--quiet"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=True,
    )
    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert result.keys() >= HEADLINE_KEYS
    levels = result["levels"]
    assert {(r["hits_per_day"], r["freshness_s"]) for r in levels} == {
        (day, f) for day in (1_000, 10_000, 100_000, 1_000_000, 10_000_000) for f in (60, 600)
    }
    for row in levels:
        assert row.keys() >= LEVEL_KEYS
        # both designs agree with the ground truth on every count, at every level and setting
        assert row["counts_match_truth"], (row["hits_per_day"], row["freshness_s"], row["mismatches"])
        assert row["counts_match_naive"], (row["hits_per_day"], row["freshness_s"])
        assert row["unseen_hits"] == 0
        split = sum(row[k] for k in ("wru_events_per_hit", "wru_counters_per_hit", "wru_index_per_hit",
                                     "wru_other_per_hit"))  # fmt: skip
        assert split == pytest.approx(row["wru_per_hit"])
        assert row["usd_per_month_function_url"] < row["usd_per_month"]
    assert result["counts_match"] is True
    assert result["hits"] > 0
    assert result["naive_wru_per_hit"] > result["wru_per_hit"] > 0
    for name in ("article", "site_all_time", "range_top"):
        assert result["query_rru_small"][name] > 0
        assert result["query_rru_large"][name] > 0
