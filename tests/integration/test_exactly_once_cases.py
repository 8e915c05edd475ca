"""Each delivery case Lambda can produce, driven with real stream records through the aggregate handler on moto."""

from __future__ import annotations

from typing import Any

import pytest
from botocore.exceptions import ClientError
from hitstream.pipeline import aggregate
from hitstream.storage import clients

from tests.builders import get, image, stream_event, stream_record
from twin.faults import aggregate_path

DAY = "2026-11-20"
SHARD_A = "shardId-00000001700000000000-aaaaaaaa"
SHARD_B = "shardId-00000001700000000000-bbbbbbbb"


def views(slug: str, n: int, start_seq: int = 1000) -> list[dict[str, Any]]:
    """n first-time views of `slug` by n different visitors (one INSERT each)."""
    return [
        stream_record(
            {**image(slug, DAY, hits=1, views={slug}), "pk": {"S": f"{DAY}#v{start_seq + i}"}}, seq=start_seq + i
        )
        for i in range(n)
    ]


def deliver(twin: Any, records: list[dict[str, Any]], shard: str = SHARD_A) -> dict[str, Any]:
    return twin.backend.invoke_aggregate(stream_event(records, shard))


def article(twin: Any, slug: str) -> dict[str, Any]:
    return twin.get(get(f"/statistics/{slug}"))[1]


def site(twin: Any) -> dict[str, Any]:
    return twin.get(get("/statistics"))[1]


def test_a_batch_delivered_twice_counts_once(twin):
    batch = views("a", 10)
    assert deliver(twin, batch) == {"batchItemFailures": [], "state": {}}
    assert deliver(twin, batch) == {"batchItemFailures": [], "state": {}}
    assert article(twin, "a") == {"slug": "a", "hits": 10, "visitors": 10, "likes": 0}
    assert site(twin) == {"hits": 10, "visitors": 10, "likes": 0, "articles": 1}


def test_a_partial_retry_overlapping_an_applied_batch_adds_only_the_new_records(twin):
    records = views("a", 15)
    deliver(twin, records[:10])
    deliver(twin, records[5:15])  # retried from the 6th record, now with 5 more
    assert article(twin, "a")["hits"] == 15
    assert site(twin)["hits"] == 15


def test_bisected_halves_of_an_applied_batch_add_nothing(twin):
    records = views("a", 10)
    deliver(twin, records)
    deliver(twin, records[:5])
    deliver(twin, records[5:])
    assert article(twin, "a")["hits"] == 10


def test_a_single_duplicate_record_counts_once(twin):
    records = views("a", 3)
    deliver(twin, records)
    deliver(twin, [records[1]])
    assert article(twin, "a")["hits"] == 3


def test_a_lost_response_is_retried_without_double_counting(twin, monkeypatch):
    twin.backend.faults.rate = 0.5  # rolls below 0.5 fault; a second roll below 0.5 makes it a lost response
    # each of the four counter writes lands but its response is lost; its quick retry meets the fence
    monkeypatch.setattr(twin.backend.faults.rng, "random", iter([0.1, 0.1, 0.9] * 4 + [0.9] * 10_000).__next__)
    records = views("a", 4)
    assert deliver(twin, records)["batchItemFailures"] == []  # the in-process retry met the fence
    assert twin.backend.faults.after == 4
    assert article(twin, "a")["hits"] == 4
    assert site(twin) == {"hits": 4, "visitors": 4, "likes": 0, "articles": 1}


def test_a_failed_write_asks_for_the_whole_batch_again_and_the_retry_is_exact(twin):
    twin.backend.faults.rate = 1.0  # every aggregate write fails (before or after)
    records = views("a", 3) + views("b", 2, start_seq=2000)
    response = deliver(twin, records)
    assert response["batchItemFailures"] == [{"itemIdentifier": records[0]["dynamodb"]["SequenceNumber"]}]
    twin.backend.faults.rate = 0.0
    assert deliver(twin, records)["batchItemFailures"] == []
    assert article(twin, "a")["hits"] == 3 and article(twin, "b")["hits"] == 2
    assert site(twin) == {"hits": 5, "visitors": 5, "likes": 0, "articles": 2}


