"""HEAD on every GET route, as the stack routes it (API Gateway answers HEAD only from HEAD routes): the query
function answers it as GET, and HTTP (API Gateway, the twin's front) sends the headers without the body."""

from __future__ import annotations

from tests.builders import api_event
from tests.conftest import Twin


def head(twin: Twin, path: str) -> dict:
    return twin.backend.invoke("query", api_event("HEAD", path, content_type=None))


def test_head_answers_as_get_without_a_body(twin: Twin) -> None:
    for path in ("/", "/beacon.js", "/openapi.json", "/statistics", "/statistics/a", "/sites"):
        got = twin.backend.invoke("query", api_event("GET", path, content_type=None))
        answered = head(twin, path)
        assert answered["statusCode"] == got["statusCode"] == 200, path
        assert answered["body"] == got["body"]  # the HTTP layer sends the headers (Content-Length too), no body
        assert answered.get("headers", {}).get("Content-Type") == got.get("headers", {}).get("Content-Type")


def test_head_of_a_bad_request_is_the_same_4xx(twin: Twin) -> None:
    assert head(twin, "/statistics?top=0")["statusCode"] == 400
    assert head(twin, "/nowhere")["statusCode"] == 404
