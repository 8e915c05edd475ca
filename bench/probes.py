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

# What the stack gives the functions (tracing on, as in the stack); only the table names are made up.
LAMBDA_ENV = {
    "EVENTS_TABLE": "hitstream-events",
    "STATS_TABLE": "hitstream-stats",
    "SALTS_TABLE": "hitstream-salts",
    "SITES": "localhost",
    "DASHBOARD": "public",
    "AWS_REGION": "us-east-1",
    "AWS_DEFAULT_REGION": "us-east-1",
    "POWERTOOLS_SERVICE_NAME": "hitstream",
    "POWERTOOLS_METRICS_NAMESPACE": "Hitstream",
    "POWERTOOLS_LOG_LEVEL": "INFO",
}


COLD_CHILD = r"""
import io, json, os, sys, time
sys.path.insert(0, {path!r})
spec = json.loads(open({spec!r}).read())

class Context:
    function_name = "hitstream-" + spec["name"]
    memory_limit_in_mb = 256
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:" + function_name
    aws_request_id = "bench"
    def get_remaining_time_in_millis(self):
        return 10000

t0 = time.perf_counter()
if spec["module"] == "boto3":
    import boto3
    out = {{"import": time.perf_counter() - t0, "first": time.perf_counter() - t0, "logs": []}}
else:
    mod = __import__(spec["module"], fromlist=["lambda_handler"])
    t1 = time.perf_counter()
    real, logs, statuses = sys.stdout, [], []
    for i, event in enumerate(spec["events"]):
        sys.stdout = buf = io.StringIO()
        try:
            res = mod.lambda_handler(event, Context())
        finally:
            sys.stdout = real
        if i == 0:
            t2 = time.perf_counter()
        statuses.append(res.get("statusCode") if isinstance(res, dict) else None)
        logs.append(buf.getvalue())
    out = {{"import": t1 - t0, "first": t2 - t0, "logs": logs, "statuses": statuses}}
print("BENCH-RESULT " + json.dumps(out))
"""

# Lambda's own lines per invocation (START, END, REPORT) in the text format, and CloudWatch Logs' 26-byte
# overhead per event: a stated model (the handlers' own lines are measured). A stack with JSON logs and a
# system log level of WARN or above gets none of them (cold_start's `platform_lines`).
PLATFORM_LOG_BYTES = 80 + 60 + 190 + 3 * 26
LOG_EVENT_OVERHEAD = 26


def cold_start(
    events: dict[str, list[dict[str, Any]]],
    runs: int = 5,
    env_extra: dict[str, str] | None = None,
    platform_lines: bool = True,
) -> dict[str, Any]:
    """Per function, in fresh interpreters: `import <handler>` plus its first request (client creation, bot
    list, salt, the DynamoDB calls against a local moto server over loopback), against `import boto3`.
    Interleaved, median of `runs` after a warm-up pass. The further events of each run measure the log bytes
    a warm invocation writes (Powertools JSON lines and EMF metrics), and the metrics it emits."""
    import logging
    import tempfile

    import boto3
    from hitstream.storage import schema
    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # no request log lines on the bench's stdout
    port = _free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    endpoint = f"http://127.0.0.1:{port}"
    try:
        db = boto3.client("dynamodb", endpoint_url=endpoint, region_name="us-east-1")
        db.create_table(**schema.events_table_definition(LAMBDA_ENV["EVENTS_TABLE"]))
        db.create_table(**schema.stats_table_definition(LAMBDA_ENV["STATS_TABLE"]))
        db.create_table(**schema.salts_table_definition(LAMBDA_ENV["SALTS_TABLE"]))
        env = {k: v for k, v in os.environ.items() if not k.startswith(("POWERTOOLS_", "HITSTREAM_", "AWS_"))}
        env.update(LAMBDA_ENV)
        env.update(env_extra or {})
        env.update(AWS_ENDPOINT_URL=endpoint, AWS_ACCESS_KEY_ID="bench", AWS_SECRET_ACCESS_KEY="bench")
        env["AWS_ACCOUNT_ID_ENDPOINT_MODE"] = "disabled"
        env["PYTHONDONTWRITEBYTECODE"] = ""
        names = ["boto3", *events]
        times: dict[str, list[tuple[float, float]]] = {n: [] for n in names}
        logs: dict[str, list[str]] = {}
        statuses: dict[str, list[Any]] = {}
        with tempfile.TemporaryDirectory() as tmp:
            for i in range(runs + 1):
                for name in names:
                    spec_path = Path(tmp) / f"{name}.json"
                    module = "boto3" if name == "boto3" else f"{name}.handler"
                    spec_path.write_text(json.dumps({"name": name, "module": module, "events": events.get(name, [])}))
                    code = COLD_CHILD.format(path=str(FUNCTIONS), spec=str(spec_path))
                    out = subprocess.run(
                        [sys.executable, "-c", code], cwd=FUNCTIONS, env=env, capture_output=True, text=True
                    )
                    line = [x for x in out.stdout.splitlines() if x.startswith("BENCH-RESULT ")]
                    if not line:
                        raise RuntimeError(f"cold start probe for {name} failed: {out.stderr[-2000:]}")
                    result = json.loads(line[-1].split(" ", 1)[1])
                    if i:
                        times[name].append((result["import"], result["first"]))
                    logs[name], statuses[name] = result["logs"], result.get("statuses", [])
    finally:
        server.stop()
    med = {n: (statistics.median(t[0] for t in v), statistics.median(t[1] for t in v)) for n, v in times.items()}
    boto = med["boto3"][0]
    ratios = {n: med[n][1] / boto for n in events}
    warm_logs = {n: [x for x in v[1:]] or v for n, v in logs.items() if n != "boto3"}
    return {
        "seconds_import": {n: m[0] for n, m in med.items()},
        "seconds_first_request": {n: m[1] for n, m in med.items()},
        "ratio": ratios,
        "import_ratio": {n: med[n][0] / boto for n in events},
        "max_ratio": max(ratios.values()),
        "runs": runs,
        "statuses": statuses,
        "log_bytes_per_invocation": {n: _log_bytes(v, platform_lines) for n, v in warm_logs.items()},
        "log_bytes_first_invocation": {n: _log_bytes(v[:1], platform_lines) for n, v in logs.items() if n != "boto3"},
        "platform_lines": platform_lines,
        "metrics": sorted({m for v in warm_logs.values() for m in _emf_metrics(v)}),
        "metrics_cold": sorted({m for n, v in logs.items() if n != "boto3" for m in _emf_metrics(v[:1])}),
    }


