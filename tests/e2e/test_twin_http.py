"""The local twin as a user meets it: `python -m twin`, real HTTP, counts visible within 2 s."""

from __future__ import annotations

import json
import random
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from tests.conftest import RunningTwin, start_twin, stop_twin
from tests.model import Accepted, Model

pytestmark = pytest.mark.e2e
UA = (
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Safari/605.1.15"
)


def browser(n: int) -> str:
    return f"Mozilla/5.0 (X11; Linux x86_64; rv:{100 + n}.0) Gecko/20100101 Firefox/{100 + n}.0"


def post(
    twin: RunningTwin,
    slug: str,
    kind: str = "hits",
    *,
    ua: str = UA,
    body: bytes = b"{}",
    content_type: str = "text/plain;charset=UTF-8",
) -> int:
    status, payload, _ = twin.request(
        "POST", f"/statistics/{slug}/{kind}", body, {"User-Agent": ua, "Content-Type": content_type}
    )
    assert status != 202 or payload == {"accepted": True}
    return status


def wait_for(twin: RunningTwin, path: str, expected: dict, timeout: float = 2.0) -> float:
    start = time.time()
    while True:
        _, body, _ = twin.request("GET", path)
        if all(body.get(k) == v for k, v in expected.items()):
            return time.time() - start
        if time.time() - start > timeout:
            raise AssertionError(f"{path}: {body} != {expected} after {timeout}s")
        time.sleep(0.05)


def test_hits_as_json_and_as_sendbeacon_text_are_visible_within_two_seconds(running_twin):
    assert (
        post(running_twin, "first-post", content_type="application/json", body=b'{"referrer": "https://x.example/"}')
        == 202
    )
    assert post(running_twin, "first-post", content_type="text/plain;charset=UTF-8") == 202
    assert post(running_twin, "first-post", ua=browser(1), body=b"") == 202
    assert post(running_twin, "first-post", "likes") == 202
    assert post(running_twin, "first-post", "likes") == 202
    wait_for(running_twin, "/statistics/first-post", {"hits": 3, "visitors": 2, "likes": 1}, timeout=2.0)
    _, body, _ = running_twin.request("GET", "/statistics")
    assert body == {"hits": 3, "visitors": 2, "likes": 1, "articles": 1}


def test_bad_input_gets_a_clear_400_and_changes_nothing(running_twin):
    assert post(running_twin, "ok") == 202
    wait_for(running_twin, "/statistics", {"hits": 1})
    for slug, body in [("-bad", b"{}"), ("ok", b"[1,2]"), ("ok", b"not json"), ("ok", b"x" * 5000), ("ok", b'"s"')]:
        status, payload, _ = running_twin.request(
            "POST", f"/statistics/{slug}/hits", body, {"User-Agent": UA, "Content-Type": "application/json"}
        )
        assert status == 400 and isinstance(payload["error"], str), (slug, body, status, payload)
    for query in [
        "from=2026-02-30",
        "from=2026-03-02&to=2026-03-01",
        "from=2024-01-01&to=2025-12-31",
        "top=0",
        "top=101",
    ]:
        status, payload, _ = running_twin.request("GET", f"/statistics?{query}")
        assert status == 400 and isinstance(payload["error"], str), query
    time.sleep(0.5)
    assert running_twin.request("GET", "/statistics")[1] == {"hits": 1, "visitors": 1, "likes": 0, "articles": 1}


def test_bots_are_accepted_and_not_counted(running_twin):
    for ua in [
        "curl/8.5.0",
        "Googlebot/2.1 (+http://www.google.com/bot.html)",
        "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) HeadlessChrome/120.0 Safari/537.36",
        "",
    ]:
        assert post(running_twin, "bot-target", ua=ua) == 202
    assert post(running_twin, "bot-target") == 202
    wait_for(running_twin, "/statistics/bot-target", {"hits": 1})
    time.sleep(0.4)
    assert running_twin.request("GET", "/statistics/bot-target")[1]["hits"] == 1


def test_pages_beacon_and_openapi_are_served(running_twin):
    status, body, headers = running_twin.request("GET", "/openapi.json")
    assert status == 200 and headers["content-type"].startswith("application/json")
    assert {"/statistics", "/statistics/{slug}", "/statistics/{slug}/hits", "/statistics/{slug}/likes"} <= set(
        body["paths"]
    )
    status, body, headers = running_twin.request("GET", "/beacon.js")
    assert status == 200 and headers["content-type"].startswith("text/javascript") and "sendBeacon" in body["raw"]
    status, body, headers = running_twin.request("GET", "/")
    assert status == 200 and headers["content-type"].startswith("text/html") and "<html" in body["raw"]


def test_ctrl_c_stops_the_twin_cleanly():
    twin = start_twin()
    output = stop_twin(twin)
    assert twin.proc.returncode == 0, output
    assert "stopped" in output
    assert "Traceback" not in output


@pytest.mark.slow
def test_counts_stay_exact_with_faults_and_redeliveries_on():
    twin = start_twin({"HITSTREAM_FAULT_RATE": "0.3", "HITSTREAM_REDELIVERY_RATE": "0.3"})
    try:
        rng = random.Random(7)
        slugs = [f"article-{i}" for i in range(25)]
        plan = [("hits" if rng.random() > 0.1 else "likes", rng.choice(slugs), rng.randrange(40)) for _ in range(400)]
        with ThreadPoolExecutor(4) as pool:
            statuses = list(pool.map(lambda p: post(twin, p[1], p[0], ua=browser(p[2])), plan))
        assert statuses == [202] * len(plan)
        day = time.strftime("%Y-%m-%d", time.gmtime())
        model = Model([Accepted("hit" if k == "hits" else "like", s, str(v), day) for k, s, v in plan])
        wait_for(twin, "/statistics", model.site(), timeout=60)
        time.sleep(1.0)  # and it stays exact: later redeliveries change nothing
        assert twin.request("GET", "/statistics")[1] == model.site()
        for slug in slugs:
            assert twin.request("GET", f"/statistics/{slug}")[1] == {"slug": slug, **model.article(slug)}
        assert twin.request("GET", f"/statistics?from={day}&to={day}&top=5")[1]["top"] == model.top(5)
    finally:
        output = stop_twin(twin)
    assert "(faults 30%, redelivery 30%)" in output
    assert "DLQ" not in output, output[-2000:]
    json.dumps(output)  # the twin's own output is text
