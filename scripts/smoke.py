"""Check a running deployment end to end: `make smoke URL=<ApiUrl, EdgeUrl or the twin's address> TOKEN=<owner token>`.

1. A new article (a unique slug) reads all zeros, publicly.
2. A hit on it from a browser is accepted (202) and counted: the public all-time count becomes exactly 1 within
   --timeout seconds (the stack's freshness bound plus a margin).
3. A private read (the last two days, with daily rows) is refused without the token (401 with
   `WWW-Authenticate: Bearer`), also with a wrong one, and served with it, showing that hit.
4. An origin outside the allow-list gets no CORS grant, on a read and on a preflight.

Exit 0 and a last line saying it works; otherwise non-zero and a last line saying what failed. Only the standard
library, so it runs from the twin's small venv too. Each run counts one hit on an article named smoke-<time>-<random>.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import secrets
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

BROWSER = "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:133.0) Gecko/20100101 Firefox/133.0"
FOREIGN_ORIGIN = "https://not-allowed.smoke.invalid"
REQUEST_TIMEOUT_S = 15


class SmokeFailure(Exception):
    """One check failed: the message says which and what came back."""


@dataclass
class Answer:
    status: int
    headers: dict[str, str]
    body: bytes
    json: Any = field(default=None)


@dataclass
class Smoke:
    url: str
    token: str
    site: str | None = None
    timeout_s: float = 120.0
    poll_s: float = 1.0
    say: Callable[[str], None] = print
    slug: str = field(default_factory=lambda: f"smoke-{int(time.time())}-{secrets.token_hex(4)}")

    def run(self) -> str:
        self.url = self.url.rstrip("/") + "/"
        self.new_article_reads_zero()
        self.hit_is_counted()
        self.private_read_needs_the_token()
        self.foreign_origin_gets_no_cors_grant()
        return f"smoke: {self.url} works: hit on {self.slug} counted, private reads need the token, CORS holds"

    # --- the checks ---------------------------------------------------------------------------------------------

    def new_article_reads_zero(self) -> None:
        totals = self._totals()
        if (totals.get("hits"), totals.get("visitors"), totals.get("likes")) != (0, 0, 0):
            raise SmokeFailure(f"the new article {self.slug} does not read all zeros: {totals}")
        self.say(f"ok: GET /statistics/{self.slug} reads zero for a new article")

    def hit_is_counted(self) -> None:
        body = json.dumps({"referrer": ""}).encode()
        answer = self._call("POST", f"statistics/{self.slug}/hits", body=body, headers={"Content-Type": "text/plain"})
        if answer.status != 202 or answer.json != {"accepted": True}:
            raise SmokeFailure(f"POST /statistics/{self.slug}/hits answered {_show(answer)}, not 202 accepted")
        started = time.monotonic()
        while True:
            hits = self._totals().get("hits")
            if hits == 1:
                break
            if hits != 0:
                raise SmokeFailure(f"one hit on {self.slug} counts {hits}, not 1")
            if time.monotonic() - started > self.timeout_s:
                raise SmokeFailure(
                    f"the hit on {self.slug} was accepted but not counted within {self.timeout_s:.0f} s "
                    "(the stream or the aggregator is stuck, or freshnessSeconds is longer: raise TIMEOUT=)"
                )
            time.sleep(self.poll_s)
        self.say(f"ok: the hit was accepted (202) and counted in {time.monotonic() - started:.1f} s")

    def private_read_needs_the_token(self) -> None:
        today = dt.datetime.now(dt.UTC).date()
        query = {"from": (today - dt.timedelta(days=1)).isoformat(), "to": today.isoformat()}
        path = f"statistics/{self.slug}"
        for label, headers in (("without a token", {}), ("with a wrong token", {"Authorization": "Bearer wrong"})):
            answer = self._call("GET", path, query=query, headers=headers)
            challenge = answer.headers.get("www-authenticate", "")
            if answer.status != 401 or not challenge.lower().startswith("bearer"):
                raise SmokeFailure(
                    f"a private read {label} answered {_show(answer)}, not 401 with WWW-Authenticate: Bearer"
                )
        answer = self._call("GET", path, query=query, headers={"Authorization": f"Bearer {self.token}"})
        if answer.status != 200 or not isinstance(answer.json, dict):
            raise SmokeFailure(f"a private read with the token answered {_show(answer)}, not 200 (is TOKEN right?)")
        daily = answer.json.get("daily")
        if answer.json.get("hits") != 1 or not isinstance(daily, list) or len(daily) != 2:
            raise SmokeFailure(
                f"the private read over {query} does not show the one hit in two daily rows: {answer.json}"
            )
        self.say("ok: a private read is refused (401) without the token or with a wrong one, served with it")

    def foreign_origin_gets_no_cors_grant(self) -> None:
        read = self._call("GET", f"statistics/{self.slug}", headers={"Origin": FOREIGN_ORIGIN})
        preflight = self._call(
            "OPTIONS",
            f"statistics/{self.slug}/hits",
            headers={
                "Origin": FOREIGN_ORIGIN,
                "Access-Control-Request-Method": "POST",
                "Access-Control-Request-Headers": "content-type",
            },
        )
        for label, answer in (("a read", read), ("a preflight", preflight)):
            granted = answer.headers.get("access-control-allow-origin")
            if granted in ("*", FOREIGN_ORIGIN):
                raise SmokeFailure(f"{label} from {FOREIGN_ORIGIN} got Access-Control-Allow-Origin: {granted}")
        self.say(f"ok: {FOREIGN_ORIGIN} gets no CORS grant (read {read.status}, preflight {preflight.status})")

    # --- HTTP ---------------------------------------------------------------------------------------------------

    def _totals(self) -> dict[str, Any]:
        answer = self._call("GET", f"statistics/{self.slug}")
        if answer.status != 200 or not isinstance(answer.json, dict) or answer.json.get("slug") != self.slug:
            hint = " (behind the edge, use EdgeUrl)" if answer.status in (401, 403) else ""
            raise SmokeFailure(f"GET /statistics/{self.slug} answered {_show(answer)}{hint}")
        return answer.json

    def _call(
        self,
        method: str,
        path: str,
        *,
        query: dict[str, str] | None = None,
        body: bytes | None = None,
        headers: dict[str, str] | None = None,
    ) -> Answer:
        params = {**({"site": self.site} if self.site else {}), **(query or {})}
        url = self.url + path + (f"?{urllib.parse.urlencode(params)}" if params else "")
        request = urllib.request.Request(
            url, data=body, method=method, headers={"User-Agent": BROWSER, **(headers or {})}
        )
        try:
            with urllib.request.urlopen(request, timeout=REQUEST_TIMEOUT_S) as response:
                answer = Answer(response.status, _lower(response.headers), response.read())
        except urllib.error.HTTPError as err:
            answer = Answer(err.code, _lower(err.headers), err.read())
        except (OSError, ValueError) as err:
            raise SmokeFailure(f"{method} {url} failed: {err}") from None
        try:
            answer.json = json.loads(answer.body) if answer.body else None
        except ValueError:
            answer.json = None
        return answer


def _lower(headers: Any) -> dict[str, str]:
    return {str(k).lower(): str(v) for k, v in headers.items()}


def _show(answer: Answer) -> str:
    return f"{answer.status} {answer.body[:200].decode(errors='replace')!r}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--url", required=True, help="the stack's ApiUrl (EdgeUrl behind the WAF edge) or the twin's")
    parser.add_argument("--token", required=True, help="the owner token (make token; the twin prints its own)")
    parser.add_argument("--site", help="the site to count on (default: the deployment's first)")
    parser.add_argument("--timeout", type=float, default=120.0, help="seconds to wait for the hit to be counted")
    args = parser.parse_args(argv)
    if urllib.parse.urlsplit(args.url).scheme not in ("http", "https") or not args.token:
        print("smoke: FAILED: give URL=http(s)://... and a non-empty TOKEN=", file=sys.stderr)
        return 2
    smoke = Smoke(args.url, args.token, site=args.site, timeout_s=args.timeout)
    try:
        print(smoke.run())
    except SmokeFailure as failure:
        print(f"smoke: {args.url} FAILED: {failure}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
