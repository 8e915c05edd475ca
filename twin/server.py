"""The twin's HTTP front: each request becomes an API Gateway HTTP API (payload v2) event for a handler.

HTTP/1.1 is parsed by h11 (framing, chunked bodies, Content-Length checks); this module does the I/O, with the
limits and timeouts that keep one client from stalling the others:

* one thread per connection (at most `MAX_CONNECTIONS`), so a slow or idle client holds only its own thread;
* a request must arrive whole within `read_timeout` of the connection being ready for it (slowloris gets
  408), and an idle keep-alive connection is closed after `read_timeout`;
* malformed HTTP gets a 4xx with a JSON `{"error": ...}` body, then the connection is closed gracefully
  (the rest of the request is drained, so the client reads the answer instead of a reset).
"""

from __future__ import annotations

import base64
import contextlib
import datetime as dt
import http
import json
import logging
import re
import socket
import threading
import time
import uuid
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import h11

from twin.backend import Backend

log = logging.getLogger("hitstream.twin")

MAX_REQUEST_LINE = 64 * 1024  # longer: 414
MAX_HEADER_BYTES = 64 * 1024  # the header fields after the request line; more: 431
MAX_BODY_BYTES = 10 * 1024 * 1024  # API Gateway's payload limit; more: 413
MAX_CONNECTIONS = 512  # more at once: 503, so threads stay bounded
MAX_REFUSALS = 32  # connections being answered 503 at once; past that they are closed unanswered
READ_TIMEOUT = 10.0  # seconds for a whole request from its first byte, and for an idle keep-alive connection
DRAIN_SECONDS = 2.0  # after a refusal, how long unread request bytes are read and dropped before closing
DRAIN_BYTES = MAX_BODY_BYTES + MAX_REQUEST_LINE + MAX_HEADER_BYTES


def api_event(method: str, target: str, headers: dict[str, str], body: bytes, source_ip: str) -> dict[str, Any]:
    url = urlsplit(target)
    event: dict[str, Any] = {
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": url.path or "/",
        "rawQueryString": url.query,
        "headers": headers,
        "requestContext": {
            "accountId": "123456789012",
            "apiId": "twin",
            "domainName": headers.get("host", "127.0.0.1"),
            "http": {
                "method": method,
                "path": url.path or "/",
                "protocol": "HTTP/1.1",
                "sourceIp": source_ip,
                "userAgent": headers.get("user-agent", ""),
            },
            "requestId": str(uuid.uuid4()),
            "routeKey": "$default",
            "stage": "$default",
            "time": dt.datetime.now(dt.UTC).strftime("%d/%b/%Y:%H:%M:%S +0000"),
            "timeEpoch": int(time.time() * 1000),
        },
        "isBase64Encoded": False,
    }
    if url.query:
        params: dict[str, list[str]] = {}
        for key, value in parse_qsl(url.query, keep_blank_values=True):
            params.setdefault(key, []).append(value)
        event["queryStringParameters"] = {k: ",".join(v) for k, v in params.items()}  # as API Gateway joins them
    cookies = headers.get("cookie")
    if cookies:
        event["cookies"] = [c.strip() for c in cookies.split(";")]
    if body:
        try:
            event["body"] = body.decode("utf-8")
        except UnicodeDecodeError:
            event["body"], event["isBase64Encoded"] = base64.b64encode(body).decode(), True
    return event


def function_for(method: str) -> str:
    """The stack's routes: POSTs go to ingest, everything else to query."""
    return "ingest" if method == "POST" else "query"


