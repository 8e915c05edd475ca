"""With `-c ingestEndpoint=functionUrl` pages load beacon.js from the ingest's URL and post their hits there; that URL
also answers the public all-time totals the counters read, and nothing else."""

from __future__ import annotations

import base64
import gzip

from tests.builders import get, hit
from tests.conftest import Twin


def test_the_ingest_serves_the_beacon_it_takes_hits_for(twin: Twin) -> None:
    plain = twin.backend.invoke("ingest", get("/beacon.js"))
    assert plain["statusCode"] == 200
    assert plain["headers"]["Content-Type"] == "text/javascript; charset=utf-8"
    served = plain["body"].encode()
    assert len(served) <= 2048
    zipped = twin.backend.invoke("ingest", get("/beacon.js", headers={"accept-encoding": "gzip"}))
    assert zipped["headers"]["Content-Encoding"] == "gzip"
    assert gzip.decompress(base64.b64decode(zipped["body"])) == served


def test_the_ingest_answers_public_totals_per_site_and_nothing_private(twin: Twin) -> None:
    assert twin.post(hit("a", ip="198.51.100.3"))[0] == 202
    twin.settle()
    assert twin.call("ingest", get("/statistics/a"))[:2] == (
        200,
        {"slug": "a", "hits": 1, "visitors": 1, "likes": 0},
    )
    assert twin.call("ingest", get("/statistics/a?site=127.0.0.1"))[1]["hits"] == 0
    for query in ("from=2026-01-01", "top=3", "breakdown=source", "site=evil.example"):
        assert twin.call("ingest", get(f"/statistics/a?{query}"))[0] == 400
    assert twin.call("ingest", get("/statistics/..bad"))[0] == 400
    assert twin.call("ingest", get("/statistics"))[0] == 404
    assert twin.call("ingest", get("/sites"))[0] == 404
