"""The twin's HTTP front: each request becomes an API Gateway HTTP API (payload v2) event for a handler."""

from __future__ import annotations

import base64
import datetime as dt
import logging
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from twin.backend import Backend

log = logging.getLogger("hitstream.twin")
MAX_REQUEST_BYTES = 10 * 1024 * 1024  # API Gateway's payload limit


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


class TwinServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, address: tuple[str, int], backend: Backend) -> None:
        super().__init__(address, RequestHandler)
        self.backend = backend


class RequestHandler(BaseHTTPRequestHandler):
    server: TwinServer
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - no client address in logs
        log.debug("%s %s", self.command, self.path.split("?")[0])

    def _handle(self) -> None:
        length = int(self.headers.get("content-length") or 0)
        if length > MAX_REQUEST_BYTES:
            self._send(413, {"content-type": "application/json"}, b'{"error": "request too large"}')
            self.close_connection = True
            return
        body = self.rfile.read(length) if length else b""
        headers: dict[str, str] = {}
        for key, value in self.headers.items():
            key = key.lower()
            headers[key] = f"{headers[key]},{value}" if key in headers else value
        event = api_event(self.command, self.path, headers, body, self.client_address[0])
        result = self.server.backend.invoke(function_for(self.command), event)
        payload = result.get("body") or ""
        raw = base64.b64decode(payload) if result.get("isBase64Encoded") else payload.encode()
        out_headers = {k.lower(): v for k, v in (result.get("headers") or {}).items()}
        for key, values in (result.get("multiValueHeaders") or {}).items():
            out_headers[key.lower()] = ",".join(values)
        self._send(int(result.get("statusCode", 200)), out_headers, raw, result.get("cookies") or [])

    def _send(self, status: int, headers: dict[str, str], body: bytes, cookies: list[str] | None = None) -> None:
        self.send_response(status)
        for key, value in headers.items():
            if key not in ("content-length", "connection"):
                self.send_header(key, value)
        for cookie in cookies or []:
            self.send_header("set-cookie", cookie)
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    do_GET = do_POST = do_OPTIONS = do_PUT = do_DELETE = do_PATCH = do_HEAD = _handle


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
                self.backend.settle()
            except Exception:
                log.exception("stream poller error")
            self.stopping.wait(self.interval)

    def stop(self) -> None:
        self.stopping.set()
        self.join(timeout=5)


def serve(host: str, port: int, backend: Backend) -> tuple[TwinServer, Poller]:
    server = TwinServer((host, port), backend)
    poller = Poller(backend)
    poller.start()
    return server, poller
