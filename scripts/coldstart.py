"""Cold start of each handler, as Lambda pays it: a fresh interpreter imports the handler module (the init phase),
then serves its first request; compared with `import boto3` in the same conditions. Median of several runs, in
CPU milliseconds of the child (wall time on a shared machine is mostly noise).

    python -m scripts.coldstart [--runs 7] [--deps DIR]      # last stdout line: JSON

Two modes, each on its own copy of the code: `source` (no bytecode anywhere in the function code or its libraries,
as the project shipped before, so every cold start compiles them) and `bytecode` (every module precompiled with
`--invalidation-mode unchecked-hash`, as scripts/bundle.py now ships them). This machine's Python is 3.11, so the
bytecode here is 3.11's, made the same way: what is measured is the compile work a cold start skips.

First requests: ingest gets a counted hit from a desktop Firefox (bot check, User-Agent rules, country lookup,
visitor id, event write); query gets a private range read with a wrong token (a 401); aggregate an empty batch.
DynamoDB is stubbed at botocore's `_make_api_call` (answers `{}`), so no network time is counted; client
creation and request building up to that call are. DIR holds the runtime dependencies for this machine's
platform; by default they are installed once into .build/coldstart/ from requirements.txt and constraints.txt.
"""

from __future__ import annotations

import argparse
import compileall
import hashlib
import json
import os
import py_compile
import shutil
import statistics
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CACHE = ROOT / ".build" / "coldstart"
REQUIREMENTS = ROOT / "requirements.txt"
CONSTRAINTS = ROOT / "constraints.txt"
FUNCTIONS = ("ingest", "query", "aggregate")
CHILD = r"""
import json, sys, time
t0 = time.process_time()
import importlib
name = sys.argv[1]
module = importlib.import_module("boto3" if name == "boto3" else name + ".handler")
t1 = time.process_time()
if name != "boto3":
    import botocore.client
    botocore.client.BaseClient._make_api_call = lambda self, operation, params: {}  # no network
    class Context:
        function_name = "hitstream-" + name; memory_limit_in_mb = 256; aws_request_id = "cold"
        invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:cold"
        def get_remaining_time_in_millis(self): return 30000
    ua = "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:133.0) Gecko/20100101 Firefox/133.0"
    def http(method, path, body="", query="", headers=None):
        return {"version": "2.0", "routeKey": "$default", "rawPath": path, "rawQueryString": query,
                "queryStringParameters": dict(p.split("=", 1) for p in query.split("&") if p) or None,
                "headers": {"host": "x", "user-agent": ua, "content-type": "text/plain", **(headers or {})},
                "requestContext": {"http": {"method": method, "path": path, "sourceIp": "203.0.113.9",
                                   "protocol": "HTTP/1.1", "userAgent": ua}, "requestId": "r",
                                   "routeKey": "$default", "stage": "$default", "timeEpoch": 0},
                "body": body, "isBase64Encoded": False}
    event = {"ingest": http("POST", "/statistics/cold-start/hits", '{"referrer": "https://news.example/"}'),
             "query": http("GET", "/statistics", query="from=2026-11-01&to=2026-11-30",
                           headers={"authorization": "Bearer wrong"}),
             "aggregate": {"Records": []}}[name]
    answer = module.lambda_handler(event, Context())
    status = answer.get("statusCode") if isinstance(answer, dict) else None
else:
    status = None
t2 = time.process_time()
print(json.dumps({"import_ms": (t1 - t0) * 1000, "total_ms": (t2 - t0) * 1000, "status": status}))
"""
ENV = {
    "EVENTS_TABLE": "events",
    "STATS_TABLE": "stats",
    "SALTS_TABLE": "salts",
    "SITES": "blog.example.com",
    "DASHBOARD": "private",
    "ALLOWED_ORIGINS": "",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_ACCESS_KEY_ID": "x",
    "AWS_SECRET_ACCESS_KEY": "x",
    "AWS_ACCOUNT_ID_ENDPOINT_MODE": "disabled",
    "POWERTOOLS_SERVICE_NAME": "hitstream",
    "POWERTOOLS_METRICS_NAMESPACE": "Hitstream",
    "POWERTOOLS_LOG_LEVEL": "WARNING",
    "PYTHONDONTWRITEBYTECODE": "1",  # as on Lambda's read-only /opt and /var/task
}
EXPECTED_STATUS = {"ingest": 202, "query": 401, "aggregate": None, "boto3": None}


