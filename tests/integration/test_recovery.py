"""Recovery: a poison record goes to the on-failure destination while the stream keeps moving, and
`make recompute` rebuilds one day's counters from the raw events table, idempotently."""

from __future__ import annotations

import time
from typing import Any

import boto3
import pytest
from hitstream import days
from hitstream.schema import SITE, TOTAL, article_pk, bucket, day_sk

from scripts import recompute
from tests.builders import get, hit, like
from tests.conftest import Twin

BROWSER = "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0"


def db() -> Any:
    return boto3.client("dynamodb")


def traffic(twin: Twin, visitors: int = 4) -> dict[str, int]:
    """Hits and likes from distinct visitors; returns the expected hits per slug."""
    expected = {"alpha": 0, "beta": 0}
    for v in range(visitors):
        ip = f"198.51.100.{v + 1}"
        for slug, n in (("alpha", 1 + v % 2), ("beta", 1)):
            for _ in range(n):
                assert twin.post(hit(slug, ip=ip, user_agent=BROWSER))[0] == 202
                expected[slug] += 1
        if v % 2 == 0:
            assert twin.post(like("alpha", ip=ip, user_agent=BROWSER))[0] == 202
    return expected


def stats(twin: Twin, path: str) -> dict[str, Any]:
    status, body = twin.get(get(path))
    assert status == 200, body
    return body


def stored(twin: Twin, pk: str, sk: str) -> dict[str, Any]:
    return db().get_item(TableName=twin.backend.settings.stats_table, Key={"pk": {"S": pk}, "sk": {"S": sk}})["Item"]


# --- poison records -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "poison",
    [
        {"s": {"S": "no slug/here"}, "k": {"S": "hit"}, "d": {"S": "2026-01-01"}, "h": {"N": "1"}},
        {"s": {"S": "alpha"}, "k": {"S": "hit"}, "h": {"N": "1"}},  # no day
        {"s": {"S": "alpha"}, "k": {"S": "hit"}, "d": {"S": "2026-01-01"}, "h": {"N": "7"}},  # 7 hits at once
        {"s": {"S": "alpha"}, "k": {"S": "view"}, "d": {"S": "2026-01-01"}},
    ],
    ids=["bad-slug", "no-day", "hits-jump", "bad-kind"],
)
def test_poison_record_goes_to_the_dlq_and_the_stream_keeps_moving(twin: Twin, poison: dict[str, Any]) -> None:
    backend = twin.backend
    seen: dict[str, str] = {}  # sequence number -> pk, as the event source mapping receives records
    put = backend.esm.put

    def recording_put(shard_id: str, records: list[dict[str, Any]]) -> None:
        for r in records:
            seen[r["dynamodb"]["SequenceNumber"]] = r["dynamodb"]["Keys"]["pk"]["S"]
        put(shard_id, records)

    backend.esm.put = recording_put  # type: ignore[method-assign]
    before = traffic(twin, visitors=2)
    db().put_item(TableName=backend.settings.events_table, Item={"pk": {"S": "2026-01-01#poison"}, **poison})
    after = traffic(twin, visitors=4)
    twin.settle()

    assert len(backend.esm.dlq) == 1, backend.esm.dlq
    entry = backend.esm.dlq[0]
    assert seen[entry["startSequenceNumber"]] == "2026-01-01#poison"
    for slug in ("alpha", "beta"):
        body = stats(twin, f"/statistics/{slug}")
        assert body["hits"] == before[slug] + after[slug], slug
        assert body["visitors"] == 4  # the first two visitors came back: same day, same ids
    assert stats(twin, "/statistics/alpha")["likes"] == 2
    site = stats(twin, "/statistics")
    assert (site["hits"], site["visitors"], site["likes"], site["articles"]) == (
        sum(before.values()) + sum(after.values()),
        4,
        2,
        2,
    )

    # and it keeps moving afterwards
    assert twin.post(hit("gamma", ip="198.51.100.99", user_agent=BROWSER))[0] == 202
    twin.settle()
    assert stats(twin, "/statistics/gamma")["hits"] == 1
    assert len(backend.esm.dlq) == 1


# --- make recompute -----------------------------------------------------------------------------------


def run(twin: Twin, day: str, *extra: str) -> dict[str, Any]:
    cfg = twin.backend.settings
    argv = ["--day", day, "--force", "--events-table", cfg.events_table, "--stats-table", cfg.stats_table, *extra]
    return recompute.main(argv, db=db())


def snapshot(twin: Twin) -> list[dict[str, Any]]:
    items = db().scan(TableName=twin.backend.settings.stats_table, ConsistentRead=True)["Items"]
    return sorted((i for i in items if i["pk"]["S"] != "SALT"), key=lambda i: (i["pk"]["S"], i["sk"]["S"]))


def corrupt(twin: Twin, pk: str, day: str, **deltas: int) -> None:
    """What a buggy or lost write does: the same wrong delta on the day item and on the all-time item."""
    for sk in (day_sk(day), TOTAL):
        values = {f":{k}": {"N": str(v)} for k, v in deltas.items()}
        expression = "ADD " + ", ".join(f"{k} :{k}" for k in deltas)
        if pk.startswith("A#"):  # as the aggregator writes article items: slug and rank keys too
            expression = "SET slug = :slug, rk = :rk, rb = if_not_exists(rb, :rb) " + expression
            values |= {
                ":slug": {"S": pk[2:]},
                ":rk": {"S": "ALL" if sk == TOTAL else sk},
                ":rb": {"N": str(bucket(max(1, deltas.get("hits", 1))))},
            }
        db().update_item(
            TableName=twin.backend.settings.stats_table,
            Key={"pk": {"S": pk}, "sk": {"S": sk}},
            UpdateExpression=expression,
            ExpressionAttributeValues=values,
        )


