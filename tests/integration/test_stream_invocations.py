"""No count waits for a window: every invocation writes its own records, whatever Lambda does with windows.

Each test first reproduces what used to lose counts (a shard that ends without its window's final invocation, a
retry without the returned state, a final invocation that comes late, a redelivery after an early write, a
breakdown dimension that jams at its cap), then checks the counts are exact.
"""

from __future__ import annotations

from typing import Any

import pytest
from hitstream.pipeline import aggregate
from hitstream.storage import clients, schema

from bench.meter import Meter
from tests.builders import get, image, stream_event, stream_record
from tests.conftest import Twin

DAY = "2026-11-20"
SHARD = "shardId-00000001700000000000-dddddddd"
CHILD = "shardId-00000001700000050000-eeeeeeee"
DIMS = ("(direct)", "(none)", "Firefox", "Linux", "desktop", "ZZ")


def views(
    n: int, start: int = 1000, slugs: tuple[str, ...] = ("a", "b"), source: str | None = None
) -> list[dict[str, Any]]:
    """n first views by n visitors; with `source`, each visitor-day entered from its own source f"{source}{i}"."""
    out = []
    for i in range(n):
        slug = slugs[i % len(slugs)]
        entry = (f"{source}{start + i}", *DIMS[1:]) if source else DIMS
        item = {**image(slug, DAY, hits=1, views={slug}, entry=entry), "pk": {"S": f"{DAY}#w{start + i}"}}
        out.append(stream_record(item, seq=start + i))
    return out


def invoke(twin: Twin, records: list[dict[str, Any]], state: dict[str, Any] | None = None, **kw: Any) -> Any:
    return twin.backend.invoke_aggregate(stream_event(records, kw.pop("shard", SHARD), state=state, **kw))


def site_day(twin: Twin) -> dict[str, Any]:
    item = clients.dynamodb().get_item(
        TableName=twin.backend.settings.stats_table,
        Key={"pk": {"S": schema.site_pk("localhost")}, "sk": {"S": schema.day_sk(DAY)}},
    )
    return dict(item.get("Item", {}))


def source_rows(item: dict[str, Any], code: str = "s") -> dict[str, tuple[int, int]]:
    prefix = f"b{code}:"
    return {n[len(prefix) :]: divmod(int(v["N"]), aggregate.PAIR) for n, v in item.items() if n.startswith(prefix)}


def test_each_invocation_writes_its_records_and_carries_no_state(twin: Twin) -> None:
    meter = Meter()
    meter.attach(clients.dynamodb())
    response = invoke(twin, views(10), final=False)
    assert response == {"batchItemFailures": [], "state": {}}  # tumbling windows on: `state` must be there
    assert meter.total().ops["UpdateItem"] == 6  # a, b: total + day each; the site: total + day
    assert twin.get(get("/statistics"))[1] == {"hits": 10, "visitors": 10, "likes": 0, "articles": 2}


def test_a_shard_that_ends_without_its_final_invocation_loses_nothing(twin: Twin) -> None:
    invoke(twin, views(6), final=False)  # the window stays open; the shard ends; no final invocation ever
    invoke(twin, views(4, start=2000), shard=CHILD, final=False)  # the child shard starts afresh
    assert twin.get(get("/statistics"))[1]["hits"] == 10


def test_a_retry_without_the_returned_state_and_a_late_final_count_once(twin: Twin) -> None:
    records = views(12)
    first = invoke(twin, records[:8], final=False)
    invoke(twin, records[:8], state={}, final=False)  # retried, its state lost
    invoke(twin, records[8:], state={"junk": 1}, final=False)  # a stale or foreign state changes nothing
    invoke(twin, [], state=first["state"], final=True)  # the final invocation, late
    invoke(twin, records[3:12], final=True)  # and a redelivery overlapping everything
    assert twin.get(get("/statistics"))[1]["hits"] == 12


def test_a_redelivery_out_of_order_counts_once(twin: Twin) -> None:
    records = views(10, slugs=tuple(f"s{i}" for i in range(10)))
    invoke(twin, records[:6])
    invoke(twin, records[3:10])  # three written records again, with new ones
    invoke(twin, list(reversed(records)))
    assert twin.get(get("/statistics"))[1] == {"hits": 10, "visitors": 10, "likes": 0, "articles": 10}


def test_a_dimension_at_its_cap_takes_new_values_into_other(twin: Twin) -> None:
    """The jam: 29 new sources, then 1, then 3 more. Every later value must land in (other), never fail."""
    invoke(twin, views(29, start=1000, source="src"))
    invoke(twin, views(1, start=2000, source="one"))
    invoke(twin, views(3, start=3000, source="late"))
    assert twin.backend.esm.dlq == []
    item = site_day(twin)
    rows = source_rows(item)
    assert len(rows) <= aggregate.BREAKDOWN_CAP
    assert rows[aggregate.OTHER] == (4, 4)  # "one" and the three late ones: no slot left for them
    assert sum(v for v, _h in rows.values()) == 33 == int(item["visitors"]["N"])
    assert twin.get(get("/statistics"))[1]["visitors"] == 33


def test_an_article_day_jams_no_more_than_a_site_day(twin: Twin) -> None:
    for start, n, source in ((1000, 29, "src"), (2000, 1, "one"), (3000, 5, "late")):
        invoke(twin, views(n, start=start, slugs=("a",), source=source))
    item = clients.dynamodb().get_item(
        TableName=twin.backend.settings.stats_table,
        Key={"pk": {"S": schema.article_pk("localhost", "a")}, "sk": {"S": schema.day_sk(DAY)}},
    )["Item"]
    rows = source_rows(item)
    assert len(rows) <= aggregate.BREAKDOWN_CAP
    assert sum(v for v, _h in rows.values()) == 35 == int(item["visitors"]["N"])


def test_many_new_values_in_one_batch_all_get_their_own_row_while_there_is_room(twin: Twin) -> None:
    """More new values than one write may add (NEW_PER_WRITE) are split across writes, not sent to (other):
    a value sent to (other) while its dimension had room could later get a row of its own, and then its counts
    would sit in two places."""
    invoke(twin, views(25, source="src"))
    rows = source_rows(site_day(twin))
    assert aggregate.OTHER not in rows
    assert len(rows) == 25 and all(pair == (1, 1) for pair in rows.values())


@pytest.mark.parametrize("fault_rate", [0.0, 0.3])
def test_values_never_live_in_two_places(fault_rate: float) -> None:
    """Random waves of new and returning sources through the twin's event source with faults: every source's
    visitors land in exactly one row (its own, or (other) once the dimension was full)."""
    import random

    from tests.conftest import Twin as TwinClass
    from twin.backend import Backend

    backend = Backend(shards=1, seed=11, fault_rate=fault_rate, redelivery_rate=fault_rate, window_s=None)
    try:
        twin = TwinClass(backend)
        rng = random.Random(7)
        seq = 10_000
        for wave in range(6):
            batch = []
            for _ in range(rng.randint(1, 14)):
                source = f"w{wave}-" if rng.random() < 0.6 else "w0-"
                batch.extend(views(1, start=seq, source=source))
                seq += 1
            backend.esm.put("lane", batch)
            backend.esm.drain()
        assert backend.esm.dlq == []
        item = site_day(twin)
        rows = source_rows(item)
        assert len(rows) <= aggregate.BREAKDOWN_CAP
        assert sum(v for v, _h in rows.values()) == seq - 10_000 == int(item["visitors"]["N"])
    finally:
        backend.close()
