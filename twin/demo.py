"""`HITSTREAM_DEMO=1 make run`: 60 days of made-up traffic through the real ingest and aggregate code.

Hits are written by the ingest's own `record` (backdated, so they land on past days) and folded by the aggregate
handler through the emulated stream, exactly as live hits are. With data restored from disk it does not seed again.
"""

from __future__ import annotations

import random
import sys
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
# (source, campaign) of a visitor's entry, weighted towards direct visits and search, as on a small blog.
SOURCES = [
    ("(direct)", "(none)"),
    ("google.com", "(none)"),
    ("news.ycombinator.com", "(none)"),
    ("duckduckgo.com", "(none)"),
    ("reddit.com", "(none)"),
    ("mastodon.social", "(none)"),
    ("newsletter", "november-issue"),
]
SOURCE_WEIGHTS = [30, 22, 12, 8, 6, 5, 4]
# (user agent, browser, os, device): the families a User-Agent parser reports for these strings.
CLIENTS = [
    ("Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0", "Firefox", "Linux", "desktop"),
    (
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0 Safari/537.36",
        "Chrome",
        "Windows",
        "desktop",
    ),
    (
        "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_6) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 "
        "Safari/605.1.15",
        "Safari",
        "Mac OS X",
        "desktop",
    ),
    (
        "Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
        "Version/18.1 Mobile/15E148 Safari/604.1",
        "Mobile Safari",
        "iOS",
        "mobile",
    ),
    (
        "Mozilla/5.0 (Linux; Android 15; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0 Mobile "
        "Safari/537.36",
        "Chrome Mobile",
        "Android",
        "mobile",
    ),
]
CLIENT_WEIGHTS = [20, 30, 15, 25, 10]
COUNTRIES = ["US", "DE", "GB", "FR", "IN", "CA", "NL", "JP", "BR", "SE"]
COUNTRY_WEIGHTS = [30, 14, 10, 8, 8, 6, 5, 4, 3, 2]


DEMO_DAYS = 60  # two 30-day periods, so the dashboard's comparison with the previous period means something


def seed(backend: Backend, days: int = DEMO_DAYS, per_day: int = 20, seed_value: int = 42) -> int:
    """Backdated hits and likes (Zipf-ish over ARTICLES) on the default site; returns how many were sent."""
    rng = random.Random(seed_value)
    now = time.time()
    sent = 0
    for back in range(days, -1, -1):
        # A day at a time under the lock: the poller then folds about a day per batch (few counter writes),
        # and requests are served between days.
        with backend.lock:
            sent += _day(back, per_day, rng, now)
    return sent


def _day(back: int, per_day: int, rng: random.Random, now: float) -> int:
    from hitstream.config import settings
    from hitstream.pipeline import ingest

    cfg = settings()
    weights = [1 / (i + 1) for i in range(len(ARTICLES))]
    count = int(per_day * (0.6 + 0.8 * rng.random()))
    for i in range(count):
        visitor = rng.randrange(per_day)
        who = random.Random(visitor * 1000 + back)  # a visitor keeps one entry and one device per day
        source, campaign = who.choices(SOURCES, SOURCE_WEIGHTS)[0]
        agent, browser, os_family, device = who.choices(CLIENTS, CLIENT_WEIGHTS)[0]
        country = who.choices(COUNTRIES, COUNTRY_WEIGHTS)[0]
        like = rng.random() < 0.05
        beacon = ingest.Beacon(
            ingest.Kind.LIKE if like else ingest.Kind.HIT,
            rng.choices(ARTICLES, weights)[0],
            f"192.0.2.{visitor % 250}",
            agent,
            site=cfg.default_site,
            dimensions=() if like else (source, campaign, browser, os_family, device, country),
        )
        ingest.record(beacon, cfg, now=now - back * 86400 - (i * 37 % 3600) if back else now - i)
    return count


def say(line: str) -> None:
    """One write per line: the twin's own start lines come from another thread."""
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


def seed_in_background(backend: Backend, restored: int = 0) -> threading.Thread | None:
    """Seed once, into an empty twin: with data restored from disk there is nothing to do."""
    if restored:
        print("demo: not seeding: the twin restored its data (delete its data directory to seed afresh)", flush=True)
        return None

    def run() -> None:
        started = time.monotonic()
        say(f"demo: seeding {DEMO_DAYS} days of made-up traffic...")
        sent = seed(backend)
        backend.settle()  # counted, not just written, before we say it is done
        say(f"demo: seeded {sent:,} hits and likes in {time.monotonic() - started:.1f} s")

    thread = threading.Thread(target=run, name="demo-seed", daemon=True)
    thread.start()
    return thread