def _log_bytes(outputs: list[str], platform_lines: bool = True) -> float:
    """Mean bytes CloudWatch Logs ingests per invocation: the handler's lines (each + overhead) + Lambda's."""
    platform = PLATFORM_LOG_BYTES if platform_lines else 0
    if not outputs:
        return float(platform)
    total = 0
    for text in outputs:
        lines = [x for x in text.splitlines() if x.strip()]
        total += sum(len(x.encode()) + LOG_EVENT_OVERHEAD for x in lines)
    return total / len(outputs) + platform


def _emf_metrics(outputs: list[str]) -> set[str]:
    """Distinct CloudWatch metrics (name + dimension values) in the EMF blobs the handlers printed."""
    out: set[str] = set()
    for text in outputs:
        for line in text.splitlines():
            try:
                blob = json.loads(line)
            except ValueError:
                continue
            meta = blob.get("_aws") if isinstance(blob, dict) else None
            if not meta:
                continue
            for directive in meta.get("CloudWatchMetrics", []):
                for dims in directive.get("Dimensions", []):
                    dim = ",".join(f"{d}={blob.get(d)}" for d in dims)
                    for metric in directive.get("Metrics", []):
                        out.add(f"{directive.get('Namespace')}:{metric['Name']}[{dim}]")
    return out


def synth_facts() -> dict[str, Any]:
    """Alarms, function memory sizes and stream windows from the synthesized template (offline `app.py`)."""
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        env = {**os.environ, "CDK_OUTDIR": tmp, "CDK_CONTEXT_JSON": json.dumps({"sites": "example.com"})}
        env["JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION"] = "1"
        out = subprocess.run([sys.executable, "app.py"], cwd=ROOT, env=env, capture_output=True, text=True)
        templates = list(Path(tmp).glob("*.template.json"))
        if out.returncode or not templates:
            raise RuntimeError(f"synth failed: {out.stderr[-2000:]}")
        template = json.loads(templates[0].read_text())
    resources = template["Resources"].values()
    memory = {}
    for r in resources:
        if r["Type"] == "AWS::Lambda::Function":
            handler = str(r["Properties"].get("Handler", ""))
            memory[handler.split(".")[0]] = int(r["Properties"].get("MemorySize", 128))
    esm = [r["Properties"] for r in resources if r["Type"] == "AWS::Lambda::EventSourceMapping"]
    logging = [r["Properties"].get("LoggingConfig", {}) for r in resources if r["Type"] == "AWS::Lambda::Function"]
    quiet = all(c.get("LogFormat") == "JSON" and c.get("SystemLogLevel") in ("WARN", "ERROR") for c in logging)
    return {
        "alarms": sum(1 for r in resources if r["Type"] == "AWS::CloudWatch::Alarm"),
        "platform_log_lines": not (logging and quiet),
        "memory_mb": memory,
        "esm": {k: esm[0].get(k) for k in ("BatchSize", "MaximumBatchingWindowInSeconds", "TumblingWindowInSeconds")}
        if esm
        else {},
        "billing": sorted(
            {
                str(r["Properties"].get("BillingMode", "PROVISIONED"))
                for r in resources
                if r["Type"] == "AWS::DynamoDB::Table"
            }
        ),
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
