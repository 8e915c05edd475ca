"""Shared fixtures: a fresh moto-backed twin backend per test, and a real twin over HTTP for e2e tests."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from twin.backend import Backend, prepare_environment

ROOT = Path(__file__).resolve().parent.parent
prepare_environment()
# Suites read ranges and top lists without a token, so tests run the dashboard public. Access tests opt in:
# monkeypatch.setenv("DASHBOARD", "private") before Backend(...), or start_twin({"HITSTREAM_DASHBOARD": "private"}).
os.environ.setdefault("DASHBOARD", "public")
os.environ.setdefault("HITSTREAM_DASHBOARD", "public")
os.environ.setdefault("HITSTREAM_DATA", "memory")  # twins started by tests keep nothing unless a test says so


class Twin:
    """The twin's backend driven in-process: handlers invoked as Lambda would, the stream settled on demand."""

    def __init__(self, backend: Backend) -> None:
        self.backend = backend

    def call(self, function: str, event: dict[str, Any]) -> tuple[int, dict[str, Any], dict[str, str]]:
        result = self.backend.invoke(function, event)
        body = result.get("body") or ""
        try:
            parsed = json.loads(body) if body else {}
        except ValueError:
            parsed = {"raw": body}
        return int(result["statusCode"]), parsed, {k.lower(): v for k, v in (result.get("headers") or {}).items()}

    def post(self, event: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        status, body, _ = self.call("ingest", event)
        return status, body

    def get(self, event: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        status, body, _ = self.call("query", event)
        return status, body

    def settle(self) -> None:
        self.backend.settle()


@pytest.fixture
def backend() -> Iterator[Backend]:
    b = Backend(shards=2, seed=1)
    try:
        yield b
    finally:
        b.close()


@pytest.fixture
def twin(backend: Backend) -> Twin:
    return Twin(backend)


@pytest.fixture(scope="module")
def module_twin() -> Iterator[Twin]:
    """One twin for a whole module (a fresh moto backend costs ~0.5 s): its tests check changes, not totals."""
    backend = Backend(shards=2, seed=1)
    try:
        yield Twin(backend)
    finally:
        backend.close()


def scan(table: str) -> list[dict[str, Any]]:
    """Every item of a table, sorted by key. Tests may scan; the application never does."""
    import boto3

    db = boto3.client("dynamodb")
    items: list[dict[str, Any]] = []
    kwargs: dict[str, Any] = {"TableName": table, "ConsistentRead": True}
    while True:
        page = db.scan(**kwargs)
        items.extend(page["Items"])
        if "LastEvaluatedKey" not in page:
            return sorted(items, key=lambda i: (i["pk"]["S"], i.get("sk", {}).get("S", "")))
        kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class RunningTwin:
    def __init__(self, url: str, proc: subprocess.Popen[str], log: Any) -> None:
        self.url = url
        self.proc = proc
        self.log = log  # the twin's stdout+stderr: a file, so a chatty twin can never block on a full pipe

    def output(self) -> str:
        self.log.flush()
        self.log.seek(0)
        return str(self.log.read())

    def request(
        self, method: str, path: str, body: bytes | None = None, headers: dict[str, str] | None = None
    ) -> tuple[int, dict[str, Any], dict[str, str]]:
        req = urllib.request.Request(self.url + path, data=body, method=method, headers=headers or {})
        try:
            with urllib.request.urlopen(req, timeout=60) as resp:
                raw, status, hdrs = resp.read(), resp.status, dict(resp.headers)
        except urllib.error.HTTPError as err:
            raw, status, hdrs = err.read(), err.code, dict(err.headers)
        try:
            return status, json.loads(raw) if raw else {}, {k.lower(): v for k, v in hdrs.items()}
        except ValueError:
            return status, {"raw": raw.decode(errors="replace")}, {k.lower(): v for k, v in hdrs.items()}


def start_twin(env: dict[str, str] | None = None) -> RunningTwin:
    port = free_port()
    full_env = {**os.environ, "HOST": "127.0.0.1", "PORT": str(port), "PYTHONUNBUFFERED": "1", **(env or {})}
    log = tempfile.TemporaryFile(mode="w+", encoding="utf-8")  # noqa: SIM115 - closed by stop_twin
    proc = subprocess.Popen(
        [sys.executable, "-m", "twin"], cwd=ROOT, env=full_env, text=True, stdout=log, stderr=subprocess.STDOUT
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.time() + 60
    while time.time() < deadline:
        try:
            with urllib.request.urlopen(url + "/statistics", timeout=1):
                return RunningTwin(url, proc, log)
        except OSError:
            if proc.poll() is not None:
                log.seek(0)
                raise RuntimeError(f"twin exited: {log.read()}") from None
            time.sleep(0.2)
    proc.kill()
    raise RuntimeError("twin did not start within 60 s")


def stop_twin(twin: RunningTwin) -> str:
    twin.proc.send_signal(2)  # Ctrl-C
    try:
        twin.proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        twin.proc.kill()
        twin.proc.wait()
    out = twin.output()
    twin.log.close()
    return out


def _running() -> Iterator[RunningTwin]:
    t = start_twin()
    try:
        yield t
    finally:
        stop_twin(t)


running_twin = pytest.fixture(_running, name="running_twin")
module_running_twin = pytest.fixture(_running, name="module_running_twin", scope="module")
