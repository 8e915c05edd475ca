"""Recovery: a poison record goes to the on-failure destination while the stream keeps moving, and
`make recompute` rebuilds one day's counters from the raw events table, idempotently."""

from __future__ import annotations

import json
import time
from typing import Any

import boto3
import pytest
from hitstream import days
from hitstream.pipeline import aggregate
from hitstream.pipeline.aggregate import PAIR
from hitstream.pipeline.ingest import MAX_ARTICLES_PER_VISITOR_DAY
from hitstream.storage.schema import (
    TOTAL,
    all_time_rank,
    article_pk,
    bucket,
    day_rank,
    day_sk,
    site_code,
    site_pk,
    slug_hash,
)

from scripts import recompute
from tests.builders import api_event, get, hit, image, like
from tests.conftest import Twin

BROWSER = "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0"
SITE, OTHER_SITE = "localhost", "127.0.0.1"  # the twin's sites; the first is the default


@pytest.fixture(autouse=True)
def _fresh_aggregator_memory() -> None:
    """Each test has a new table, but the aggregator's memory of items (aggregate.KNOWN) lives in the process;
    a stale entry for a key that no longer exists fails a condition on a missing item."""
    aggregate.KNOWN.items.clear()


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


def _no_site(item: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in item.items() if k != "w"}


