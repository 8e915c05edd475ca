"""Schemathesis against the OpenAPI document the running twin serves at GET /openapi.json.

Every operation is fuzzed with schema-conforming and schema-violating inputs over real HTTP. The invariants:
no 5xx ever, every 4xx is JSON {"error": <str>}, and each response matches what the document declares
(status code, content type, body schema). Bounded with max_examples so the whole module takes about a minute.
"""

from __future__ import annotations

import json

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.generation import GenerationMode
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    response_schema_conformance,
    status_code_conformance,
)

from tests.conftest import RunningTwin

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("fuzz")]

EXAMPLES = {GenerationMode.POSITIVE: 60, GenerationMode.NEGATIVE: 60}
CHECKS = [status_code_conformance, content_type_conformance, response_schema_conformance, negative_data_rejection]


@pytest.fixture(scope="module")
def served(module_running_twin: RunningTwin) -> RunningTwin:
    return module_running_twin


@pytest.fixture(scope="module")
def schema(served: RunningTwin) -> schemathesis.BaseSchema:
    return schemathesis.openapi.from_url(served.url + "/openapi.json")


def assert_error_contract(response: schemathesis.Response) -> None:
    assert response.status_code < 500, f"{response.status_code} for {response.request.method} {response.request.url}"
    if 400 <= response.status_code < 500:
        content_type = response.headers.get("content-type", [""])[0]
        assert content_type.startswith("application/json"), response.headers
        body = json.loads(response.content)
        assert isinstance(body, dict) and isinstance(body.get("error"), str) and body["error"], body


def operations(schema: schemathesis.BaseSchema) -> list[schemathesis.APIOperation]:
    return [result.ok() for result in schema.get_all_operations()]


def test_document_describes_every_route(served: RunningTwin) -> None:
    document = requests.get(served.url + "/openapi.json", timeout=10).json()
    paths = {(method.upper(), path) for path, ops in document["paths"].items() for method in ops}
    assert paths == {
        ("POST", "/statistics/{slug}/hits"),
        ("POST", "/statistics/{slug}/likes"),
        ("GET", "/statistics"),
        ("GET", "/statistics/{slug}"),
        ("GET", "/sites"),
        ("GET", "/"),
        ("GET", "/beacon.js"),
        ("GET", "/openapi.json"),
    }


@pytest.mark.parametrize("mode", list(EXAMPLES), ids=str)
def test_fuzz_every_operation(served: RunningTwin, schema: schemathesis.BaseSchema, mode: GenerationMode) -> None:
    session = requests.Session()
    failures: list[str] = []
    for operation in operations(schema):
        if mode is GenerationMode.NEGATIVE and not operation.path_parameters and not operation.query:
            continue  # nothing to violate but the body, which every POST route accepts as optional text

        @settings(
            max_examples=EXAMPLES[mode],
            deadline=None,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
        @given(case=operation.as_strategy(generation_mode=mode))
        def fuzz(case: schemathesis.Case) -> None:
            response = case.call(base_url=served.url, session=session, timeout=10)
            assert_error_contract(response)
            case.validate_response(response, checks=CHECKS)

        try:
            fuzz()
        except Exception as exc:  # noqa: BLE001 - gather every operation's failure into one report
            failures.append(f"{operation.method.upper()} {operation.path}: {exc}")
    assert not failures, "\n\n".join(failures)
