"""The twin's data survives a restart: a clean stop loses nothing, a crash loses at most the last seconds, and a
restore never counts anything twice (restored events make no stream records; new ones are counted once)."""

from __future__ import annotations

import json
import signal
import time
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import RunningTwin, start_twin, stop_twin

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

UA = "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0"


def post(twin: RunningTwin, slug: str, kind: str = "hits") -> None:
    status, body, _ = twin.request(
        "POST", f"/statistics/{slug}/{kind}", b"{}", {"User-Agent": UA, "Content-Type": "text/plain"}
    )
    assert status == 202, body


def counts(twin: RunningTwin, slug: str | None = None) -> dict[str, Any]:
    status, body, _ = twin.request("GET", f"/statistics/{slug}" if slug else "/statistics")
    assert status == 200, body
    return body


def wait_for(twin: RunningTwin, slug: str, hits: int) -> dict[str, Any]:
    """Counts become visible within seconds; wait for them rather than sleep a fixed time."""
    deadline = time.monotonic() + 60
    while True:
        now = counts(twin, slug)
        if now["hits"] == hits or time.monotonic() > deadline:
            return now
        time.sleep(0.2)


def stop(twin: RunningTwin, sig: int) -> str:
    twin.proc.send_signal(sig)
    twin.proc.wait(timeout=60)
    out = twin.output()
    twin.log.close()
    return out


def test_a_clean_stop_loses_nothing_and_a_restart_counts_on_exactly(tmp_path: Path) -> None:
    env = {"HITSTREAM_DATA": str(tmp_path)}
    first = start_twin(env)
    for _ in range(3):
        post(first, "kept")
    post(first, "kept", "likes")
    post(first, "other")
    assert wait_for(first, "kept", 3)["likes"] == 1
    assert wait_for(first, "other", 1)["hits"] == 1
    before = {"site": counts(first), "kept": counts(first, "kept"), "other": counts(first, "other")}
    assert before["site"] == {"hits": 4, "visitors": 1, "likes": 1, "articles": 2}
    out = stop(first, signal.SIGTERM)  # a clean stop, like Ctrl-C
    assert f"data: {tmp_path}/ (empty;" in out, out
    assert (tmp_path / "twin.json").is_file()

    second = start_twin(env)
    try:
        after = {"site": counts(second), "kept": counts(second, "kept"), "other": counts(second, "other")}
        assert after == before
        post(second, "kept")
        post(second, "kept")
        # The same reader on the same day: the restored salt gives the same visitor id, so no new visitor.
        assert wait_for(second, "kept", 5) == {"slug": "kept", "hits": 5, "visitors": 1, "likes": 1}
        assert counts(second) == {"hits": 6, "visitors": 1, "likes": 1, "articles": 2}
    finally:
        out = stop_twin(second)
    assert "restored" in out and f"data: {tmp_path}/" in out, out

    third = start_twin(env)  # what the second run added was kept too
    try:
        assert counts(third) == {"hits": 6, "visitors": 1, "likes": 1, "articles": 2}
    finally:
        stop_twin(third)


def test_a_crash_loses_at_most_the_last_seconds_and_never_double_counts(tmp_path: Path) -> None:
    env = {"HITSTREAM_DATA": str(tmp_path)}
    snapshot = tmp_path / "twin.json"
    first = start_twin(env)
    for _ in range(4):
        post(first, "crash")
    posted = time.time()
    assert wait_for(first, "crash", 4)["hits"] == 4
    # Wait for a snapshot taken after those hits were accepted (it then holds them, counted).
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if snapshot.exists() and json.loads(snapshot.read_text())["saved_at"] > posted:
            break
        time.sleep(0.2)
    for _ in range(3):
        post(first, "crash")  # may or may not be in a snapshot when the process dies
    stop(first, signal.SIGKILL)

    second = start_twin(env)
    try:
        restored = counts(second, "crash")
        assert 4 <= restored["hits"] <= 7, restored
        assert restored["visitors"] == 1
        for _ in range(2):
            post(second, "crash")
        after = wait_for(second, "crash", restored["hits"] + 2)
        assert after == {"slug": "crash", "hits": restored["hits"] + 2, "visitors": 1, "likes": 0}
        assert counts(second)["hits"] == restored["hits"] + 2
    finally:
        stop_twin(second)


def test_one_data_directory_serves_one_twin(tmp_path: Path) -> None:
    first = start_twin({"HITSTREAM_DATA": str(tmp_path)})
    try:
        with pytest.raises(RuntimeError, match="another twin is using"):
            start_twin({"HITSTREAM_DATA": str(tmp_path)})
    finally:
        stop_twin(first)


def test_memory_keeps_nothing_and_says_so() -> None:
    twin = start_twin({"HITSTREAM_DATA": "memory"})
    out = stop_twin(twin)
    assert "data: kept in memory only (HITSTREAM_DATA=memory)" in out


def test_a_restart_keeps_the_owner_token_so_the_dashboard_stays_signed_in(tmp_path: Path) -> None:
    env = {"HITSTREAM_DATA": str(tmp_path), "HITSTREAM_DASHBOARD": "private", "HITSTREAM_TOKEN": ""}

    def printed_token(twin: RunningTwin) -> str:
        out = stop_twin(twin)
        (line,) = [ln for ln in out.splitlines() if "#token=" in ln]
        return line.split("#token=", 1)[1].strip()

    first = printed_token(start_twin(env))
    assert (tmp_path / "owner-token").stat().st_mode & 0o777 == 0o600
    second = start_twin(env)
    status, _, _ = second.request("GET", "/sites", headers={"Authorization": f"Bearer {first}"})
    assert status == 200
    assert printed_token(second) == first
