"""The twin's HTTP front under hostile clients, over raw sockets: malformed HTTP gets a 4xx with a JSON error and
a graceful close, slow and idle clients stall no one, HEAD and chunked bodies work, nothing is dropped or hung,
and bad settings end the twin with one line."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.conftest import ROOT, RunningTwin, start_twin, stop_twin

pytestmark = pytest.mark.e2e
READ_TIMEOUT = 2  # the twin's HITSTREAM_READ_TIMEOUT in this module
CLIENT = "127.0.0.77"  # every raw client connects from here, so the twin's output can be searched for it
UA = "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0"


@pytest.fixture(scope="module")
def twin() -> Iterator[RunningTwin]:
    t = start_twin({"HITSTREAM_READ_TIMEOUT": str(READ_TIMEOUT), "TWIN_LOG_LEVEL": "DEBUG"})
    try:
        yield t
    finally:
        output = stop_twin(t)
        assert CLIENT not in output, "the twin logged a client address"
        assert "Traceback" not in output, output[-3000:]


def connect(twin: RunningTwin) -> socket.socket:
    port = int(twin.url.rsplit(":", 1)[1])
    sock = socket.create_connection(("127.0.0.1", port), timeout=15, source_address=(CLIENT, 0))
    return sock


class Reply:
    def __init__(self, status: int, headers: dict[str, str], body: bytes) -> None:
        self.status, self.headers, self.body = status, headers, body

    def json(self) -> dict:
        return json.loads(self.body)


def read_reply(sock: socket.socket, buffer: bytearray, *, head: bool = False) -> Reply | None:
    """One response from the socket (None if it closed before one began); `buffer` keeps what follows it."""
    while b"\r\n\r\n" not in buffer:
        chunk = sock.recv(65536)
        if not chunk:
            assert not buffer, f"closed inside a response head: {bytes(buffer[:200])!r}"
            return None
        buffer += chunk
    raw_head, _, rest = bytes(buffer).partition(b"\r\n\r\n")
    lines = raw_head.decode("latin-1").split("\r\n")
    assert lines[0].startswith("HTTP/1.1 "), lines[0]
    status = int(lines[0].split()[1])
    headers = {k.strip().lower(): v.strip() for k, v in (line.split(":", 1) for line in lines[1:])}
    length = 0 if head or status in (100, 204, 304) else int(headers["content-length"])
    while len(rest) < length:
        chunk = sock.recv(65536)
        assert chunk, "closed inside a response body"
        rest += chunk
    buffer[:] = rest[length:]
    return Reply(status, headers, rest[:length])


def exchange(twin: RunningTwin, raw: bytes, *, half_close: bool = False) -> Reply:
    """Send raw bytes and read the one answer; the twin must then close the connection cleanly."""
    with connect(twin) as sock:
        sock.sendall(raw)
        if half_close:
            sock.shutdown(socket.SHUT_WR)
        buffer = bytearray()
        reply = read_reply(sock, buffer)
        assert reply is not None, "closed without an answer"
        assert sock.recv(65536) == b"" and not buffer, "more after an answer that closes the connection"
        return reply


def refused(reply: Reply, status: int) -> None:
    assert reply.status == status, (reply.status, reply.body[:300])
    assert reply.headers["content-type"] == "application/json"
    assert reply.headers["connection"] == "close"
    assert isinstance(reply.json()["error"], str) and reply.json()["error"]


def still_answers(twin: RunningTwin) -> None:
    with urllib.request.urlopen(twin.url + "/statistics", timeout=10) as resp:
        assert resp.status == 200


def post_head(path: str, extra: str = "") -> bytes:
    return (
        f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nUser-Agent: {UA}\r\nContent-Type: application/json\r\n{extra}\r\n"
    ).encode()


# Malformed HTTP: a 4xx with a JSON error, never a dropped connection or a hang.


def test_a_request_line_over_64_kib_is_414(twin: RunningTwin) -> None:
    refused(exchange(twin, b"GET /statistics?" + b"a" * (65 * 1024) + b" HTTP/1.1\r\nHost: x\r\n\r\n"), 414)
    refused(exchange(twin, b"GET /" + b"a" * (200 * 1024)), 414)  # no line end at all, and more than the limit
    still_answers(twin)


def test_a_long_request_line_within_the_limit_is_served(twin: RunningTwin) -> None:
    reply = exchange(
        twin, b"GET /statistics?x=" + b"a" * (60 * 1024) + b" HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    )
    assert reply.status == 200, reply.body[:200]


@pytest.mark.parametrize(
    "headers",
    [
        "".join(f"X-Filler-{i}: {'v' * 1000}\r\n" for i in range(80)),  # many
        f"X-Big: {'v' * (70 * 1024)}\r\n",  # one huge
    ],
    ids=["80-headers-of-1-KiB", "one-70-KiB-header"],
)
def test_header_fields_over_64_kib_are_431(twin: RunningTwin, headers: str) -> None:
    refused(exchange(twin, f"GET /statistics HTTP/1.1\r\nHost: x\r\n{headers}\r\n".encode()), 431)


@pytest.mark.parametrize(
    "framing",
    [
        "Content-Length: abc\r\n",
        "Content-Length: -1\r\n",
        "Content-Length: +2\r\n",
        "Content-Length: 0x10\r\n",
        "Content-Length: 2\r\nContent-Length: 3\r\n",
        "Content-Length: 2, 3\r\n",
        "Transfer-Encoding: gzip\r\n",
        "Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n",
    ],
)
def test_bad_body_framing_is_400(twin: RunningTwin, framing: str) -> None:
    refused(exchange(twin, post_head("/statistics/front/hits", framing) + b"{}"), 400)


@pytest.mark.parametrize(
    "chunks",
    [
        b"zz\r\n{}\r\n0\r\n\r\n",  # not hex
        b"2\r\n{}XX0\r\n\r\n",  # no CRLF after the data
        b"-2\r\n{}\r\n0\r\n\r\n",
        b"1" + b"0" * 30 + b"\r\n{}\r\n0\r\n\r\n",  # a size no one can send
        b"2\r\n{}\r\n",  # then the client stops sending: the end never comes
    ],
    ids=["not-hex", "missing-crlf", "negative", "overlong-size", "truncated"],
)
def test_bad_chunked_framing_is_400(twin: RunningTwin, chunks: bytes) -> None:
    refused(
        exchange(twin, post_head("/statistics/front/hits", "Transfer-Encoding: chunked\r\n") + chunks, half_close=True),
        400,
    )


@pytest.mark.parametrize(
    "raw",
    [
        b"\x00\x01\x02\xff\r\n\r\n",
        b"GET\r\n\r\n",
        b"GET / HTTP/1.1\r\nNo colon here\r\n\r\n",
        b"GET / HTTP/9.9\r\n\r\n",
        b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n",
        b"G\xc3\xa9T / HTTP/1.1\r\n\r\n",
        b"GET /\x00 HTTP/1.1\r\n\r\n",
    ],
)
def test_garbage_is_a_4xx(twin: RunningTwin, raw: bytes) -> None:
    reply = exchange(twin, raw, half_close=True)
    assert 400 <= reply.status < 500 and "error" in reply.json(), (reply.status, reply.body)


def test_a_declared_body_over_10_mib_is_413_before_it_is_sent(twin: RunningTwin) -> None:
    refused(exchange(twin, post_head("/statistics/front/hits", f"Content-Length: {10 * 1024 * 1024 + 1}\r\n")), 413)


def test_a_sent_body_over_10_mib_is_413(twin: RunningTwin) -> None:
    chunk = b"x" * (1024 * 1024)
    body = b"".join(b"%x\r\n%s\r\n" % (len(chunk), chunk) for _ in range(11)) + b"0\r\n\r\n"
    refused(exchange(twin, post_head("/statistics/front/hits", "Transfer-Encoding: chunked\r\n") + body), 413)
    still_answers(twin)


def test_expect_100_continue_is_answered(twin: RunningTwin) -> None:
    with connect(twin) as sock:
        sock.sendall(post_head("/statistics/front/hits", "Content-Length: 2\r\nExpect: 100-continue\r\n"))
        buffer = bytearray()
        interim = read_reply(sock, buffer)
        assert interim is not None and interim.status == 100
        sock.sendall(b"{}")
        final = read_reply(sock, buffer)
        assert final is not None and (final.status, final.json()) == (202, {"accepted": True})


# Chunked bodies reach the handler whole, as API Gateway passes them.


def test_chunked_bodies_are_decoded_for_the_handler(twin: RunningTwin) -> None:
    def chunked(body: bytes) -> bytes:
        return b"".join(b"%x;ext=1\r\n%s\r\n" % (1, body[i : i + 1]) for i in range(len(body))) + b"0\r\n\r\n"

    head = post_head("/statistics/front/hits", "Transfer-Encoding: chunked\r\nConnection: close\r\n")
    accepted = exchange(twin, head + chunked(b'{"referrer": "https://example.org/"}'))
    assert (accepted.status, accepted.json()) == (202, {"accepted": True})
    not_an_object = exchange(twin, head + chunked(b"[1, 2]"))
    assert not_an_object.status == 400, "the handler saw the decoded body"
    too_big = exchange(twin, head + chunked(b"{" + b" " * 5000 + b"}"))
    assert too_big.status == 400, "the handler saw all of it"


# HEAD is GET without the body.


@pytest.mark.parametrize("path", ["/statistics", "/statistics/front", "/beacon.js", "/openapi.json", "/"])
def test_head_has_gets_headers_and_no_body(twin: RunningTwin, path: str) -> None:
    with connect(twin) as sock:
        sock.sendall(f"HEAD {path} HTTP/1.1\r\nHost: x\r\n\r\nGET {path} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
        buffer = bytearray()
        head = read_reply(sock, buffer, head=True)
        get = read_reply(sock, buffer)  # the same connection carries on right after the HEAD's headers
    assert head is not None and get is not None
    assert head.status == get.status == 200
    assert head.body == b""
    assert head.headers["content-length"] == get.headers["content-length"] == str(len(get.body))
    assert head.headers["content-type"] == get.headers["content-type"]


# Slow, idle and huge clients do not stall the others.


def test_slow_and_idle_clients_do_not_stall_a_normal_request(twin: RunningTwin) -> None:
    idle = [connect(twin) for _ in range(10)]
    slow = [connect(twin) for _ in range(10)]
    for i, sock in enumerate(slow):  # slowloris: a head that never ends, or a body that never comes
        sock.sendall(
            b"GET /statistics HTTP/1.1\r\nX-a: b\r\n" if i % 2 else post_head("/s/a/hits", "Content-Length: 99\r\n")
        )
    try:
        start = time.monotonic()
        still_answers(twin)
        assert time.monotonic() - start < READ_TIMEOUT, "a normal request waited for the slow ones"
        for sock in slow:  # each slow client is cut off with 408 once its time is up
            buffer = bytearray()
            reply = read_reply(sock, buffer)
            assert reply is not None
            refused(reply, 408)
            assert sock.recv(1) == b""
        for sock in idle:  # idle ones are closed without an answer
            assert sock.recv(1) == b""
    finally:
        for sock in idle + slow:
            sock.close()
    still_answers(twin)


def test_a_huge_upload_does_not_stall_others(twin: RunningTwin) -> None:
    with connect(twin) as uploader:
        uploader.sendall(post_head("/statistics/front/hits", f"Content-Length: {9 * 1024 * 1024}\r\n"))
        uploader.sendall(b" " * (4 * 1024 * 1024))  # and then nothing more for a while
        start = time.monotonic()
        still_answers(twin)
        assert time.monotonic() - start < READ_TIMEOUT
        reply = read_reply(uploader, bytearray())
        assert reply is not None
        refused(reply, 408)


def test_connections_past_the_bound_get_503_and_the_twin_recovers(twin: RunningTwin) -> None:
    from twin.server import MAX_CONNECTIONS

    held = []
    try:
        for _ in range(MAX_CONNECTIONS):
            held.append(connect(twin))
        time.sleep(0.5)  # every held connection has its thread
        refused(exchange(twin, b"GET /statistics HTTP/1.1\r\nHost: x\r\n\r\n"), 503)
    finally:
        for sock in held:
            sock.close()
    deadline = time.monotonic() + 10
    while True:  # threads end as they see the closes
        try:
            still_answers(twin)
            break
        except urllib.error.HTTPError as err:
            assert err.code == 503 and time.monotonic() < deadline


def test_keep_alive_serves_pipelined_requests_in_order(twin: RunningTwin) -> None:
    with connect(twin) as sock:
        sock.sendall(b"".join(f"GET /statistics/p{i} HTTP/1.1\r\nHost: x\r\n\r\n".encode() for i in range(5)))
        buffer = bytearray()
        slugs = [read_reply(sock, buffer).json()["slug"] for _ in range(5)]  # type: ignore[union-attr]
    assert slugs == [f"p{i}" for i in range(5)]


# Any bytes at all: an answer (never a 5xx) or a clean close, and the twin keeps serving.

PREFIXES = [b"", b"GET / HTTP/1.1\r\n", b"POST /statistics/a/hits HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"]


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(prefix=st.sampled_from(PREFIXES), noise=st.binary(max_size=3000))
def test_random_bytes_get_an_answer_or_a_clean_close(twin: RunningTwin, prefix: bytes, noise: bytes) -> None:
    with connect(twin) as sock:
        sock.sendall(prefix + noise)
        sock.shutdown(socket.SHUT_WR)
        buffer = bytearray()
        while (reply := read_reply(sock, buffer)) is not None:  # pipelined noise may hold several requests
            assert reply.status < 500, (reply.status, reply.body[:200])
            if reply.status >= 400 and reply.body:
                assert "error" in reply.json() or "message" in reply.json()
    still_answers(twin)


# Bad settings and a taken port: one line, a non-zero exit, no traceback.


def run_twin(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    full = {
        **{k: v for k, v in __import__("os").environ.items() if k not in ("PORT", "HOST")},
        "PYTHONUNBUFFERED": "1",
        **env,
    }
    return subprocess.run(
        [sys.executable, "-m", "twin"], cwd=ROOT, env=full, capture_output=True, text=True, timeout=120
    )


@pytest.mark.parametrize(
    "env",
    [
        {"PORT": "abc"},
        {"PORT": "99999"},
        {"PORT": "-1"},
        {"HITSTREAM_FAULT_RATE": "x"},
        {"HITSTREAM_FAULT_RATE": "nan"},
        {"HITSTREAM_REDELIVERY_RATE": "2"},
        {"HITSTREAM_SHARDS": "x"},
        {"HITSTREAM_SHARDS": "0"},
        {"HITSTREAM_READ_TIMEOUT": "soon"},
        {"TWIN_LOG_LEVEL": "loud"},
        {"SITES": "http://bad/"},
    ],
    ids=lambda env: "-".join(f"{k}={v}" for k, v in env.items()),
)
def test_a_bad_setting_ends_the_twin_with_one_line(env: dict[str, str]) -> None:
    result = run_twin(env)
    output = (result.stdout + result.stderr).strip()
    assert result.returncode != 0
    assert "Traceback" not in output and len(output.splitlines()) == 1, output
    assert next(iter(env)) in output


def test_a_taken_port_ends_the_twin_with_one_line() -> None:
    with socket.create_server(("127.0.0.1", 0)) as taken:
        port = taken.getsockname()[1]
        result = run_twin({"HOST": "127.0.0.1", "PORT": str(port)})
    output = (result.stdout + result.stderr).strip()
    assert result.returncode != 0
    assert output == f"cannot listen on 127.0.0.1:{port}: Address already in use (set HOST or PORT)"