def install_deps() -> Path:
    """This platform's runtime dependencies at their pins, without bytecode, installed once."""
    digest = hashlib.sha256(REQUIREMENTS.read_bytes() + CONSTRAINTS.read_bytes() + sys.version.encode())
    target = CACHE / f"deps-{digest.hexdigest()[:16]}"
    if not target.exists():
        partial = CACHE / "deps-partial"
        shutil.rmtree(partial, ignore_errors=True)
        partial.mkdir(parents=True)
        subprocess.run(
            [
                *(sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check", "--no-compile"),
                *("--target", str(partial), "-r", str(REQUIREMENTS), "-c", str(CONSTRAINTS)),
            ],
            check=True,
        )
        partial.rename(target)
    return target


def stage(deps: Path, mode: str) -> tuple[Path, Path]:
    """Copies of deps and functions/ for one mode: no bytecode at all, or unchecked-hash bytecode everywhere."""
    root = CACHE / f"{mode}-{deps.name}"
    shutil.rmtree(root, ignore_errors=True)
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", ".mypy_cache", ".pytest_cache")
    shutil.copytree(deps, root / "deps", ignore=ignore)
    shutil.copytree(ROOT / "functions", root / "functions", ignore=ignore)
    if mode == "bytecode":
        for tree in (root / "deps", root / "functions"):
            compileall.compile_dir(
                tree, quiet=1, workers=1, invalidation_mode=py_compile.PycInvalidationMode.UNCHECKED_HASH
            )
    return root / "deps", root / "functions"


def _run(name: str, deps: Path, functions: Path) -> dict[str, float]:
    env = {"PATH": os.environ.get("PATH", ""), **ENV, "PYTHONPATH": f"{deps}{os.pathsep}{functions}"}
    done = subprocess.run(
        [sys.executable, "-S", "-c", CHILD, name], env=env, capture_output=True, text=True, timeout=120, cwd=functions
    )
    if done.returncode:
        raise SystemExit(f"{name}: {done.stderr[-2000:]}")
    result = json.loads(done.stdout.strip().splitlines()[-1])
    if result["status"] != EXPECTED_STATUS[name]:
        raise SystemExit(f"{name}: first request answered {result['status']}, not {EXPECTED_STATUS[name]}")
    return {"import_ms": result["import_ms"], "total_ms": result["total_ms"]}


def measure(deps: Path, runs: int) -> dict[str, object]:
    """{mode: {name: {import_ms, total_ms, ratio}}}, runs interleaved across names, after one warm-up pass."""
    out: dict[str, object] = {"python": sys.version.split()[0], "runs": runs}
    for mode in ("source", "bytecode"):
        mode_deps, functions = stage(deps, mode)
        names = ("boto3", *FUNCTIONS)
        samples: dict[str, list[dict[str, float]]] = {n: [] for n in names}
        for i in range(runs + 1):
            for name in names:
                sample = _run(name, mode_deps, functions)
                if i:
                    samples[name].append(sample)
        med = {
            n: {k: statistics.median(s[k] for s in v) for k in ("import_ms", "total_ms")} for n, v in samples.items()
        }
        boto3 = med["boto3"]["import_ms"]
        out[mode] = {
            n: {
                "import_ms": round(m["import_ms"], 1),
                "total_ms": round(m["total_ms"], 1),
                "ratio": round(m["total_ms"] / boto3, 2),
            }
            for n, m in med.items()
        }
    return out


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--deps", type=Path, help="runtime dependencies for this platform (default: install once)")
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args()
    print(json.dumps(measure(args.deps or install_deps(), args.runs)))
