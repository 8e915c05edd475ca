"""`python -m twin` (what `make run` starts): the whole pipeline on http://HOST:PORT, no AWS account needed."""

from __future__ import annotations

import logging
import os
import signal
import socket
import sys
import threading
import warnings
from dataclasses import dataclass

from twin import owner
from twin.backend import Backend, prepare_environment
from twin.persist import open_store
from twin.server import READ_TIMEOUT, listen, serve


class SettingError(Exception):
    pass


@dataclass(frozen=True)
class TwinSettings:
    host: str
    port: int
    shards: int
    fault_rate: float
    redelivery_rate: float
    read_timeout: float
    freshness_s: float = 2.0
    pessimistic: bool = False


def _number(name: str, default: float, low: float, high: float, kind: type[int] | type[float]) -> float:
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    try:
        value = kind(raw)
    except ValueError:
        raise SettingError(f"{name} must be {'an integer' if kind is int else 'a number'}, got {raw!r}") from None
    if not low <= value <= high:  # NaN fails this too
        raise SettingError(f"{name} must be between {low:g} and {high:g}, got {raw!r}")
    return value


def read_settings() -> TwinSettings:
    return TwinSettings(
        host=os.environ.get("HOST", "").strip() or "127.0.0.1",
        port=int(_number("PORT", 8000, 0, 65535, int)),
        shards=int(_number("HITSTREAM_SHARDS", 2, 1, 256, int)),
        fault_rate=_number("HITSTREAM_FAULT_RATE", 0.0, 0, 1, float),
        redelivery_rate=_number("HITSTREAM_REDELIVERY_RATE", 0.0, 0, 1, float),
        read_timeout=_number("HITSTREAM_READ_TIMEOUT", READ_TIMEOUT, 0.1, 3600, float),
        freshness_s=_number("HITSTREAM_FRESHNESS_SECONDS", 2.0, 0.5, 900, float),
        pessimistic=_esm_mode() == "pessimistic",
    )


def _esm_mode() -> str:
    mode = os.environ.get("HITSTREAM_ESM_MODE", "").strip().lower() or "documented"
    if mode not in ("documented", "pessimistic"):
        raise SettingError(f"HITSTREAM_ESM_MODE must be documented or pessimistic, got {mode!r}")
    return mode


def main() -> None:
    """Every bad setting and a port that cannot be had end the twin with one line and exit status 1."""
    warnings.filterwarnings("ignore", message="No application metrics to publish")
    level = os.environ.get("TWIN_LOG_LEVEL", "INFO").strip().upper() or "INFO"
    if not isinstance(logging.getLevelName(level), int):
        sys.exit(f"TWIN_LOG_LEVEL must be DEBUG, INFO, WARNING or ERROR, got {level!r}")
    logging.basicConfig(level=level, format="%(asctime)s %(name)s %(message)s")
    logging.getLogger("botocore").setLevel(max(logging.WARNING, logging.getLogger().level))
    try:
        cfg = read_settings()
    except SettingError as exc:
        sys.exit(str(exc))
    try:
        listener = listen(cfg.host, cfg.port)  # first: a taken port must not open the data directory
    except OSError as exc:
        # a bind error's text repeats the address; an unknown host's errno is getaddrinfo's, not the OS's
        if exc.errno and not isinstance(exc, socket.gaierror):
            reason = os.strerror(exc.errno)
        else:
            reason = exc.strerror or str(exc)
        sys.exit(f"cannot listen on {cfg.host}:{cfg.port}: {reason} (set HOST or PORT)")
    try:
        run(cfg, listener)
    except KeyboardInterrupt:  # Ctrl-C while starting
        print("stopped", flush=True)


def run(cfg: TwinSettings, listener: socket.socket) -> None:
    prepare_environment()
    from hitstream.config import ConfigError

    host, fault_rate, redelivery_rate = cfg.host, cfg.fault_rate, cfg.redelivery_rate
    mode = owner.dashboard_mode()
    try:
        backend = Backend(
            shards=cfg.shards,
            fault_rate=fault_rate,
            redelivery_rate=redelivery_rate,
            env={"DASHBOARD": mode},
            # as on AWS: batches wait up to a batching window; tumbling windows carry no state (they name the
            # shard); the batching window plus the poller's 0.2 s keeps counts within the freshness bound
            batching_s=max(0.0, cfg.freshness_s * 0.4),
            window_s=5.0 if cfg.pessimistic else 900.0,
            pessimistic=cfg.pessimistic,
        )
    except ConfigError as exc:
        sys.exit(str(exc))
    store = open_store(backend)  # before anything writes: restores .hitstream/ (or HITSTREAM_DATA)
    token = owner.install_token(backend.settings.stats_table, store.directory if store else None)
    server, poller = serve(listener, backend, cfg.read_timeout)
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
    if cfg.pessimistic:
        print(
            "event source: pessimistic (shards end every ~15 s without their window's final invocation, retries "
            "come without the returned state, final invocations come late)",
            flush=True,
        )
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
