"""Privacy: no IP address and no User-Agent reaches a table item or a log line, at any log level.

Traffic with distinctive IPs and User-Agents (each carrying a unique marker) goes through the handlers, the
stream and the aggregator; then every log line and every item of both tables is searched for them.
The tests scan the tables; the application never does.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import logging
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from hitstream import days
from hitstream.audience import visitors
from hitstream.storage.schema import SALT

from tests.builders import api_event, get, hit, like
from tests.conftest import Twin, scan, start_twin, stop_twin

MARKER = f"zq{uuid.uuid4().hex[:12]}zq"
VISITORS = [
    ("198.51.100.23", f"Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0 {MARKER}a"),
    ("2001:db8::4242", f"Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) Safari/604.1 {MARKER}b"),
    ("203.0.113.199", f"Mozilla/5.0 (Windows NT 10.0; Win64; x64) Chrome/131.0.0.0 Safari/537.36 {MARKER}c"),
]
BOT = ("192.0.2.77", f"curl/8.5.0 {MARKER}bot")


def dump(value: Any) -> str:
    def default(obj: Any) -> str:
        if isinstance(obj, bytes | bytearray):
            return base64.b64encode(obj).decode() + " " + obj.decode("latin-1")
        return str(obj)

    return json.dumps(value, default=default, ensure_ascii=False)


def scan_all() -> dict[str, list[dict[str, Any]]]:
    return {table: scan(table) for table in boto3.client("dynamodb").list_tables()["TableNames"]}


def personal_strings() -> list[str]:
    strings = [MARKER]
    for ip, ua in [*VISITORS, BOT]:
        strings += [ip, ua, ua.split(" ")[0] + " " + ua.split(" ")[1]]
    return strings


def assert_clean(text: str, where: str) -> None:
    for needle in personal_strings():
        assert needle not in text, f"{needle!r} found in {where}"


@pytest.fixture
def all_logs(caplog: pytest.LogCaptureFixture) -> Iterator[pytest.LogCaptureFixture]:
    """Every log record at DEBUG: the root logger and Powertools' 'hitstream' logger (which does not propagate)."""
    service = logging.getLogger("hitstream")
    old_level = service.level
    service.addHandler(caplog.handler)
    service.setLevel(logging.DEBUG)
    caplog.set_level(logging.DEBUG)
    try:
        yield caplog
    finally:
        service.removeHandler(caplog.handler)
        service.setLevel(old_level)


def traffic(twin: Twin) -> None:
    referrer = json.dumps({"referrer": f"https://mail.example/{MARKER}?u={VISITORS[0][0]}"})
    for ip, ua in VISITORS:
        for slug in ("privacy-a", "privacy-b"):
            assert twin.post(hit(slug, ip=ip, user_agent=ua, body=referrer))[0] == 202
        assert twin.post(like("privacy-a", ip=ip, user_agent=ua))[0] == 202
        # refused requests must not echo the client either
        assert twin.post(hit("bad slug", ip=ip, user_agent=ua))[0] == 400
        assert twin.post(hit("privacy-a", ip=ip, user_agent=ua, body=b"[" + MARKER.encode()))[0] == 400
        assert twin.post(hit("privacy-a", ip=ip, user_agent=ua, content_type=f"text/{MARKER}"))[0] == 415
        assert twin.get(get("/statistics?top=abc", ip=ip, user_agent=ua))[0] == 400
        assert twin.get(get("/statistics/privacy-a", ip=ip, user_agent=ua))[0] == 200
        options = api_event("OPTIONS", "/statistics/privacy-a/hits", ip=ip, user_agent=ua, content_type=None)
        assert twin.call("query", options)[0] < 500
    assert twin.post(hit("privacy-a", ip=BOT[0], user_agent=BOT[1]))[0] == 202
    twin.settle()