def test_recompute_is_a_no_op_on_correct_counters(twin: Twin) -> None:
    traffic(twin)
    twin.settle()
    day = days.today(time.time())
    before = snapshot(twin)
    report = run(twin, day)
    assert report["changed"] == [] and "warning" not in report
    assert report["site"] == {"hits": 10, "visitors": 4, "likes": 2, "articles": 2}
    assert snapshot(twin) == before


def test_recompute_repairs_a_corrupted_day_and_is_idempotent(twin: Twin) -> None:
    traffic(twin)
    twin.settle()
    day = days.today(time.time())
    good = snapshot(twin)
    fences = {(i["pk"]["S"], i["sk"]["S"]): {k: v for k, v in i.items() if k[:2] in ("f#", "t#")} for i in good}
    assert any(fences.values())

    corrupt(twin, SITE, day, hits=5, visitors=-1)
    corrupt(twin, article_pk("alpha"), day, hits=5, likes=-2)
    corrupt(twin, article_pk("ghost"), day, hits=3, visitors=1)  # an article that had no hits at all
    assert stats(twin, "/statistics/alpha")["likes"] == 0

    report = run(twin, day, "--dry-run")
    assert len(report["changed"]) == 3
    assert snapshot(twin) != good  # a dry run writes nothing

    report = run(twin, day)
    assert {c["pk"] for c in report["changed"]} == {SITE, article_pk("alpha"), article_pk("ghost")}
    repaired = snapshot(twin)
    ghost = [i for i in repaired if i["pk"]["S"] == article_pk("ghost")]
    assert {i["sk"]["S"]: (i["hits"]["N"], i["visitors"]["N"]) for i in ghost} == {
        day_sk(day): ("0", "0"),
        TOTAL: ("0", "0"),
    }
    assert [i for i in repaired if i["pk"]["S"] != article_pk("ghost")] == good  # fences included, untouched
    assert stats(twin, "/statistics/alpha") == {"slug": "alpha", "hits": 6, "visitors": 4, "likes": 2}

    again = run(twin, day)
    assert again["changed"] == []
    assert snapshot(twin) == repaired

    # all-time = sum of days still holds, so the aggregator carries on from the repaired values
    assert twin.post(hit("alpha", ip="198.51.100.50", user_agent=BROWSER))[0] == 202
    twin.settle()
    assert stats(twin, "/statistics/alpha")["hits"] == 7
    assert stored(twin, article_pk("alpha"), TOTAL)["hits"] == stored(twin, article_pk("alpha"), day_sk(day))["hits"]


def test_recompute_counts_what_the_dlq_lost(twin: Twin) -> None:
    """Events whose stream records never got folded (sent to the DLQ) are counted by a recompute."""
    traffic(twin, visitors=2)
    twin.settle()
    backend = twin.backend
    backend.esm.put = lambda shard_id, records: None  # type: ignore[method-assign]  # the stream "loses" these
    lost = traffic(twin, visitors=4)
    twin.settle()
    day = days.today(time.time())
    assert stats(twin, "/statistics")["hits"] == 5
    run(twin, day)
    assert stats(twin, "/statistics")["hits"] == 5 + sum(lost.values())
    assert stats(twin, f"/statistics?from={day}&to={day}")["daily"][0]["visitors"] == 4


def test_items_without_per_article_counts_keep_article_hits(twin: Twin) -> None:
    traffic(twin, visitors=2)
    twin.settle()
    day = days.today(time.time())
    cfg = twin.backend.settings
    # an item as ingest wrote it before per-article counts existed, with two articles viewed
    db().put_item(
        TableName=cfg.events_table,
        Item={"pk": {"S": f"{day}#legacy"}, "d": {"S": day}, "h": {"N": "3"}, "pv": {"SS": ["alpha", "beta"]}},
    )
    alpha_hits = stats(twin, "/statistics/alpha")["hits"]
    report = run(twin, day)
    assert "cannot be attributed" in report["warning"]
    assert stats(twin, "/statistics/alpha")["hits"] == alpha_hits  # left as stored
    assert stats(twin, "/statistics/alpha")["visitors"] == 3  # but uniques and site hits are recomputed
    assert stats(twin, "/statistics")["hits"] == 5 + 3


@pytest.mark.parametrize(
    "argv",
    [
        ["--day", "2026-02-30", "--events-table", "e", "--stats-table", "s"],
        ["--day", "2020-01-01", "--events-table", "", "--stats-table", ""],
        ["--day", days.today(time.time()), "--events-table", "e", "--stats-table", "s"],  # today needs --force
        [],
    ],
    ids=["bad-day", "no-tables", "today", "no-day"],
)
def test_recompute_refuses_bad_arguments(argv: list[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("EVENTS_TABLE", raising=False)
    monkeypatch.delenv("STATS_TABLE", raising=False)
    with pytest.raises(SystemExit):
        recompute.parse_args(argv)
