"""Cold start of each handler, as Lambda pays it: a fresh interpreter imports the handler module, then serves
its first request (one that touches no table). Median of several runs, in CPU milliseconds of the child (wall time on a shared machine is mostly noise).

    python -m scripts.coldstart --deps DIR [--runs 7]

DIR holds the runtime dependencies (e.g. `pip install --no-compile -t DIR -r requirements.txt -c constraints.txt`,
for this machine's platform). Nothing is byte-compiled and nothing is written, as on Lambda's read-only /opt.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CHILD = r"""
import json, sys, time
t0 = time.process_time()
import importlib
module = importlib.import_module(sys.argv[1] + ".handler")
t1 = time.process_time()
class Context:
    function_name = "hitstream-" + sys.argv[1]; memory_limit_in_mb = 256; aws_request_id = "cold"
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:cold"
    def get_remaining_time_in_millis(self): return 30000
def http(method, path, body=""):
    return {"version": "2.0", "routeKey": "$default", "rawPath": path, "rawQueryString": "",
            "headers": {"host": "x", "user-agent": "curl/8.5.0", "content-type": "text/plain"},
            "requestContext": {"http": {"method": method, "path": path, "sourceIp": "203.0.113.9",
                               "protocol": "HTTP/1.1", "userAgent": "curl/8.5.0"}, "requestId": "r",
                               "routeKey": "$default", "stage": "$default", "timeEpoch": 0},
            "body": body, "isBase64Encoded": False}
event = {"ingest": http("POST", "/statistics/cold/hits", "{}"),  # a bot: accepted, nothing written
         "query": http("GET", "/beacon.js"),
         "aggregate": {"Records": []}}[sys.argv[1]]
module.lambda_handler(event, Context())
t2 = time.process_time()
print(json.dumps({"import_ms": (t1 - t0) * 1000, "first_request_ms": (t2 - t1) * 1000}))
"""
ENV = {
    "EVENTS_TABLE": "events",
    "STATS_TABLE": "stats",
    "SALTS_TABLE": "salts",
    "SITES": "blog.example.com",
    "ALLOWED_ORIGINS": "",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_ACCESS_KEY_ID": "x",
    "AWS_SECRET_ACCESS_KEY": "x",
    "POWERTOOLS_SERVICE_NAME": "hitstream",
    "POWERTOOLS_METRICS_NAMESPACE": "Hitstream",
    "POWERTOOLS_LOG_LEVEL": "WARNING",
    "PYTHONDONTWRITEBYTECODE": "1",
}


def measure(function: str, deps: Path, runs: int) -> dict[str, float]:
    env = {"PATH": os.environ.get("PATH", ""), **ENV, "PYTHONPATH": f"{deps}{os.pathsep}{ROOT / 'functions'}"}
    samples = []
    for _ in range(runs):
        done = subprocess.run(
            [sys.executable, "-S", "-c", CHILD, function], env=env, capture_output=True, text=True, timeout=120
        )
        if done.returncode:
            raise SystemExit(f"{function}: {done.stderr[-2000:]}")
        samples.append(json.loads(done.stdout.strip().splitlines()[-1]))
    return {k: round(statistics.median(s[k] for s in samples), 1) for k in ("import_ms", "first_request_ms")}


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--deps", type=Path, required=True)
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args()
    print(json.dumps({fn: measure(fn, args.deps, args.runs) for fn in ("ingest", "query", "aggregate")}))