class Refusal(Exception):
    """A request the front answers itself with a 4xx, then closes the connection."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


def listen(host: str, port: int) -> socket.socket:
    """The listening socket; an OSError when it cannot be had (port taken, unknown host)."""
    family = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0][0]
    return socket.create_server((host, port), family=family, backlog=128)


class TwinServer:
    """Serves connections on a listening socket until `shutdown()`."""

    def __init__(self, listener: socket.socket, backend: Backend, read_timeout: float = READ_TIMEOUT) -> None:
        self.socket = listener
        self.server_address: tuple[Any, ...] = listener.getsockname()
        self.backend = backend
        self.read_timeout = read_timeout
        self._stopping = threading.Event()
        self._stopped = threading.Event()
        self._slots = threading.BoundedSemaphore(MAX_CONNECTIONS)
        self._refusal_slots = threading.BoundedSemaphore(MAX_REFUSALS)

    def serve_forever(self, poll_interval: float = 0.2) -> None:
        self.socket.settimeout(poll_interval)
        try:
            while not self._stopping.is_set():
                try:
                    sock, peer = self.socket.accept()
                except TimeoutError:
                    continue
                except OSError:
                    if self._stopping.is_set():
                        break
                    raise
                if not self._slots.acquire(blocking=False):
                    if self._refusal_slots.acquire(blocking=False):
                        threading.Thread(target=self._refuse_busy, args=(sock,), daemon=True).start()
                    else:  # a flood: no thread for it
                        sock.close()
                    continue
                threading.Thread(target=self._connection, args=(sock, peer), daemon=True).start()
        finally:
            self._stopped.set()

    def shutdown(self) -> None:
        self._stopping.set()
        self._stopped.wait()

    def server_close(self) -> None:
        self.socket.close()

    def _refuse_busy(self, sock: socket.socket) -> None:
        try:
            sock.settimeout(self.read_timeout)
            _send_refusal(sock, 503, "too many connections")
            _close(sock)
        finally:
            self._refusal_slots.release()

    def _connection(self, sock: socket.socket, peer: tuple[Any, ...]) -> None:
        conn = h11.Connection(h11.SERVER, max_incomplete_event_size=MAX_REQUEST_LINE + MAX_HEADER_BYTES + 1024)
        try:
            while not self._stopping.is_set():
                request = self._read_request(conn, sock)
                if request is None:
                    return
                self._respond(conn, sock, request[0], request[1], str(peer[0]))
                if conn.our_state is not h11.DONE or conn.their_state is not h11.DONE:
                    return
                conn.start_next_cycle()
        except Refusal as refusal:
            log.debug("refused with %d: %s", refusal.status, refusal)
            if conn.our_state in (h11.IDLE, h11.SEND_RESPONSE):
                sock.settimeout(self.read_timeout)
                _send_refusal(sock, refusal.status, str(refusal))
        except OSError:
            pass  # the client went away; nothing to answer
        finally:
            _close(sock)
            self._slots.release()

    def _read_request(self, conn: h11.Connection, sock: socket.socket) -> tuple[h11.Request, bytes] | None:
        """The next request and its whole body, or None when the client closed or idled between requests."""
        deadline = time.monotonic() + self.read_timeout
        started = bool(conn.trailing_data[0])
        request: h11.Request | None = None
        body = bytearray()
        while True:
            try:
                event = conn.next_event()
            except h11.RemoteProtocolError as exc:
                raise _refusal_for(exc) from None
            if event is h11.NEED_DATA:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    if not started:
                        return None
                    raise Refusal(408, f"the request did not arrive within {self.read_timeout:g} s")
                sock.settimeout(remaining)
                try:
                    data = sock.recv(256 * 1024)
                except TimeoutError:
                    if not started:
                        return None
                    raise Refusal(408, f"the request did not arrive within {self.read_timeout:g} s") from None
                started = started or bool(data)
                conn.receive_data(data)
                if request is None:
                    _check_head(conn.trailing_data[0])
            elif isinstance(event, h11.Request):
                request = event
                if event.http_version not in (b"1.0", b"1.1"):  # h11 takes any d.d; API Gateway speaks these
                    raise Refusal(400, f"HTTP/{event.http_version.decode()} is not supported")
                _check_declared_length(event)
                if conn.they_are_waiting_for_100_continue:
                    sock.sendall(conn.send(h11.InformationalResponse(status_code=100, headers=[])) or b"")
            elif isinstance(event, h11.Data):
                body += event.data
                if len(body) > MAX_BODY_BYTES:
                    raise Refusal(413, f"the body is larger than {MAX_BODY_BYTES} bytes")
            elif isinstance(event, h11.EndOfMessage):
                assert request is not None
                return request, bytes(body)
            elif isinstance(event, h11.ConnectionClosed) or event is h11.PAUSED:
                return None

    def _respond(self, conn: h11.Connection, sock: socket.socket, request: h11.Request, body: bytes, ip: str) -> None:
        method = request.method.decode("ascii")
        target = request.target.decode("utf-8", "replace")
        log.debug("%s %s", method, target.split("?")[0])
        headers: dict[str, str] = {}
        for raw_name, raw_value in request.headers:
            name, value = raw_name.decode("ascii"), raw_value.decode("utf-8", "replace")
            headers[name] = f"{headers[name]},{value}" if name in headers else value
        # HEAD reaches the query function as HEAD, as the stack's HEAD routes deliver it; the function answers it
        # as GET and the body is dropped here too (see docs/decisions.md, "The twin's HTTP front").
        event = api_event(method, target, headers, body, ip)
        function = function_for(method)
        try:
            result = self.backend.invoke(function, event)
            status, out_headers, payload = _http_response(result)
        except Exception as exc:  # noqa: BLE001 - a handler bug: API Gateway's answer, no request data logged
            frame = exc.__traceback__
            while frame is not None and frame.tb_next is not None:
                frame = frame.tb_next
            where = f"{frame.tb_frame.f_code.co_filename}:{frame.tb_lineno}" if frame else "?"
            log.error("%s function failed: %s at %s", function, type(exc).__name__, where)
            status, out_headers, payload = (
                500,
                [("content-type", "application/json")],
                b'{"message":"Internal Server Error"}',
            )
        out_headers.append(("content-length", str(len(payload))))
        sock.settimeout(self.read_timeout)  # a client that does not read its answer is dropped, too
        try:
            data = conn.send(h11.Response(status_code=status, headers=out_headers, reason=_reason(status))) or b""
        except h11.LocalProtocolError:
            log.error("%s function returned headers HTTP cannot carry", function)
            data = conn.send(h11.Response(status_code=500, headers=[("content-length", "0")])) or b""
            payload = b""
        if method != "HEAD" and payload:
            data += conn.send(h11.Data(data=payload)) or b""
        data += conn.send(h11.EndOfMessage()) or b""
        sock.sendall(data)


def _http_response(result: dict[str, Any]) -> tuple[int, list[tuple[str, str]], bytes]:
    payload = result.get("body") or ""
    raw = base64.b64decode(payload) if result.get("isBase64Encoded") else payload.encode()
    headers = {k.lower(): str(v) for k, v in (result.get("headers") or {}).items()}
    for key, values in (result.get("multiValueHeaders") or {}).items():
        headers[key.lower()] = ",".join(map(str, values))
    out = [(k, v) for k, v in headers.items() if k not in ("content-length", "connection", "transfer-encoding")]
    out += [("set-cookie", str(c)) for c in result.get("cookies") or []]
    return int(result.get("statusCode", 200)), out, raw


def _reason(status: int) -> bytes:
    try:
        return http.HTTPStatus(status).phrase.encode()
    except ValueError:
        return b""


_HEAD_END = re.compile(rb"\n\r?\n")


def _check_head(buffered: bytes) -> None:
    """414 / 431 for a request head that is too long, as soon as that shows (the head may be incomplete)."""
    line_end = buffered.find(b"\n", 0, MAX_REQUEST_LINE + 2)
    if line_end < 0:
        if len(buffered) > MAX_REQUEST_LINE + 1:
            raise Refusal(414, f"the request line is longer than {MAX_REQUEST_LINE} bytes")
        return
    head_end = _HEAD_END.search(buffered, line_end, line_end + MAX_HEADER_BYTES + 4)
    if head_end is None and len(buffered) - line_end > MAX_HEADER_BYTES:
        raise Refusal(431, f"the header fields are larger than {MAX_HEADER_BYTES} bytes")


def _check_declared_length(request: h11.Request) -> None:
    for name, value in request.headers:
        if name == b"content-length" and int(value) > MAX_BODY_BYTES:  # h11 has checked it is digits
            raise Refusal(413, f"the body is larger than {MAX_BODY_BYTES} bytes")


def _refusal_for(exc: h11.RemoteProtocolError) -> Refusal:
    status = exc.error_status_hint
    if status == 431:  # h11's own bound on a head, past ours
        return Refusal(431, f"the header fields are larger than {MAX_HEADER_BYTES} bytes")
    # A client's input is never a 5xx: h11's 501 (a Transfer-Encoding other than chunked) is a 400 here.
    return Refusal(status if 400 <= status < 500 else 400, f"malformed HTTP request: {exc}")


def _send_refusal(sock: socket.socket, status: int, message: str) -> None:
    body = json.dumps({"error": message}).encode()
    head = (
        f"HTTP/1.1 {status} {_reason(status).decode()}\r\n"
        "content-type: application/json\r\n"
        f"content-length: {len(body)}\r\n"
        "connection: close\r\n\r\n"
    )
    with contextlib.suppress(OSError):
        sock.sendall(head.encode() + body)


def _close(sock: socket.socket) -> None:
    """Close after the client has read what was sent: stop writing, then read and drop what it still sends."""
    try:
        sock.shutdown(socket.SHUT_WR)
        deadline, drained = time.monotonic() + DRAIN_SECONDS, 0
        while drained < DRAIN_BYTES and (remaining := deadline - time.monotonic()) > 0:
            sock.settimeout(remaining)
            chunk = sock.recv(256 * 1024)
            if not chunk:
                break
            drained += len(chunk)
    except OSError:
        pass
    finally:
        sock.close()


class Poller(threading.Thread):
    """Reads the stream and drives the aggregate handler, as the event source mapping would."""

    def __init__(self, backend: Backend, interval: float = 0.2) -> None:
        super().__init__(name="stream-poller", daemon=True)
        self.backend = backend
        self.interval = interval
        self.stopping = threading.Event()

    def run(self) -> None:
        while not self.stopping.is_set():
            try:
                self.backend.settle(force=False)
            except Exception:
                log.exception("stream poller error")
            self.stopping.wait(self.interval)

    def stop(self) -> None:
        self.stopping.set()
        self.join(timeout=5)


def serve(listener: socket.socket, backend: Backend, read_timeout: float = READ_TIMEOUT) -> tuple[TwinServer, Poller]:
    server = TwinServer(listener, backend, read_timeout)
    poller = Poller(backend)
    poller.start()
    return server, poller
