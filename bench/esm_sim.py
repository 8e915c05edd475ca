"""Lambda's DynamoDB Streams event source mapping in simulated time, with tumbling windows.

The twin's ESM (twin/esm.py) runs on the wall clock; the bench needs hours of traffic in seconds, so this one
takes every record's stream arrival time up front and replays the mapping's rules per shard:

* records are assigned to tumbling windows by arrival time, windows aligned to multiples of the window
  length since the epoch (TumblingWindowInSeconds);
* inside a window, a batch opens at its first record and closes when the batching window has elapsed
  (MaximumBatchingWindowInSeconds), at the batch size, at 6 MB of payload, or at the window's end,
  whichever comes first;
* each batch is invoked with the Lambda event shape of a tumbling-window invocation: the `state` the previous
  invocation of the same window returned ({} at the window's start), and at the window's end a final
  invocation (`isFinalInvokeForWindow`), carrying the last batch if it closed there, else no records.

Invocations of one shard are serial: the next starts when both its batch has closed and the previous one has
ended (the handler's duration is measured, plus a stated latency model for its DynamoDB requests).
"""

from __future__ import annotations

import datetime as dt
import heapq
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

MAX_PAYLOAD_BYTES = 6 * 1024 * 1024  # Lambda's synchronous invocation payload limit


@dataclass
class Arrival:
    t: float  # when the record entered the stream (simulated seconds since the epoch)
    shard: str
    record: dict[str, Any]  # Lambda-shaped DynamoDB stream record
    hits: int = 0  # page views this record carries (for lag figures)


@dataclass
class Invocation:
    shard: str
    window_start: int
    closed_at: float  # when the batch closed (or the window ended, for an empty final invocation)
    started_at: float
    ended_at: float = 0.0
    records: list[Arrival] = field(default_factory=list)
    final: bool = False
    wrote: int = 0  # writes to the stats table this invocation made (filled in by the caller's probe)
    seconds: float = 0.0  # modelled handler duration
    retries: int = 0


def _iso(t: float) -> str:
    return dt.datetime.fromtimestamp(t, dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _size(record: dict[str, Any]) -> int:
    return len(json.dumps(record, default=str))


def plan(
    arrivals: list[Arrival],
    *,
    batching_s: float,
    tumbling_s: int,
    batch_size: int = 5000,
    max_bytes: int = MAX_PAYLOAD_BYTES,
) -> list[Invocation]:
    """The invocations the mapping would make for these arrivals, per shard, in closing order."""
    by_shard: dict[str, list[Arrival]] = {}
    for a in sorted(arrivals, key=lambda a: a.t):
        by_shard.setdefault(a.shard, []).append(a)
    out: list[Invocation] = []
    for shard, items in by_shard.items():
        i = 0
        while i < len(items):
            w_start = int(items[i].t // tumbling_s) * tumbling_s
            w_end = w_start + tumbling_s
            final_done = False
            while i < len(items) and items[i].t < w_end:
                deadline = min(items[i].t + batching_s, w_end)
                batch: list[Arrival] = []
                size = 0
                closed = deadline
                while i < len(items) and items[i].t < deadline:
                    r_size = _size(items[i].record)
                    if batch and size + r_size > max_bytes:
                        closed = items[i].t
                        break
                    batch.append(items[i])
                    size += r_size
                    i += 1
                    if len(batch) >= batch_size:
                        closed = batch[-1].t
                        break
                final = closed >= w_end
                out.append(Invocation(shard, w_start, closed, closed, records=batch, final=final))
                final_done = final
            if not final_done:
                out.append(Invocation(shard, w_start, float(w_end), float(w_end), final=True))
    out.sort(key=lambda inv: (inv.closed_at, inv.shard))
    return out


Handler = Callable[[dict[str, Any]], dict[str, Any] | None]


def run(
    invocations: list[Invocation],
    handler: Handler,
    *,
    stream_arn: str,
    tumbling_s: int,
    duration: Callable[[Invocation], float],
    max_retries: int = 10,
) -> dict[str, Any]:
    """Invoke `handler` for each planned invocation, shard by shard in time order, threading each window's
    state. `duration(inv)` returns the modelled seconds of the call just made (it reads the caller's meters).
    A failed part (an exception or batchItemFailures) is retried at once from its first failed record."""
    busy_until: dict[str, float] = {}
    state: dict[tuple[str, int], dict[str, Any]] = {}
    heap = [(inv.closed_at, n, inv) for n, inv in enumerate(invocations)]
    heapq.heapify(heap)
    failures = 0
    while heap:
        _, _, inv = heapq.heappop(heap)
        inv.started_at = max(inv.closed_at, busy_until.get(inv.shard, 0.0))
        key = (inv.shard, inv.window_start)
        pending = list(inv.records)
        seconds = 0.0
        while True:
            event = {
                "Records": [a.record for a in pending],
                "shardId": inv.shard,
                "eventSourceARN": stream_arn,
                "window": {"start": _iso(inv.window_start), "end": _iso(inv.window_start + tumbling_s)},
                "state": state.get(key, {}),
                "isFinalInvokeForWindow": inv.final,
                "isWindowTerminatedEarly": False,
            }
            try:
                response, ok = handler(event) or {}, True
            except Exception:  # noqa: BLE001 - a function error, as Lambda sees it: retry the batch
                response, ok = {}, False
            seconds += duration(inv)
            failed = {str(f.get("itemIdentifier")) for f in response.get("batchItemFailures") or []}
            if ok:
                state[key] = response.get("state") or {}
                if not failed:
                    break
            failures += 1
            inv.retries += 1
            if inv.retries > max_retries:
                break
            positions = [k for k, a in enumerate(pending) if ok and _seq(a) in failed] or [0]
            pending = pending[min(positions) :]
        inv.seconds = seconds
        inv.ended_at = inv.started_at + seconds
        busy_until[inv.shard] = inv.ended_at
        if inv.final:
            state.pop(key, None)
    return {"invocations": len(invocations), "failures": failures}


def _seq(a: Arrival) -> str:
    return str(a.record["dynamodb"]["SequenceNumber"])


def visible_at(invocations: list[Invocation]) -> dict[int, float]:
    """For each delivered record (by id()), when its counts became readable: the end of the first invocation
    of its shard, from the one that delivered it on, that wrote to the stats table."""
    out: dict[int, float] = {}
    by_shard: dict[str, list[Invocation]] = {}
    for inv in sorted(invocations, key=lambda i: i.started_at):
        by_shard.setdefault(inv.shard, []).append(inv)
    for invs in by_shard.values():
        waiting: list[Arrival] = []
        for inv in invs:
            waiting.extend(inv.records)
            if inv.wrote:
                for a in waiting:
                    out[id(a)] = inv.ended_at
                waiting = []
    return out