def test_no_ip_or_user_agent_in_tables_or_logs(
    twin: Twin, all_logs: pytest.LogCaptureFixture, capfd: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("POWERTOOLS_LOGGER_LOG_EVENT", "true")  # log_event=False in the handlers must still win
    traffic(twin)
    status, body = twin.get(get("/statistics/privacy-a"))
    assert (status, body["hits"], body["visitors"], body["likes"]) == (200, 3, 3, 3)

    records = all_logs.records
    assert records, "no log records were captured at DEBUG"
    lines = [all_logs.handler.format(r) for r in records] + [dump(r.__dict__) for r in records]
    out, err = capfd.readouterr()
    assert_clean("\n".join(lines), "a log record")
    assert_clean(out + err, "stdout/stderr")

    tables = scan_all()
    assert tables and all(tables.values())
    assert_clean(dump(tables), "a table item")


def test_salt_expires_48_hours_after_its_day_starts(twin: Twin) -> None:
    twin.post(hit("salted"))
    assert [i for i in scan_all()[twin.backend.settings.stats_table] if i["pk"]["S"] == SALT] == []
    salts = [i for i in scan_all()[twin.backend.settings.salts_table] if i["pk"]["S"] == SALT]
    assert len(salts) == 1
    day = salts[0]["sk"]["S"]
    assert int(salts[0]["ttl"]["N"]) == days.day_start(day) + 48 * 3600
    assert len(salts[0]["v"]["B"]) == 32
    events = scan_all()[twin.backend.settings.events_table]
    assert [int(e["ttl"]["N"]) for e in events] == [days.day_start(day) + 86400 + 30 * 86400]
    # nothing about the client but the keyed hash in pk
    assert set(events[0]) == {"pk", "w", "s", "k", "h", "pv", "e", "ttl"}


def days_back(*backs: int) -> list[str]:
    today = dt.date.fromisoformat(days.today(time.time()))
    return sorted((today - dt.timedelta(days=back)).isoformat() for back in backs)


def plant_salts(twin: Twin, *backs: int) -> str:
    """Salts for these days before today, in the salts table; returns its name."""
    table = twin.backend.settings.salts_table
    for day in days_back(*backs):
        boto3.client("dynamodb").put_item(
            TableName=table, Item={"pk": {"S": SALT}, "sk": {"S": day}, "v": {"B": b"x" * 32}}
        )
    return table


def test_hitstream_deletes_salts_48_hours_after_their_day_began(twin: Twin) -> None:
    """The first ingest of a day deletes the salts of the days before yesterday itself; TTL is only a backup."""
    table = plant_salts(twin, 1, 2, 3, 8)
    visitors.forget_salts()
    assert twin.post(hit("salted"))[0] == 202
    assert sorted(i["sk"]["S"] for i in scan_all()[table]) == days_back(0, 1)


@pytest.mark.e2e
def test_running_twin_logs_no_user_agent_at_debug(tmp_path: Path) -> None:
    """The real `python -m twin` with every log level at DEBUG, and Powertools' dev mode (which would print raw
    events) switched on: the User-Agent marker reaches no line of its output. (Over HTTP the client IP is
    the TCP peer 127.0.0.1, which the twin's own banner prints, so this test checks User-Agents.)"""
    env = {
        "TWIN_LOG_LEVEL": "DEBUG",
        "POWERTOOLS_LOG_LEVEL": "DEBUG",
        "POWERTOOLS_DEV": "true",
        "POWERTOOLS_LOGGER_LOG_EVENT": "true",
    }
    twin = start_twin(env)  # its output goes to a file, so DEBUG logging cannot stall it
    try:
        for _, ua in VISITORS:
            headers = {"User-Agent": ua, "Content-Type": "text/plain", "X-Forwarded-For": VISITORS[0][0]}
            assert twin.request("POST", "/statistics/privacy-http/hits", b"{}", headers)[0] == 202
            assert twin.request("POST", "/statistics/privacy-http/likes", b"{}", headers)[0] == 202
            assert twin.request("POST", "/statistics/bad%20slug/hits", b"{}", headers)[0] == 400
            assert twin.request("GET", "/statistics/privacy-http", None, headers)[0] == 200
        headers = {"User-Agent": BOT[1], "Content-Type": "text/plain"}
        assert twin.request("POST", "/statistics/privacy-http/hits", b"{}", headers)[0] == 202
        deadline = time.time() + 10
        while True:
            status, body, _ = twin.request("GET", "/statistics/privacy-http")
            if body.get("likes") == 3 or time.time() > deadline:
                break
            time.sleep(0.1)
        assert (status, body["hits"], body["visitors"], body["likes"]) == (200, 3, 3, 3)
    finally:
        output = stop_twin(twin)
    assert "DEBUG" in output or "debug" in output.lower(), output[-2000:]
    for needle in [MARKER, VISITORS[0][0], *[ua for _, ua in VISITORS]]:
        assert needle not in output, f"{needle!r} in the twin's output"


def test_the_daily_schedule_deletes_salts_on_days_without_hits(twin: Twin) -> None:
    table = plant_salts(twin, 0, 1, 2, 5)
    assert twin.backend.invoke("ingest", {"purge_salts": True})["purged"][0] == days_back(2)[0]
    assert sorted(i["sk"]["S"] for i in scan_all()[table]) == days_back(0, 1)
