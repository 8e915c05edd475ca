"""An emulation of Lambda's DynamoDB Streams event source mapping, for the twin and the tests.

Per shard, in order: batches of up to batch_size records (after the event filter), held up to the batching
window, invoked with the tumbling-window fields (so the handler sees shardId), then
  * a raised error: bisect the batch and retry each half (if bisect is on), else retry it whole;
  * batchItemFailures: everything before the lowest failed sequence number is done, the rest is retried;
  * after retry_attempts retries a record goes to the on-failure destination (here, a logged list).
With redelivery_rate > 0, a processed batch is sometimes delivered again, as Lambda occasionally does.

`pessimistic=True` does what Lambda's documentation does not rule out (docs/decisions.md "No count waits for a
window"):
  * every shard ends after about `shard_life_s` and a child shard takes its new records; the parent is drained
    first, and the window open on it never gets its final invocation;
  * a retried invocation does not get back the `state` the failed one returned (it gets the one from before
    it, or none);
  * a window's final invocation comes late: after records of the next window have been delivered.
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
    parent: str | None = None
    born: float = 0.0
    pending: deque[dict[str, Any]] = field(default_factory=deque)
    since: float | None = None  # when the oldest pending record arrived (the batching window runs from it)
    attempts: dict[str, int] = field(default_factory=dict)  # sequence number -> failed deliveries
    state: dict[str, Any] = field(default_factory=dict)  # the tumbling window's state, as the handler returned it
    window_end: float | None = None  # when the open window's final invocation is due
    final_failures: int = 0
    late_final: dict[str, Any] | None = None  # pessimistic: a closed window's state, finalised after a batch
    ended: bool = False  # pessimistic: no new records come to this shard; a child takes them


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
    window_s: float | None = None  # None: every invocation is its window's final one
    clock: Callable[[], float] = time.monotonic
    batching_s: float = 0.0  # MaximumBatchingWindowInSeconds: a shard's records wait up to this for a full batch
    pessimistic: bool = False
    shard_life_s: float = 15.0
    lanes: dict[str, str] = field(default_factory=dict)  # lane (the item's home) -> its current shard id
    generations: int = 0

    # -- records in -----------------------------------------------------------------------------------------

    def put(self, lane: str, records: list[dict[str, Any]]) -> None:
        """New stream records of one lane (the keys that always share a shard) go to the lane's open shard."""
        kept = [r for r in records if matches(self.filter_pattern, r)]
        if not kept:
            self._current(lane)
            return
        shard = self._current(lane)
        if not shard.pending:
            shard.since = self.clock()
        shard.pending.extend(kept)

    def _current(self, lane: str) -> Shard:
        sid = self.lanes.get(lane, lane)
        shard = self.shards.get(sid)
        now = self.clock()
        if shard is None:
            shard = self.shards[sid] = Shard(sid, born=now)
            self.lanes[lane] = sid
        elif self.pessimistic and now - shard.born >= self.shard_life_s:
            shard.ended = True  # its open window never gets a final invocation (dropped when it drains)
            self.generations += 1
            child = f"{lane}-child{self.generations:06d}"
            shard = self.shards[child] = Shard(child, parent=sid, born=now)
            self.lanes[lane] = child
        return shard

    # -- what is ready ---------------------------------------------------------------------------------------

    def idle(self) -> bool:
        return all(not s.pending for s in self.shards.values())

    def open_windows(self) -> bool:
        return any(s.state or s.late_final is not None for s in self.shards.values())

    def _blocked(self, shard: Shard) -> bool:
        """A child shard waits until its parent is drained, as Lambda processes a parent before its children."""
        parent = self.shards.get(shard.parent) if shard.parent else None
        return parent is not None and bool(parent.pending)

    def _due(self, shard: Shard, force: bool) -> bool:
        if not shard.pending or self._blocked(shard):
            return False
        if force or len(shard.pending) >= self.batch_size or self.batching_s <= 0:
            return True
        return shard.since is not None and self.clock() - shard.since >= self.batching_s

    def ready(self, force: bool = True) -> list[str]:
        return [sid for sid, s in self.shards.items() if self._due(s, force)]

    # -- delivery --------------------------------------------------------------------------------------------

    def pump(self, shard_id: str) -> bool:
        """Deliver one batch of a shard (with its retries); returns whether anything was delivered."""
        shard = self.shards.get(shard_id)
        if shard is None or not shard.pending or self._blocked(shard):
            return False
        batch = [shard.pending[i] for i in range(min(self.batch_size, len(shard.pending)))]
        self._deliver(shard, batch)
        shard.since = self.clock() if shard.pending else None
        if shard.late_final is not None:
            self._final(shard, shard.late_final)  # late: records of the next window went first
            shard.late_final = None
        self._retire(shard)
        return True

    def drain(self, order: Callable[[list[str]], str] | None = None, force: bool = True) -> int:
        """Deliver every batch that is due (everything, when forced); `order` picks which shard goes next (tests use
        it to interleave shards). Returns the number of batches delivered."""
        delivered = 0
        while ready := self.ready(force):
            self.pump(order(ready) if order else ready[0])
            delivered += 1
        return delivered

    def close_windows(self, force: bool = False) -> None:
        """The final invocation of every window that is due (all open ones when forced): it gets the state.
        Pessimistic: a due window is closed for new records at once, and its final invocation comes only after
        the shard's next batch (or when forced)."""
        now = self.clock()
        for shard in list(self.shards.values()):
            if shard.late_final is not None and (force or not shard.pending):
                self._final(shard, shard.late_final)
                shard.late_final = None
            if not shard.state or not (force or (shard.window_end is not None and now >= shard.window_end)):
                continue
            if self.pessimistic and not force and shard.pending:
                shard.late_final, shard.state, shard.window_end = shard.state, {}, None
                continue
            self._final(shard, shard.state)
            shard.state, shard.window_end = {}, None

    def _final(self, shard: Shard, state: dict[str, Any]) -> None:
        """A window's final invocation, retried as Lambda does up to the retry budget; then the DLQ."""
        failures = 0
        while True:
            try:
                self._invoke(shard, [], final=True, state=state)
                return
            except Exception:  # noqa: BLE001 - a function error, as Lambda sees it: the window is retried
                failures += 1
                log.warning("aggregate function error on a window's final invocation")
                if failures > self.retry_attempts:
                    self.dlq.append({"shardId": shard.shard_id, "window": True})
                    log.error("a window's final invocation was sent to the on-failure destination")
                    return

    def _retire(self, shard: Shard) -> None:
        """An ended shard that is drained goes away, with its open window: no final invocation for it."""
        if shard.ended and not shard.pending:
            shard.state, shard.window_end, shard.late_final = {}, None, None
            del self.shards[shard.shard_id]
            for child in self.shards.values():
                if child.parent == shard.shard_id:
                    child.parent = None

    def _invoke(
        self, shard: Shard, batch: list[dict[str, Any]], final: bool = False, state: dict[str, Any] | None = None
    ) -> dict[str, Any] | None:
        self.invocations += 1
        event = {
            "Records": batch,
            "shardId": shard.shard_id,
            "eventSourceARN": self.stream_arn,
            "window": {"start": "1970-01-01T00:00:00Z", "end": "1970-01-01T00:15:00Z"},
            "state": dict(shard.state if state is None else state),
            "isFinalInvokeForWindow": final or self.window_s is None,
            "isWindowTerminatedEarly": False,
        }
        before = dict(shard.state)
        try:
            response = self.handler(event)
        except Exception:
            if self.pessimistic and not final:
                shard.state = before if self.rng.random() < 0.5 else {}
            raise
        if final or self.window_s is None or response is None:
            return response
        if "state" not in response:
            raise RuntimeError("a tumbling-window invocation answered without `state`: Lambda counts it as failed")
        if response.get("batchItemFailures") and self.pessimistic:
            shard.state = before if self.rng.random() < 0.5 else {}  # the retry does not get the returned state
            return response
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
                try:
                    self._invoke(shard, done)  # a duplicate delivery: its outcome does not move the checkpoint
                except Exception:  # noqa: BLE001 - nor does its failure
                    log.warning("aggregate function error on a redelivered batch")
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
