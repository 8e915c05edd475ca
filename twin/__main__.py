"""`python -m twin` (what `make run` starts): the whole pipeline on http://HOST:PORT, no AWS account needed."""

from __future__ import annotations

import logging
import os
import signal
import sys
import threading
import warnings

from twin import owner
from twin.backend import Backend
from twin.persist import open_store
from twin.server import serve


def _rate(name: str) -> float:
    raw = os.environ.get(name, "0") or "0"
    try:
        value = float(raw)
    except ValueError:
        sys.exit(f"{name} must be a number between 0 and 1, got {raw!r}")
    if not 0 <= value <= 1:
        sys.exit(f"{name} must be between 0 and 1, got {value}")
    return value


def main() -> None:
    warnings.filterwarnings("ignore", message="No application metrics to publish")
    logging.basicConfig(level=os.environ.get("TWIN_LOG_LEVEL", "INFO"), format="%(asctime)s %(name)s %(message)s")
    logging.getLogger("botocore").setLevel(max(logging.WARNING, logging.getLogger().level))
    host, port = os.environ.get("HOST", "127.0.0.1"), int(os.environ.get("PORT", "8000"))
    fault_rate, redelivery_rate = _rate("HITSTREAM_FAULT_RATE"), _rate("HITSTREAM_REDELIVERY_RATE")
    mode = owner.dashboard_mode()
    backend = Backend(
        shards=int(os.environ.get("HITSTREAM_SHARDS", "2")),
        fault_rate=fault_rate,
        redelivery_rate=redelivery_rate,
        env={"DASHBOARD": mode},
    )
    store = open_store(backend)  # before anything writes: restores .hitstream/ (or HITSTREAM_DATA)
    token = owner.install_token(backend.settings.stats_table)
    server, poller = serve(host, port, backend)
    if os.environ.get("HITSTREAM_DEMO", "") not in ("", "0"):
        from twin.demo import seed_in_background

        seed_in_background(backend, restored=store.restored if store else 0)
    stop = threading.Event()

    def shutdown(*_: object) -> None:
        if not stop.is_set():
            stop.set()
            threading.Thread(target=server.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, shutdown)
    signal.signal(signal.SIGINT, shutdown)
    faults = f" (faults {fault_rate:.0%}, redelivery {redelivery_rate:.0%})" if fault_rate or redelivery_rate else ""
    print(
        f"hitstream twin on http://{host}:{server.server_address[1]}/  dashboard, API, beacon.js{faults}; Ctrl-C stops",
        flush=True,
    )
    print(owner.dashboard_address(host, server.server_address[1], token, mode), flush=True)
    try:
        server.serve_forever(poll_interval=0.2)
    finally:
        poller.stop()
        if store:
            store.close()  # the last snapshot, after the poller has stopped
        server.server_close()
        if backend.esm.dlq:
            print(f"{len(backend.esm.dlq)} batches went to the local DLQ", flush=True)
        backend.close()
        print("stopped", flush=True)


if __name__ == "__main__":
    main()
