"""A tiny run of the benchmark's whole code path: both designs, the meter, the probes, the report."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
KEYS = {
    "hits",
    "wru_per_hit",
    "naive_wru_per_hit",
    "hot_item_writes_per_1000_hits",
    "naive_hot_item_writes_per_1000_hits",
    "query_rru_small",
    "query_rru_large",
    "cost_usd_per_million_hits",
    "naive_cost_usd_per_million_hits",
    "cold_import_ratio",
    "cold_import_ratio_max",
    "twin_hits_per_s",
    "twin_lost",
    "goals",
}


@pytest.mark.e2e  # it starts the local twin over HTTP, as the bench does
def test_bench_smoke() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "bench", "--smoke", "--quiet"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert result.keys() >= KEYS
    assert result["hits"] == 300
    # both designs, and the ground truth, agree on hits, visitors and likes per article and per site-day
    assert result["counts_match_naive"], out.stdout
    assert result["counts_match_truth"], out.stdout
    assert result["wru_per_hit"] > 0
    assert result["naive_wru_per_hit"] > result["wru_per_hit"]
    assert result["twin_lost"] == 0
    for name in ("article", "site_all_time", "range_top"):
        assert result["query_rru_small"][name] > 0
        assert result["query_rru_large"][name] > 0
