"""Folding across Lambda's tumbling window: deltas ride in `state`, the window's final invocation writes them once."""

from __future__ import annotations

import json
from typing import Any

from hitstream.storage import clients

from bench.meter import Meter
from tests.builders import get, image, stream_event, stream_record
from tests.conftest import Twin

DAY = "2026-11-20"
SHARD = "shardId-00000001700000000000-dddddddd"


def views(n: int, start: int = 1000, slugs: tuple[str, ...] = ("a", "b")) -> list[dict[str, Any]]:
    return [
        stream_record(
            {
                **image(slugs[i % len(slugs)], DAY, hits=1, views={slugs[i % len(slugs)]}),
                "pk": {"S": f"{DAY}#w{start + i}"},
            },
            seq=start + i,
        )
        for i in range(n)
    ]


def invoke(twin: Twin, records: list[dict[str, Any]], state: dict[str, Any], final: bool) -> dict[str, Any]:
    return twin.backend.invoke_aggregate(stream_event(records, SHARD, state=state, final=final))


def stats_writes(twin: Twin) -> Meter:
    meter = Meter()
    meter.attach(clients.dynamodb())
    return meter


def test_a_window_of_batches_writes_each_counter_once(twin: Twin) -> None:
    meter = stats_writes(twin)
    records = views(30)
    state: dict[str, Any] = {}
    for i in range(0, 30, 5):  # six batches inside one window: nothing written yet
        response = invoke(twin, records[i : i + 5], state, final=False)
        assert response["batchItemFailures"] == []
        state = response["state"]
        json.dumps(state)  # Lambda carries it as JSON
    assert meter.total().writes == 0
    assert twin.get(get("/statistics"))[1]["hits"] == 0
    assert invoke(twin, [], state, final=True) == {"batchItemFailures": [], "state": {}}
    # a, b: total + day each; the site: total + day
    assert meter.total().ops["UpdateItem"] == 6
    assert twin.get(get("/statistics"))[1] == {"hits": 30, "visitors": 30, "likes": 0, "articles": 2}
    assert twin.get(get("/statistics/a"))[1]["hits"] == 15


def test_records_redelivered_inside_a_window_count_once(twin: Twin) -> None:
    records = views(20)
    state = invoke(twin, records[:10], {}, final=False)["state"]
    state = invoke(twin, records[:10], state, final=False)["state"]  # the same batch again
    state = invoke(twin, records[5:20], state, final=False)["state"]  # a retry overlapping it
    invoke(twin, records[12:15], state, final=True)  # and a stale stretch with the final invocation
    assert twin.get(get("/statistics"))[1]["hits"] == 20


def test_a_final_invocation_retried_with_the_same_state_counts_once(twin: Twin) -> None:
    records = views(12)
    state = invoke(twin, records[:8], {}, final=False)["state"]
    assert invoke(twin, records[8:], state, final=True)["batchItemFailures"] == []
    assert invoke(twin, records[8:], state, final=True)["batchItemFailures"] == []  # a lost response: again
    assert invoke(twin, [], state, final=True)["batchItemFailures"] == []
    assert twin.get(get("/statistics"))[1]["hits"] == 12
    # the next window goes on from there
    nxt = views(4, start=2000)
    state = invoke(twin, nxt, {}, final=False)["state"]
    invoke(twin, [], state, final=True)
    assert twin.get(get("/statistics"))[1]["hits"] == 16


def test_a_window_mixing_already_written_records_with_new_ones_fails_loudly(twin: Twin) -> None:
    records = views(10)
    state = invoke(twin, records[:6], {}, final=False)["state"]
    invoke(twin, [], state, final=True)  # the first window is written
    # Lambda re-sends three written records together with new ones in the next window
    state = invoke(twin, records[3:10], {}, final=False)["state"]
    response = invoke(twin, records[9:], state, final=True)
    assert response["batchItemFailures"] != []  # retried, and in the end the DLQ: never a silent loss
    assert twin.get(get("/statistics"))[1]["hits"] == 6


def test_a_window_too_big_to_carry_is_written_early(twin: Twin, monkeypatch: Any) -> None:
    from hitstream.pipeline import stream

    monkeypatch.setattr(stream, "STATE_FLUSH_BYTES", 300)
    records = views(10, slugs=tuple(f"s{i}" for i in range(10)))
    response = invoke(twin, records, {}, final=False)
    assert response == {"batchItemFailures": [], "state": {}}
    assert twin.get(get("/statistics"))[1]["hits"] == 10
