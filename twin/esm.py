"""An emulation of Lambda's DynamoDB Streams event source mapping, for the twin and the tests.

Per shard, in order: batches of up to batch_size records (after the event filter), invoked with the
tumbling-window fields (so the handler sees shardId), then
  * a raised error: bisect the batch and retry each half (if bisect is on), else retry it whole;
  * batchItemFailures: everything before the lowest failed sequence number is done, the rest is retried;
  * after retry_attempts retries a record goes to the on-failure destination (here, a logged list).
With redelivery_rate > 0, a processed batch is sometimes delivered again, as Lambda occasionally does.
"""

from __future__ import annotations

import logging
import random
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

log = logging.getLogger("hitstream.twin.esm")

Handler = Callable[[dict[str, Any]], dict[str, Any] | None]


def matches(pattern: dict[str, Any], record: dict[str, Any]) -> bool:
    """The subset of Lambda event filtering the stack uses: exact values listed per top-level key."""
    return all(record.get(key) in allowed for key, allowed in pattern.items())


@dataclass
class Shard:
    shard_id: str
    pending: deque[dict[str, Any]] = field(default_factory=deque)
    attempts: dict[str, int] = field(default_factory=dict)  # sequence number -> failed deliveries
    state: dict[str, Any] = field(default_factory=dict)  # the tumbling window's state, as the handler returned it
    window_end: float | None = None  # when the open window's final invocation is due
    final_failures: int = 0


@dataclass
class EventSourceMapping:
    handler: Handler
    stream_arn: str
    filter_pattern: dict[str, Any]
    batch_size: int = 100
    retry_attempts: int = 5
    bisect: bool = True
    redelivery_rate: float = 0.0
    rng: random.Random = field(default_factory=random.Random)
    dlq: list[dict[str, Any]] = field(default_factory=list)
    shards: dict[str, Shard] = field(default_factory=dict)
    invocations: int = 0
    window_s: float | None = None  # None: every invocation is its window's final one (writes at once)
    clock: Callable[[], float] = time.monotonic

    def put(self, shard_id: str, records: list[dict[str, Any]]) -> None:
        shard = self.shards.setdefault(shard_id, Shard(shard_id))
        shard.pending.extend(r for r in records if matches(self.filter_pattern, r))

    def idle(self) -> bool:
        return all(not s.pending for s in self.shards.values())

    def open_windows(self) -> bool:
        return any(s.state for s in self.shards.values())

    def close_windows(self, force: bool = False) -> None:
        """The final invocation of every window that is due (all open ones when forced): it writes the state.
        A failed final invocation is retried, as Lambda does, up to the retry budget; then the DLQ."""
        now = self.clock()
        for shard in list(self.shards.values()):
            if not shard.state or not (force or (shard.window_end is not None and now >= shard.window_end)):
                continue
            while True:
                try:
                    self._invoke(shard, [], final=True)
                    break
                except Exception:  # noqa: BLE001 - a function error, as Lambda sees it: the window is retried
                    shard.final_failures += 1
                    log.warning("aggregate function error on a window's final invocation")
                    if shard.final_failures > self.retry_attempts:
                        self.dlq.append({"shardId": shard.shard_id, "window": True, "records": shard.state.get("n", 0)})
                        log.error("a window's records were sent to the on-failure destination")
                        break
            shard.state, shard.window_end, shard.final_failures = {}, None, 0

    def pump(self, shard_id: str) -> bool:
        """Deliver one batch of a shard (with its retries); returns whether anything was delivered."""
        shard = self.shards.get(shard_id)
        if shard is None or not shard.pending:
            return False
        batch = [shard.pending[i] for i in range(min(self.batch_size, len(shard.pending)))]
        self._deliver(shard, batch)
        return True

    def drain(self, order: Callable[[list[str]], str] | None = None) -> None:
        """Deliver everything; `order` picks which shard goes next (tests use it to interleave shards)."""
        while not self.idle():
            ready = [sid for sid, s in self.shards.items() if s.pending]
            self.pump(order(ready) if order else ready[0])

    def _invoke(self, shard: Shard, batch: list[dict[str, Any]], final: bool = False) -> dict[str, Any] | None:
        self.invocations += 1
        event = {
            "Records": batch,
            "shardId": shard.shard_id,
            "eventSourceARN": self.stream_arn,
            "window": {"start": "1970-01-01T00:00:00Z", "end": "1970-01-01T00:01:00Z"},
            "state": dict(shard.state),
            "isFinalInvokeForWindow": final or self.window_s is None,
            "isWindowTerminatedEarly": False,
        }
        response = self.handler(event)
        if not final and self.window_s is not None and response is not None:
            if not shard.state and response.get("state"):
                shard.window_end = self.clock() + self.window_s
            shard.state = response.get("state") or {}
        return response

    def _deliver(self, shard: Shard, batch: list[dict[str, Any]]) -> None:
        todo: deque[list[dict[str, Any]]] = deque([batch])
        while todo:
            part = todo.popleft()
            try:
                response = self._invoke(shard, part) or {}
            except Exception:  # noqa: BLE001 - a function error, as Lambda sees it
                log.warning("aggregate function error on a batch of %d records", len(part))
                if self._count_failure(shard, part):
                    continue
                if self.bisect and len(part) > 1:
                    middle = len(part) // 2
                    todo.appendleft(part[middle:])
                    todo.appendleft(part[:middle])
                else:
                    todo.appendleft(part)
                continue
            failed = [f.get("itemIdentifier") for f in response.get("batchItemFailures") or []]
            positions = [i for i, r in enumerate(part) if r["dynamodb"]["SequenceNumber"] in failed]
            if failed and not positions:  # an identifier Lambda cannot match fails the whole batch
                positions = [0]
            done = part[: min(positions)] if positions else part
            for record in done:
                shard.pending.popleft()
                shard.attempts.pop(record["dynamodb"]["SequenceNumber"], None)
            if done and self.redelivery_rate and self.rng.random() < self.redelivery_rate:
                kept = dict(shard.state)
                self._invoke(shard, done)  # a duplicate delivery: its outcome does not move the checkpoint
                if self.window_s is not None and self.rng.random() < 0.5:
                    shard.state = kept  # ... nor, sometimes, the window's state
            if positions:
                rest = part[min(positions) :]
                if not self._count_failure(shard, rest):
                    todo.appendleft(rest)
            # records after this part but inside the original batch are delivered by the next pump

    def _count_failure(self, shard: Shard, part: list[dict[str, Any]]) -> bool:
        """Count a failed delivery; past the retry budget the part goes to the DLQ. Returns True if it did."""
        first = part[0]["dynamodb"]["SequenceNumber"]
        shard.attempts[first] = shard.attempts.get(first, 0) + 1
        if shard.attempts[first] <= self.retry_attempts:
            return False
        for record in part:
            shard.pending.popleft()
            shard.attempts.pop(record["dynamodb"]["SequenceNumber"], None)
        entry = {
            "shardId": shard.shard_id,
            "startSequenceNumber": first,
            "endSequenceNumber": part[-1]["dynamodb"]["SequenceNumber"],
            "batchSize": len(part),
        }
        self.dlq.append(entry)
        log.error("records sent to the on-failure destination: %s", entry)
        return True
