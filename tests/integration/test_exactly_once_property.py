"""Property: whatever the workload, faults, redeliveries and shard interleavings, the stats equal the model."""

from __future__ import annotations

import datetime as dt

import pytest
from hitstream.config import settings as app_settings
from hitstream.pipeline import ingest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.builders import DESKTOP_UA, get
from tests.conftest import Twin
from tests.model import Accepted, Model
from twin.backend import Backend

DAY0 = dt.datetime(2026, 11, 20, tzinfo=dt.UTC).timestamp()
SLUGS = [f"post-{i}" for i in range(8)]

event = st.tuples(
    st.sampled_from(["hit", "hit", "hit", "like"]),
    st.integers(0, len(SLUGS) - 1),
    st.integers(0, 11),  # visitor
    st.integers(0, 2),  # day offset
)


@st.composite
def scenario(draw: st.DrawFn) -> dict:
    return {
        "events": draw(st.lists(event, min_size=1, max_size=70)),
        "settle_points": draw(st.sets(st.integers(0, 70), max_size=4)),
        "shards": draw(st.integers(1, 3)),
        "batch_size": draw(st.sampled_from([1, 3, 7, 25, 1000])),
        "fault_rate": draw(st.sampled_from([0.0, 0.1, 0.3, 0.4])),
        "redelivery_rate": draw(st.sampled_from([0.0, 0.3, 0.6])),
        "seed": draw(st.integers(0, 2**16)),
        "shard_order": draw(st.lists(st.integers(0, 5), min_size=1, max_size=20)),
        # None: every invocation writes; 0: a window closes at each settle point; 3600: one window for all
        "window_s": draw(st.sampled_from([None, 0.0, 3600.0])),
        # HITSTREAM_ESM_MODE=pessimistic, with shards that end at once: every record arrives on a new child shard
        # (drained after its parent), open windows never get their final invocation, retries lose their state
        "pessimistic": draw(st.booleans()),
    }


def run(backend: Backend, s: dict) -> tuple[Twin, Model]:
    picks = iter(s["shard_order"] * 1000)

    def order(ready: list[str]) -> str:  # an adversarial interleaving of the shards' batches
        return ready[next(picks) % len(ready)]

    cfg = app_settings()
    accepted = []
    for i, (kind, slug_i, visitor_i, day_i) in enumerate(s["events"]):
        now = DAY0 + day_i * 86400 + 3600 + i
        beacon = ingest.Beacon(ingest.Kind(kind), SLUGS[slug_i], f"198.51.100.{visitor_i}", DESKTOP_UA)
        assert ingest.record(beacon, cfg, now=now)
        accepted.append(
            Accepted(kind, SLUGS[slug_i], str(visitor_i), dt.datetime.fromtimestamp(now, dt.UTC).date().isoformat())
        )
        if i in s["settle_points"]:
            backend.read_stream()
            backend.esm.drain(order)
            backend.esm.close_windows()
    while backend.read_stream() or not backend.esm.idle():
        backend.esm.drain(order)
    backend.esm.close_windows(force=True)
    assert backend.esm.dlq == []
    return Twin(backend), Model(accepted)


@pytest.mark.slow
@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(scenario())
def test_counts_are_exact_under_faults_redelivery_and_interleaving(s: dict) -> None:
    backend = Backend(
        shards=s["shards"],
        batch_size=s["batch_size"],
        fault_rate=s["fault_rate"],
        redelivery_rate=s["redelivery_rate"],
        seed=s["seed"],
        window_s=s["window_s"],
        pessimistic=s["pessimistic"],
        shard_life_s=0.0,
    )
    try:
        twin, model = run(backend, s)
        days = ["2026-11-20", "2026-11-21", "2026-11-22"]
        status, body = twin.get(get("/statistics?from=2026-11-20&to=2026-11-22&top=5"))
        assert status == 200
        assert {k: body[k] for k in ("hits", "visitors", "likes")} == {
            k: v for k, v in model.site(days).items() if k != "articles"
        }
        assert body["daily"] == [model.day(d) for d in days]
        assert body["top"] == model.top(5, days)
        assert twin.get(get("/statistics?top=3"))[1] == {**model.site(), "top": model.top(3)}
        for slug in SLUGS:
            assert twin.get(get(f"/statistics/{slug}"))[1] == {"slug": slug, **model.article(slug)}
            ranged = twin.get(get(f"/statistics/{slug}?from=2026-11-21&to=2026-11-22"))[1]
            assert {k: ranged[k] for k in ("hits", "visitors", "likes")} == model.article(slug, days[1:])
        # and a second full redelivery of everything changes nothing
        before = twin.get(get("/statistics"))[1]
        for shard in twin.backend.esm.shards.values():
            assert not shard.pending
        assert twin.get(get("/statistics"))[1] == before
    finally:
        backend.close()
