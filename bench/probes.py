"""Out-of-process probes: handler cold-import time against `import boto3`, and the local twin over HTTP."""

from __future__ import annotations

import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
FUNCTIONS = ROOT / "functions"
MODULES = {"boto3": "boto3", "ingest": "ingest.handler", "aggregate": "aggregate.handler", "query": "query.handler"}

# What the stack gives the functions (tracing on, as in the stack); only the table names are made up.
LAMBDA_ENV = {
    "EVENTS_TABLE": "hitstream-events",
    "STATS_TABLE": "hitstream-stats",
    "AWS_REGION": "us-east-1",
    "AWS_DEFAULT_REGION": "us-east-1",
    "POWERTOOLS_SERVICE_NAME": "hitstream",
    "POWERTOOLS_METRICS_NAMESPACE": "Hitstream",
    "POWERTOOLS_LOG_LEVEL": "INFO",
}
PROBE = (
    "import sys, time; sys.path.insert(0, {path!r}); t = time.perf_counter(); import {module}; "
    "print(time.perf_counter() - t)"
)


def cold_imports(runs: int = 5) -> dict[str, Any]:
    """Median seconds to import each handler module in a fresh interpreter, and its ratio to `import boto3`.
    Runs are interleaved so that drift in machine load affects all modules alike; one warm-up pass first
    (it also writes the .pyc files, which a Lambda package would ship)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("POWERTOOLS_", "HITSTREAM_"))}
    env.update(LAMBDA_ENV)
    env["PYTHONDONTWRITEBYTECODE"] = ""
    times: dict[str, list[float]] = {name: [] for name in MODULES}
    for i in range(runs + 1):
        for name, module in MODULES.items():
            code = PROBE.format(path=str(FUNCTIONS), module=module)
            out = subprocess.run(
                [sys.executable, "-c", code], cwd=FUNCTIONS, env=env, capture_output=True, text=True, check=True
            )
            if i:
                times[name].append(float(out.stdout.strip().splitlines()[-1]))
    med = {name: statistics.median(v) for name, v in times.items()}
    ratios = {name: med[name] / med["boto3"] for name in MODULES if name != "boto3"}
    return {
        "seconds": med,
        "ratio": ratios,
        "max_ratio": max(ratios.values()),
        "runs": runs,
    }


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _request(url: str, method: str = "GET", body: bytes | None = None, headers: dict[str, str] | None = None) -> Any:
    req = urllib.request.Request(url, data=body, method=method, headers=headers or {})
    with urllib.request.urlopen(req, timeout=30) as resp:
        raw = resp.read()
        return resp.status, json.loads(raw) if raw else {}


def twin_throughput(hits: int = 2000, threads: int = 4, timeout: float = 300.0) -> dict[str, Any]:
    """Start `python -m twin`, POST `hits` hits over HTTP from `threads` threads, then poll GET /statistics
    until all are counted (or the timeout passes). Throughput is hits over the time from the first POST to
    the moment all of them are visible."""
    port = _free_port()
    env = {**os.environ, "HOST": "127.0.0.1", "PORT": str(port), "PYTHONUNBUFFERED": "1", "TWIN_LOG_LEVEL": "WARNING"}
    for name in ("HITSTREAM_FAULT_RATE", "HITSTREAM_REDELIVERY_RATE"):
        env.pop(name, None)
    proc = subprocess.Popen(
        [sys.executable, "-m", "twin"], cwd=ROOT, env=env, text=True, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                _request(url + "/statistics")
                break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError("the twin did not start") from None
                time.sleep(0.2)
        accepted = [0] * threads
        errors: list[str] = []

        def post(k: int) -> None:
            for i in range(k, hits, threads):
                headers = {"content-type": "text/plain", "user-agent": f"Mozilla/5.0 (bench {i % 97}) Firefox/133.0"}
                try:
                    status, _ = _request(f"{url}/statistics/e2e-{i % 50}/hits", "POST", b"{}", headers)
                except (OSError, urllib.error.HTTPError) as exc:
                    errors.append(str(exc))
                    continue
                accepted[k] += status == 202

        t0 = time.monotonic()
        workers = [threading.Thread(target=post, args=(k,)) for k in range(threads)]
        for w in workers:
            w.start()
        for w in workers:
            w.join()
        posted = time.monotonic() - t0
        visible = 0
        while time.monotonic() - t0 < timeout:
            _, body = _request(url + "/statistics")
            visible = int(body.get("hits", 0))
            if visible >= hits:
                break
            time.sleep(0.1)
        elapsed = time.monotonic() - t0
        return {
            "hits": hits,
            "threads": threads,
            "accepted": sum(accepted),
            "visible": visible,
            "lost": hits - visible,
            "errors": len(errors),
            "post_seconds": posted,
            "seconds": elapsed,
            "hits_per_s": visible / elapsed if elapsed else 0.0,
        }
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.communicate(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.communicate()
