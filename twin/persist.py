"""The twin's data on disk: every table restored at start, snapshotted while running and at a clean stop.

A snapshot is taken only with the stream settled, under the backend's lock: every event written so far has been
folded into the counters, nothing is in flight. Events and counters on disk therefore always agree, and a restore
re-counts nothing:
  * items are loaded with the table's stream detached, so they produce no stream records;
  * the stream then continues at the sequence number where it stopped. The aggregator's fences hold the highest
    sequence number folded per shard, and the twin's shard names do not change across a restart, so new records
    must sort after the old ones or the fences would take them for duplicates.

The snapshot is one JSON file, written to a temporary file and renamed over the last one, so a crash (SIGKILL)
leaves the previous snapshot whole and loses at most the last SNAPSHOT_SECONDS or so.
"""

from __future__ import annotations

import base64
import contextlib
import fcntl
import json
import os
import threading
import time
from pathlib import Path
from typing import IO, Any

from twin.backend import ROOT, Backend

FORMAT = 1
SNAPSHOT_SECONDS = 2.0
FILE = "twin.json"


class DataDirBusy(RuntimeError):
    pass


def data_dir(env: dict[str, str] | None = None) -> Path | None:
    """Where the twin keeps its data: HITSTREAM_DATA, else .hitstream/ in the repository; None for "memory"."""
    raw = (env if env is not None else os.environ).get("HITSTREAM_DATA", "").strip()
    if raw.lower() == "memory":
        return None
    return Path(raw).expanduser().resolve() if raw else ROOT / ".hitstream"


def _wire(value: Any) -> dict[str, Any]:
    """A moto attribute value in DynamoDB's JSON wire format: binary values base64-encoded, as the API returns them."""
    kind, inner = value.type, value.value
    if kind == "M":
        return {"M": {k: _wire(v) for k, v in inner.items()}}
    if kind == "L":
        return {"L": [_wire(v) for v in inner]}
    if kind == "B":
        return {"B": _b64(inner)}
    if kind == "BS":
        return {"BS": [_b64(v) for v in inner]}
    return {kind: list(inner) if isinstance(inner, list) else inner}


def _b64(value: bytes | str) -> str:
    return base64.b64encode(value).decode() if isinstance(value, bytes) else value  # moto keeps some as base64


def _client_value(value: dict[str, Any]) -> dict[str, Any]:
    """The wire format back into what boto3 takes: bytes for binary values."""
    (kind, inner), *_ = value.items()
    if kind == "M":
        return {"M": {k: _client_value(v) for k, v in inner.items()}}
    if kind == "L":
        return {"L": [_client_value(v) for v in inner]}
    if kind == "B":
        return {"B": base64.b64decode(inner)}
    if kind == "BS":
        return {"BS": [base64.b64decode(v) for v in inner]}
    return value


def _moto_table(name: str) -> Any:
    from moto.core import DEFAULT_ACCOUNT_ID
    from moto.dynamodb.models import dynamodb_backends

    return dynamodb_backends[DEFAULT_ACCOUNT_ID][os.environ["AWS_DEFAULT_REGION"]].tables[name]


def _next_sequence(table: Any) -> int | None:
    shard = table.stream_shard
    return None if shard is None else int(shard.starting_sequence_number) + len(shard.items)


