"""`HITSTREAM_DEMO=1 make run`: 30 days of made-up traffic through the real ingest and aggregate code."""

from __future__ import annotations

import random
import threading
import time

from twin.backend import Backend

ARTICLES = [
    "hello-world",
    "serverless-counters",
    "exactly-once",
    "privacy-first",
    "dynamodb-streams",
    "cost-of-a-hit",
    "local-twin",
    "bots-and-beacons",
    "about",
]


def seed(backend: Backend, days: int = 30, per_day: int = 40, seed_value: int = 42) -> int:
    """Backdated hits and likes (Zipf-ish over ARTICLES), folded by the aggregate handler; returns the count."""
    from hitstream import ingest
    from hitstream.config import settings

    rng = random.Random(seed_value)
    weights = [1 / (i + 1) for i in range(len(ARTICLES))]
    now = time.time()
    sent = 0
    for back in range(days, -1, -1):
        for i in range(int(per_day * (0.6 + 0.8 * rng.random()))):
            visitor = rng.randrange(per_day)
            slug = rng.choices(ARTICLES, weights)[0]
            kind = ingest.Kind.LIKE if rng.random() < 0.05 else ingest.Kind.HIT
            ua = f"Mozilla/5.0 (X11; Linux x86_64; rv:{120 + visitor % 9}.0) Gecko/20100101 Firefox/{120 + visitor % 9}.0"
            beacon = ingest.Beacon(kind, slug, f"192.0.2.{visitor % 250}", ua)
            at = now - back * 86400 - (i * 37 % 3600) if back else now - i
            with backend.lock:
                ingest.record(beacon, settings(), now=at)
            sent += 1
    return sent


def seed_in_background(backend: Backend) -> threading.Thread:
    def run() -> None:
        print(f"demo: seeded {seed(backend)} hits and likes over the last 30 days", flush=True)

    thread = threading.Thread(target=run, name="demo-seed", daemon=True)
    thread.start()
    return thread
