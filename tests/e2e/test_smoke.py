"""`make smoke` passes against the real twin, and fails, saying why, against servers that only pretend: one that
never counts, one that counts twice, one that always reads the same, one that serves private reads to anyone (or
to any token), one that grants CORS to every origin."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import urllib.parse
from collections import Counter
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from scripts import smoke
from tests.conftest import start_twin, stop_twin

pytestmark = pytest.mark.e2e
ROOT = Path(__file__).resolve().parents[2]
TOKEN = "smoke-test-owner-token-0123456789"


@pytest.fixture(scope="module")
def twin_url() -> Iterator[str]:
    twin = start_twin({"HITSTREAM_DATA": "memory", "HITSTREAM_TOKEN": TOKEN, "HITSTREAM_DASHBOARD": "private"})
    try:
        yield twin.url
    finally:
        stop_twin(twin)


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "scripts.smoke", *args], cwd=ROOT, capture_output=True, text=True, timeout=120
    )


def test_smoke_passes_against_the_twin(twin_url: str) -> None:
    done = _cli("--url", twin_url, "--token", TOKEN, "--timeout", "30")
    assert done.returncode == 0, done.stdout + done.stderr
    lines = done.stdout.strip().splitlines()
    assert lines[-1].startswith(f"smoke: {twin_url}/ works: hit on smoke-")
    assert [line.split(":")[0] for line in lines[:-1]] == ["ok"] * 4


def test_smoke_fails_against_the_twin_with_a_wrong_token(twin_url: str) -> None:
    done = _cli("--url", twin_url, "--token", "not-the-token", "--timeout", "30")
    assert done.returncode == 1
    last = done.stdout.strip().splitlines()[-1]
    assert last.startswith(f"smoke: {twin_url} FAILED: a private read with the token answered 401 ")
    assert last.endswith(", not 200 (is TOKEN right?)")


def test_smoke_refuses_a_missing_token_or_a_url_that_is_not_http() -> None:
    assert _cli("--url", "http://127.0.0.1:9", "--token", "").returncode == 2
    assert _cli("--url", "file:///etc/passwd", "--token", "x").returncode == 2


def test_smoke_says_what_failed_when_nothing_answers() -> None:
    done = _cli("--url", f"http://127.0.0.1:{_closed_port()}", "--token", "x")
    assert done.returncode == 1
    assert "FAILED: GET http://127.0.0.1:" in done.stdout and "failed:" in done.stdout


def test_make_smoke_runs_the_script_with_url_and_token() -> None:
    done = subprocess.run(
        ["make", "-n", "--no-print-directory", "smoke", "URL=http://x.example/", "TOKEN=t0k"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().splitlines()[-1] == (
        ".venv/bin/python -m scripts.smoke --url 'http://x.example/' --token 't0k' --timeout 120"
    )


# --- servers that pretend -----------------------------------------------------------------------------------


class Pretender(ThreadingHTTPServer):
    """An honest little analytics server by default (counts hits, guards private reads, CORS for one origin);
    each flag breaks one property."""

    def __init__(self, **flags: bool) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.flags = flags
        self.hits: Counter[str] = Counter()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/"


class _Handler(BaseHTTPRequestHandler):
    server: Pretender

    def log_message(self, *args: Any) -> None:
        pass

    def _send(self, status: int, body: Any = None, headers: dict[str, str] | None = None) -> None:
        raw = json.dumps(body).encode() if body is not None else b""
        self.send_response(status)
        origin = self.headers.get("Origin")
        if origin == "https://blog.example.com" or (origin and self.server.flags.get("cors_for_all")):
            self.send_header("Access-Control-Allow-Origin", origin)
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(raw)))
        self.end_headers()
        self.wfile.write(raw)

    def do_OPTIONS(self) -> None:
        self._send(204)

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        slug = self.path.split("?")[0].split("/")[2]
        if not self.server.flags.get("never_counts"):
            self.server.hits[slug] += 2 if self.server.flags.get("counts_twice") else 1
        self._send(202, {"accepted": True})

    def do_GET(self) -> None:
        parts = urllib.parse.urlsplit(self.path)
        slug = parts.path.split("/")[2]
        query = urllib.parse.parse_qs(parts.query)
        hits = 1 if self.server.flags.get("always_one") else self.server.hits[slug]
        totals = {"slug": slug, "hits": hits, "visitors": hits, "likes": 0}
        if "from" not in query:
            return self._send(200, totals)
        auth = self.headers.get("Authorization", "")
        allowed = (
            self.server.flags.get("open_private")
            or auth == f"Bearer {TOKEN}"
            or (self.server.flags.get("any_token") and auth.startswith("Bearer "))
        )
        if not allowed:
            return self._send(401, {"error": "token needed"}, {"WWW-Authenticate": "Bearer"})
        daily = [{"date": d, "hits": 0, "visitors": 0, "likes": 0} for d in (query["from"][0], query["to"][0])]
        daily[-1].update(hits=hits, visitors=hits)
        return self._send(200, {**totals, "daily": daily})


def _closed_port() -> int:
    with Pretender() as server:
        return int(server.server_address[1])


def _against(**flags: bool) -> str:
    with Pretender(**flags) as server:
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        try:
            check = smoke.Smoke(server.url, TOKEN, timeout_s=1.5, poll_s=0.05, say=lambda line: None)
            try:
                return check.run()
            except smoke.SmokeFailure as failure:
                return f"FAILED: {failure}"
        finally:
            server.shutdown()


def test_the_honest_pretender_passes_so_each_failure_below_is_its_flag() -> None:
    assert _against().startswith("smoke: http://127.0.0.1:")


@pytest.mark.parametrize(
    ("flag", "failure"),
    [
        ("never_counts", r"FAILED: the hit on smoke-\d+-[0-9a-f]{8} was accepted but not counted within 2 s"),
        ("counts_twice", r"FAILED: one hit on smoke-\d+-[0-9a-f]{8} counts 2, not 1"),
        ("always_one", r"FAILED: the new article smoke-\d+-[0-9a-f]{8} does not read all zeros"),
        ("open_private", r"FAILED: a private read without a token answered 200 .*, not 401"),
        ("any_token", r"FAILED: a private read with a wrong token answered 200 .*, not 401"),
        ("cors_for_all", r"FAILED: a read from https://not-allowed.smoke.invalid got Access-Control-Allow-Origin"),
    ],
)
def test_smoke_fails_against_a_server_that_only_pretends(flag: str, failure: str) -> None:
    import re

    result = _against(**{flag: True})
    assert re.match(failure, result), result