class Store:
    """One twin's data directory: restore once, then snapshots from a background thread until close()."""

    def __init__(self, backend: Backend, directory: Path, interval: float = SNAPSHOT_SECONDS) -> None:
        import boto3

        self.backend = backend
        self.directory = directory
        self.path = directory / FILE
        self.interval = interval
        self.db = boto3.client("dynamodb")  # a plain client: no fault injection, no handler role
        self.restored = 0
        self._saved_mark: tuple[int, ...] | None = None
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._run, name="twin-snapshots", daemon=True)
        directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        self._lock_file: IO[str] = (directory / "lock").open("w")
        try:
            fcntl.flock(self._lock_file, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            self._lock_file.close()
            raise DataDirBusy(f"another twin is using {directory}; stop it or set HITSTREAM_DATA") from None

    # -- restore ----------------------------------------------------------------------------------------------

    def restore(self) -> int:
        """Load the last snapshot into the (empty, just created) tables; returns how many items it held."""
        if not self.path.exists():
            return 0
        snapshot = json.loads(self.path.read_text())
        if snapshot.get("format") != FORMAT:
            raise ValueError(f"{self.path} has format {snapshot.get('format')!r}, this twin reads {FORMAT}")
        existing = set(self._table_names())
        with self.backend.lock:
            for name, saved in snapshot["tables"].items():
                if name not in existing:
                    print(
                        f"data: {name} is no longer a table of the twin; its {len(saved['items'])} items are left out"
                    )
                    continue
                self.restored += self._load(name, saved)
        self._saved_mark = self._mark()
        return self.restored

    def _load(self, name: str, saved: dict[str, Any]) -> int:
        table = _moto_table(name)
        shard, table.stream_shard = table.stream_shard, None  # restored items are not new events
        try:
            items = [{k: _client_value(v) for k, v in item.items()} for item in saved["items"]]
            for start in range(0, len(items), 25):
                request = {name: [{"PutRequest": {"Item": item}} for item in items[start : start + 25]]}
                while request:
                    request = self.db.batch_write_item(RequestItems=request).get("UnprocessedItems") or {}
        finally:
            table.stream_shard = shard
        if shard is not None and saved.get("next_sequence") is not None:
            shard.starting_sequence_number = max(int(shard.starting_sequence_number), int(saved["next_sequence"]))
        return len(items)

    # -- snapshots --------------------------------------------------------------------------------------------

    def start(self) -> None:
        self._thread.start()

    def close(self) -> None:
        """Stop the snapshots and take the last one (after the poller has stopped)."""
        self._stopping.set()
        if self._thread.is_alive():
            self._thread.join(timeout=30)
        try:
            self.snapshot()
        finally:
            fcntl.flock(self._lock_file, fcntl.LOCK_UN)
            self._lock_file.close()

    def _run(self) -> None:
        while not self._stopping.wait(self.interval):
            try:
                self.snapshot()
            except Exception as exc:  # noqa: BLE001 - keep serving; the next snapshot tries again
                print(f"data: snapshot failed ({exc!r}); will retry", flush=True)

    def _mark(self) -> tuple[int, ...]:
        """Changes since the last snapshot: aggregate invocations and stream records (salts ride with events)."""
        return (self.backend.esm.invocations, *(_next_sequence(_moto_table(n)) or 0 for n in self._table_names()))

    def snapshot(self) -> bool:
        """Settle the stream, then dump every table, all under the backend's lock. Returns whether it wrote."""
        with self.backend.lock:
            self.backend.settle()
            mark = self._mark()
            if mark == self._saved_mark:
                return False
            tables = {name: self._dump(name) for name in self._table_names()}  # copies, safe to encode unlocked
            saved_at = round(time.time(), 3)
        body = json.dumps({"format": FORMAT, "saved_at": saved_at, "tables": tables}, separators=(",", ":"))
        tmp = self.path.with_name(self.path.name + ".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as out:
            out.write(body)
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, self.path)
        self._saved_mark = mark
        return True

    def _table_names(self) -> list[str]:
        names: list[str] = []
        for page in self.db.get_paginator("list_tables").paginate():
            names.extend(page["TableNames"])
        return names

    @staticmethod
    def _dump(name: str) -> dict[str, Any]:
        """A table's items in DynamoDB's JSON wire format, read from moto's model (a Scan costs ~10x more)."""
        table = _moto_table(name)
        items = [{k: _wire(v) for k, v in item.attrs.items()} for item in table.all_items()]
        return {"items": items, "next_sequence": _next_sequence(table)}


def open_store(backend: Backend) -> Store | None:
    """What `python -m twin` calls right after creating the backend: restore, say where the data lives, start."""
    directory = data_dir()
    if directory is None:
        print("data: kept in memory only (HITSTREAM_DATA=memory); a restart starts empty", flush=True)
        return None
    try:
        store = Store(backend, directory)
    except DataDirBusy as exc:
        raise SystemExit(f"data: {exc}") from exc
    started = time.monotonic()
    try:
        count = store.restore()
    except (ValueError, KeyError, TypeError) as exc:
        raise SystemExit(
            f"data: cannot read {store.path} ({exc}). Move it away to start empty, or set HITSTREAM_DATA=memory."
        ) from exc
    where = _shown(directory)
    if count:
        print(f"data: {where} (restored {count:,} items in {time.monotonic() - started:.1f} s)", flush=True)
    else:
        print(f"data: {where} (empty; saved every {SNAPSHOT_SECONDS:g} s and at Ctrl-C)", flush=True)
    store.start()
    return store


def _shown(directory: Path) -> str:
    with contextlib.suppress(ValueError):
        return str(directory.relative_to(Path.cwd())) + "/"
    return str(directory) + "/"