def test_two_shards_creating_the_same_article_count_it_once(twin):
    deliver(twin, views("shared", 2, 1000), SHARD_A)
    deliver(twin, views("shared", 3, 5000), SHARD_B)
    deliver(twin, views("shared", 2, 1000), SHARD_A)  # and a redelivery on the first shard
    assert site(twin) == {"hits": 5, "visitors": 5, "likes": 0, "articles": 1}
    assert twin.get(get(f"/statistics?from={DAY}&to={DAY}"))[1]["daily"] == [
        {"date": DAY, "hits": 5, "visitors": 5, "likes": 0}
    ]


def test_repeat_views_and_likes_follow_the_visitor_day_images(twin):
    first = image("a", DAY, hits=1, views={"a"})
    second = image("a", DAY, hits=2, views={"a"})
    other = image("b", DAY, hits=3, views={"a", "b"})
    like = image("b", DAY, kind="like", hits=3, views={"a", "b"}, liked={"b"})
    again = image("b", DAY, kind="like", hits=3, views={"a", "b"}, liked={"b"})
    deliver(
        twin,
        [
            stream_record(first, seq=1),
            stream_record(second, first, seq=2),
            stream_record(other, second, seq=3),
            stream_record(like, other, seq=4),
            stream_record(again, like, seq=5),
        ],
    )
    assert article(twin, "a") == {"slug": "a", "hits": 2, "visitors": 1, "likes": 0}
    assert article(twin, "b") == {"slug": "b", "hits": 1, "visitors": 1, "likes": 1}
    assert site(twin) == {"hits": 3, "visitors": 1, "likes": 1, "articles": 2}


def test_a_batch_far_beyond_the_transaction_limit_is_exact(twin):
    records = [r for i in range(300) for r in views(f"post-{i}", 1, 10_000 + i)]
    assert deliver(twin, records)["batchItemFailures"] == []
    assert site(twin) == {"hits": 300, "visitors": 300, "likes": 0, "articles": 300}
    top = twin.get(get("/statistics?top=100"))[1]["top"]
    assert len(top) == 100 and all(r["hits"] == 1 for r in top)


def test_a_poison_record_is_reported_alone_and_the_rest_is_counted(twin):
    poison = stream_record(
        {"pk": {"S": f"{DAY}#x"}, "s": {"S": "../etc"}, "d": {"S": DAY}, "k": {"S": "hit"}}, seq=1500
    )
    records = [*views("a", 2, 1000), poison, *views("a", 2, 1600)]
    assert deliver(twin, records)["batchItemFailures"] == [{"itemIdentifier": "1500"}]
    assert article(twin, "a")["hits"] == 4
    deliver(twin, records[2:])  # Lambda retries from the poison record: the rest is not counted again
    assert article(twin, "a")["hits"] == 4


def test_fences_of_shards_silent_longer_than_stream_retention_are_pruned(twin):
    table = twin.backend.settings.stats_table
    old = stream_record(image("a", DAY, hits=1, views={"a"}), seq=1, created=1_700_000_000)
    deliver(twin, [old], SHARD_A)
    new = stream_record(
        {**image("a", DAY, hits=1, views={"a"}), "pk": {"S": f"{DAY}#w"}},
        seq=7,
        created=1_700_000_000 + aggregate.FENCE_KEEP_S + 2 * 3600,
    )
    deliver(twin, [new], SHARD_B)
    item = clients.dynamodb().get_item(TableName=table, Key={"pk": {"S": "S#localhost"}, "sk": {"S": "TOTAL"}})["Item"]
    assert aggregate.fence_name(SHARD_B) in item and aggregate.fence_name(SHARD_A) not in item
    assert item["hits"] == {"N": "2"}


def test_the_event_filter_keeps_ttl_removals_out(backend):
    removal = stream_record(image("a", DAY, hits=1, views={"a"}), event_name="REMOVE")
    backend.esm.put("shard", [removal])
    assert backend.esm.idle()


def test_only_the_aggregate_path_sees_injected_faults(backend):
    backend.faults.rate = 1.0
    db = clients.dynamodb()
    db.put_item(TableName=backend.settings.stats_table, Item={"pk": {"S": "x"}, "sk": {"S": "y"}})
    with aggregate_path(), pytest.raises(ClientError):
        db.put_item(TableName=backend.settings.stats_table, Item={"pk": {"S": "x"}, "sk": {"S": "z"}})