@pytest.mark.parametrize(
    "poison",
    [
        image("no slug/here", "2026-01-01", hits=1),
        _no_site(image("alpha", "2026-01-01", hits=1)),
        image("alpha", "2026-01-01", hits=1, site="unlisted.example"),
        image("alpha", "2026-01-01", hits=7),  # 7 hits at once
        image("alpha", "2026-01-01", kind="view"),
        {**image("alpha", "2026-01-01", hits=1), "h": {"S": "one"}},
    ],
    ids=["bad-slug", "no-site", "unlisted-site", "hits-jump", "bad-kind", "bad-hits"],
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
    db().put_item(TableName=backend.settings.events_table, Item={**poison, "pk": {"S": "2026-01-01#poison"}})
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


def send(twin: Twin, kind: str, slug: str, visitor: int, site: str = SITE, referrer: str = "") -> None:
    path = f"/statistics/{slug}/{kind}" + ("" if site == SITE else f"?site={site}")
    body = json.dumps({"referrer": referrer} if referrer else {})
    event = api_event("POST", path, body=body, ip=f"198.51.100.{visitor + 1}", user_agent=BROWSER)
    assert twin.post(event)[0] == 202


def reading(twin: Twin, site: str = SITE) -> None:
    """Four visitors read only alpha (6 hits, 2 likes); two read beta and gamma (beta twice, once).
    Site: 11 hits, 6 visitors, 2 likes, 3 articles. Alpha's hits follow from the raw items; beta's (3) and
    gamma's (2) are only known to be between 2 and 3 each.
    Sources: news.example brought the first two visitors (3 hits), the others came direct (8 hits)."""
    for v in range(4):
        for _ in range(1 + v % 2):
            send(twin, "hits", "alpha", v, site, referrer="https://news.example/today" if v < 2 else "")
        if v % 2 == 0:
            send(twin, "likes", "alpha", v, site)
    for v, slugs in ((4, ("beta", "beta", "gamma")), (5, ("beta", "gamma"))):
        for slug in slugs:
            send(twin, "hits", slug, v, site)


def run(twin: Twin, day: str, *extra: str) -> dict[str, Any]:
    cfg = twin.backend.settings
    argv = ["--day", day, "--force", "--events-table", cfg.events_table, "--stats-table", cfg.stats_table, *extra]
    return recompute.main(argv, db=db())


def by_site(report: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {r["site"]: r for r in report["sites"]}


def snapshot(twin: Twin) -> list[dict[str, Any]]:
    items = db().scan(TableName=twin.backend.settings.stats_table, ConsistentRead=True)["Items"]
    return sorted((i for i in items if i["pk"]["S"] != "SALT"), key=lambda i: (i["pk"]["S"], i["sk"]["S"]))


def nonzero(item: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in item.items() if v != {"N": "0"}}


def is_fence(name: str) -> bool:
    return len(name) == 7 and name[0] == "f"


def corrupt(twin: Twin, pk: str, day: str, **deltas: int) -> None:
    """What a buggy or lost write does: the same wrong delta on the day item and on the all-time item."""
    for sk in (day_sk(day), TOTAL):
        values = {f":{k}": {"N": str(v)} for k, v in deltas.items()}
        expression = "ADD " + ", ".join(f"{k} :{k}" for k in deltas)
        if pk.startswith("A#"):  # as the aggregator writes article items: rank keys too
            site = pk.split("#", 2)[1]
            expression = "SET rk = :rk, rb = if_not_exists(rb, :rb) " + expression
            values |= {
                ":rk": {"S": all_time_rank(site) if sk == TOTAL else day_rank(site, day)},
                ":rb": {"N": str(bucket(max(1, deltas.get("hits", 1))))},
            }
        db().update_item(
            TableName=twin.backend.settings.stats_table,
            Key={"pk": {"S": pk}, "sk": {"S": sk}},
            UpdateExpression=expression,
            ExpressionAttributeValues=values,
        )


def test_recompute_is_a_no_op_on_correct_counters(twin: Twin) -> None:
    reading(twin)
    reading(twin, OTHER_SITE)
    twin.settle()
    day = days.today(time.time())
    before = snapshot(twin)
    report = run(twin, day)
    assert report["changed"] == []
    sites = by_site(report)
    assert list(sites) == [SITE, OTHER_SITE]  # every listed site, in order
    for site in (SITE, OTHER_SITE):
        assert sites[site]["counts"] == {"hits": 11, "visitors": 6, "likes": 2, "articles": 3}
        assert sites[site]["visitor_days"] == 6
        assert sites[site]["hits_undetermined"] == {"beta": [2, 3], "gamma": [2, 3]}
    assert len(report["warnings"]) == 2 and all("several articles" in w for w in report["warnings"])
    assert snapshot(twin) == before


def test_recompute_repairs_a_corrupted_day_and_is_idempotent(twin: Twin) -> None:
    reading(twin)
    twin.settle()
    day = days.today(time.time())
    good = snapshot(twin)
    fences = {(i["pk"]["S"], i["sk"]["S"]): {k: v for k, v in i.items() if is_fence(k)} for i in good}
    assert any(fences.values())
    site_day = next(i for i in good if (i["pk"]["S"], i["sk"]["S"]) == (site_pk(SITE), day_sk(day)))
    assert (site_day["bs:news.example"], site_day["bs:(direct)"]) == (
        {"N": str(2 * PAIR + 3)},
        {"N": str(4 * PAIR + 8)},
    )

    corrupt(twin, site_pk(SITE), day, hits=5, visitors=-1)
    corrupt(twin, article_pk(SITE, "alpha"), day, hits=5, likes=-2)
    corrupt(twin, article_pk(SITE, "beta"), day, likes=1)
    corrupt(twin, article_pk(SITE, "ghost"), day, hits=3, visitors=1)  # an article that had no hits at all
    db().update_item(  # a breakdown value gone wrong, and a junk one
        TableName=twin.backend.settings.stats_table,
        Key={"pk": {"S": site_pk(SITE)}, "sk": {"S": day_sk(day)}},
        UpdateExpression="SET #a = :a, #b = :b, #n = :n",
        ExpressionAttributeNames={"#a": "bs:news.example", "#b": "bs:junk.example", "#n": "ns"},
        ExpressionAttributeValues={":a": {"N": "7"}, ":b": {"N": "3"}, ":n": {"N": "2"}},
    )
    assert stats(twin, "/statistics/alpha")["likes"] == 0

    report = run(twin, day, "--dry-run")
    assert len(report["changed"]) == 4
    assert snapshot(twin) != good  # a dry run writes nothing
    corrupted = snapshot(twin)

    report = run(twin, day)
    assert {c["pk"] for c in report["changed"]} == {
        site_pk(SITE),
        article_pk(SITE, "alpha"),
        article_pk(SITE, "beta"),
        article_pk(SITE, "ghost"),
    }
    assert snapshot(twin) != corrupted
    repaired = snapshot(twin)
    ghost = [i for i in repaired if i["pk"]["S"] == article_pk(SITE, "ghost")]
    assert {i["sk"]["S"]: (i["hits"]["N"], i["visitors"]["N"]) for i in ghost} == {
        day_sk(day): ("0", "0"),
        TOTAL: ("0", "0"),
    }
    # everything else exactly as the aggregator had it: counters, breakdowns, rank keys, fences untouched
    # (a counter set back to 0 reads like one never written)
    assert [nonzero(i) for i in repaired if i["pk"]["S"] != article_pk(SITE, "ghost")] == good
    assert stats(twin, "/statistics/alpha") == {"slug": "alpha", "hits": 6, "visitors": 4, "likes": 2}
    top = stats(twin, f"/statistics?from={day}&to={day}&top=10")["top"]
    assert [(r["slug"], r["hits"]) for r in top] == [("alpha", 6), ("beta", 3), ("gamma", 2)]

    again = run(twin, day)
    assert again["changed"] == []
    assert snapshot(twin) == repaired

    # all-time = sum of days still holds, so the aggregator carries on from the repaired values
    send(twin, "hits", "alpha", 50)
    twin.settle()
    assert stats(twin, "/statistics/alpha")["hits"] == 7
    alpha = article_pk(SITE, "alpha")
    assert stored(twin, alpha, TOTAL)["hits"] == stored(twin, alpha, day_sk(day))["hits"] == {"N": "7"}
    assert stats(twin, "/statistics")["articles"] == 3


def test_recompute_counts_what_the_dlq_lost(twin: Twin) -> None:
    """Events whose stream records never got folded (sent to the DLQ) are counted by a recompute."""
    send(twin, "hits", "alpha", 0, referrer="https://news.example/")
    send(twin, "hits", "alpha", 1)
    send(twin, "hits", "alpha", 1)
    twin.settle()
    backend = twin.backend
    backend.esm.put = lambda shard_id, records: None  # type: ignore[method-assign]  # the stream "loses" these
    send(twin, "hits", "alpha", 0)  # a visitor of the day, back
    send(twin, "hits", "alpha", 2, referrer="https://news.example/")
    send(twin, "hits", "delta", 3)  # an article the stats table has never seen: named by its item's `s`
    send(twin, "hits", "epsilon", 4)  # never seen, and not the visitor's last article: no name for it
    send(twin, "hits", "zeta", 4)
    twin.settle()
    day = days.today(time.time())
    assert stats(twin, "/statistics")["hits"] == 3

    report = run(twin, day)
    site = by_site(report)[SITE]
    assert site["counts"] == {"hits": 8, "visitors": 5, "likes": 0, "articles": 4}
    assert site["hits_undetermined"] == {}  # zeta: 2 hits of a visitor who read 2 articles, so 1 each
    assert any("1 articles viewed or liked that day have no known slug" in w for w in report["warnings"])

    daily = stats(twin, f"/statistics?from={day}&to={day}&top=10&breakdown=source")
    # all-time articles: the ones the stream saw (alpha) and the ones the recompute brought to life
    assert (daily["hits"], daily["visitors"], daily["articles"]) == (8, 5, 3)
    assert daily["daily"][0]["visitors"] == 5
    assert daily["breakdown"]["source"] == [
        {"value": "(direct)", "visitors": 3, "hits": 5},
        {"value": "news.example", "visitors": 2, "hits": 3},
    ]
    assert [(r["slug"], r["hits"], r["visitors"]) for r in daily["top"]] == [
        ("alpha", 5, 3),
        ("delta", 1, 1),
        ("zeta", 1, 1),
    ]
    assert stats(twin, "/statistics/delta") == {"slug": "delta", "hits": 1, "visitors": 1, "likes": 0}
    assert stats(twin, "/statistics/zeta") == {"slug": "zeta", "hits": 1, "visitors": 1, "likes": 0}
    assert run(twin, day)["changed"] == []


class FoldsLate:
    """A DynamoDB client whose first transaction lets the aggregator fold held-back records first: the stream
    writes a day item between the recompute's read of it and its conditioned write."""

    def __init__(self, twin: Twin, put: Any, held: list[tuple[str, list[dict[str, Any]]]]) -> None:
        self.twin, self.put, self.held, self.real = twin, put, held, db()
        self.cancelled = 0

    def __getattr__(self, name: str) -> Any:
        return getattr(self.real, name)

    def transact_write_items(self, **kwargs: Any) -> Any:
        if self.held:
            for shard_id, records in self.held:
                self.put(shard_id, records)
            self.held.clear()
            self.twin.settle()
        try:
            return self.real.transact_write_items(**kwargs)
        except self.real.exceptions.TransactionCanceledException:
            self.cancelled += 1
            raise


def test_recompute_rereads_a_day_item_the_stream_wrote_meanwhile(twin: Twin) -> None:
    send(twin, "hits", "alpha", 0)
    twin.settle()
    backend = twin.backend
    put, held = backend.esm.put, []
    backend.esm.put = lambda shard_id, records: held.append((shard_id, records))  # type: ignore[method-assign]
    send(twin, "hits", "alpha", 1)
    send(twin, "hits", "alpha", 1)
    twin.settle()
    backend.esm.put = put  # type: ignore[method-assign]
    assert held and stats(twin, "/statistics/alpha")["hits"] == 1
    day = days.today(time.time())
    corrupt(twin, site_pk(SITE), day, likes=3)  # something for the recompute to write
    racing = FoldsLate(twin, put, held)
    cfg = backend.settings
    argv = ["--day", day, "--force", "--events-table", cfg.events_table, "--stats-table", cfg.stats_table]
    recompute.main(argv, db=racing)
    assert racing.cancelled == 1  # the day item moved under it: read again, not overwritten
    assert stats(twin, "/statistics/alpha") == {"slug": "alpha", "hits": 3, "visitors": 2, "likes": 0}
    site = stats(twin, f"/statistics?from={day}&to={day}")
    assert (site["hits"], site["visitors"], site["likes"]) == (3, 2, 0)
    for pk in (site_pk(SITE), article_pk(SITE, "alpha")):  # all-time is still the sum of the days
        assert {k: stored(twin, pk, TOTAL)[k] for k in ("hits", "visitors")} == {
            k: stored(twin, pk, day_sk(day))[k] for k in ("hits", "visitors")
        }


def test_article_hits_the_raw_items_leave_open_stay_within_their_bounds(twin: Twin) -> None:
    reading(twin)
    twin.settle()
    day = days.today(time.time())
    corrupt(twin, article_pk(SITE, "beta"), day, hits=-1)  # 2: possible, so kept
    corrupt(twin, article_pk(SITE, "gamma"), day, hits=4)  # 6: more than the raw items allow, so 3
    report = run(twin, day)
    assert [c["pk"] for c in report["changed"]] == [article_pk(SITE, "gamma")]
    assert by_site(report)[SITE]["hits_undetermined"] == {"beta": [2, 3], "gamma": [2, 3]}
    assert "not determined by the raw items" in report["warnings"][0]
    assert (stats(twin, "/statistics/beta")["hits"], stats(twin, "/statistics/gamma")["hits"]) == (2, 3)
    assert stats(twin, "/statistics")["hits"] == 11

    # A visitor-day at the cap of distinct articles: its extra hits could have gone to any article
    views = [slug_hash("alpha")] + [slug_hash(f"unseen-{i}") for i in range(MAX_ARTICLES_PER_VISITOR_DAY - 1)]
    capped = {**image("alpha", day, hits=60), "pk": {"S": f"{day}#capped"}, "pv": {"BS": views}}
    db().put_item(TableName=twin.backend.settings.events_table, Item=capped)
    report = run(twin, day)
    site = by_site(report)[SITE]
    assert site["counts"] == {"hits": 71, "visitors": 7, "likes": 2, "articles": 3 + MAX_ARTICLES_PER_VISITOR_DAY - 1}
    assert site["hits_undetermined"] == {"alpha": [7, None], "beta": [2, None], "gamma": [2, None]}
    assert any(f"past {MAX_ARTICLES_PER_VISITOR_DAY} articles" in w for w in report["warnings"])
    assert any("49 articles viewed or liked that day have no known slug" in w for w in report["warnings"])
    # alpha had 6 from its own readers and at least one from the capped visitor
    assert stats(twin, "/statistics/alpha") == {"slug": "alpha", "hits": 7, "visitors": 5, "likes": 2}
    assert stats(twin, "/statistics")["hits"] == 71
    assert run(twin, day)["changed"] == []


def test_sites_are_recomputed_separately(twin: Twin) -> None:
    reading(twin)
    reading(twin, OTHER_SITE)
    send(twin, "hits", "alpha", 9, OTHER_SITE)
    twin.settle()
    day = days.today(time.time())
    corrupt(twin, site_pk(OTHER_SITE), day, hits=5)
    corrupt(twin, article_pk(OTHER_SITE, "alpha"), day, visitors=2)

    report = run(twin, day, "--site", SITE)
    assert [r["site"] for r in report["sites"]] == [SITE]
    assert report["changed"] == [] and report["other_items"] == 7

    report = run(twin, day, "--site", f"www.{OTHER_SITE.upper()}", "--dry-run")
    assert {c["pk"] for c in report["changed"]} == {site_pk(OTHER_SITE), article_pk(OTHER_SITE, "alpha")}
    report = run(twin, day)
    assert {c["pk"] for c in report["changed"]} == {site_pk(OTHER_SITE), article_pk(OTHER_SITE, "alpha")}
    assert by_site(report)[OTHER_SITE]["counts"] == {"hits": 12, "visitors": 7, "likes": 2, "articles": 3}
    assert stats(twin, f"/statistics?site={OTHER_SITE}")["hits"] == 12
    assert stats(twin, f"/statistics/alpha?site={OTHER_SITE}") == {
        "slug": "alpha",
        "hits": 7,
        "visitors": 5,
        "likes": 2,
    }
    assert stats(twin, "/statistics")["hits"] == 11
    assert site_code(SITE) != site_code(OTHER_SITE)


def test_sites_come_from_the_environment_or_site_arguments(monkeypatch: pytest.MonkeyPatch) -> None:
    tables = ["--day", "2020-01-01", "--events-table", "e", "--stats-table", "s"]
    monkeypatch.setenv("SITES", "blog.example.com,www.shop.example")
    assert recompute.parse_args(tables).sites == ("blog.example.com", "shop.example")
    assert recompute.parse_args([*tables, "--site", "WWW.Shop.Example"]).sites == ("shop.example",)
    monkeypatch.delenv("SITES")
    assert recompute.parse_args(tables).sites == (SITE, OTHER_SITE)


@pytest.mark.parametrize(
    "argv",
    [
        ["--day", "2026-02-30", "--events-table", "e", "--stats-table", "s"],
        ["--day", "2020-01-01", "--events-table", "", "--stats-table", ""],
        ["--day", days.today(time.time()), "--events-table", "e", "--stats-table", "s"],  # today needs --force
        ["--day", "2020-01-01", "--events-table", "e", "--stats-table", "s", "--site", "not a host"],
        [],
    ],
    ids=["bad-day", "no-tables", "today", "bad-site", "no-day"],
)
def test_recompute_refuses_bad_arguments(argv: list[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("EVENTS_TABLE", raising=False)
    monkeypatch.delenv("STATS_TABLE", raising=False)
    with pytest.raises(SystemExit):
        recompute.parse_args(argv)
