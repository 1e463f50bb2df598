"""The admin API against its own OpenAPI document, as served.

schemathesis generates requests from the served document (valid ones and, where it can,
invalid ones) and checks every answer: no 5xx, only documented status codes and content
types, bodies matching their schemas, invalid data refused. A bounded number of examples
per operation keeps it to a few seconds.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from dataclasses import replace
from typing import Any

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, given, settings
from openapi_spec_validator import validate
from schemathesis.specs.openapi.checks import positive_data_acceptance

from simulator.server.openapi import DOCUMENT
from simulator.store.base import JournalEntry
from tests.support.server import ServerThread, start_server

TOKEN = "conformance-token"
# Valid JSON that the server may still refuse with 400 for what a schema cannot say: an
# instant outside the clock's range or not a real date, a YAML text that is not a scenario,
# a shipped name that does not exist, a journal instant like 2025-02-30.
SEMANTIC_REFUSALS = {
    "PUT /__admin/clock",
    "POST /__admin/clock/advance",
    "PUT /__admin/scenario",
    "GET /__admin/journal",
    "POST /__admin/keystores",  # a NIHII's check digits, a kind the population lacks
    # The QA workbench: ids that do not exist, unknown flags or situations, a YAML text that
    # is not a scenario, a suite name that is not shipped.
    "GET /__admin/journal/{id}",
    "GET /__admin/journal/{id}/decoded",
    "GET /__admin/journal/stream",
    "GET /__admin/population/find",
    "GET /__admin/population/{identifier}",
    "POST /__admin/scenario/check",
    "POST /__admin/conformance/runs",
    "POST /__admin/conformance/evaluations",
    "GET /__admin/conformance/runs/{id}",
    "GET /__admin/conformance/reports/{id}",
    "GET /__admin/conformance/reports/{id}/html",
    "GET /__admin/ui/{name}",
}
# The event stream ends after `seconds`: 0 here, so that each example answers at once.
STREAMS = {"GET /__admin/journal/stream"}


@pytest.fixture(scope="module")
def exposed_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerThread]:
    """A real server whose settings say it is bound beyond loopback (so the token is on),
    while its socket stays on 127.0.0.1 for the test."""
    server = start_server(tmp_path_factory.mktemp("openapi"), patients=60, providers=20)
    assert server.sim is not None
    server.sim.settings = replace(server.sim.settings, host="0.0.0.0", admin_token=TOKEN)
    yield server
    server.stop()


@pytest.fixture(scope="module")
def served_document(exposed_server: ServerThread) -> dict[str, Any]:
    response = requests.get(
        exposed_server.base_url + "/__admin/openapi.json",
        headers={"Authorization": f"Bearer {TOKEN}"},
        timeout=10,
    )
    assert response.status_code == 200
    document: dict[str, Any] = response.json()
    return document


def _operations() -> list[Any]:
    return [result.ok() for result in schemathesis.openapi.from_dict(DOCUMENT).get_all_operations()]


# Each operation is driven through its hypothesis strategy directly, rather than through
# schemathesis' pytest plugin, whose hooks follow pytest's private API (broken by pytest 9.2).
@pytest.mark.parametrize("label", [operation.label for operation in _operations()])
def test_the_server_answers_as_its_document_says(
    label: str, served_document: dict[str, Any], exposed_server: ServerThread
) -> None:
    schema = schemathesis.openapi.from_dict(served_document)
    schema.config.update(base_url=exposed_server.base_url)
    (operation,) = [
        result.ok() for result in schema.get_all_operations() if result.ok().label == label
    ]
    excluded = [positive_data_acceptance] if label in SEMANTIC_REFUSALS else []

    @given(case=operation.as_strategy())
    @settings(
        max_examples=25,
        deadline=None,
        suppress_health_check=list(HealthCheck),
        derandomize=True,
        database=None,
    )
    def answers_as_documented(case: Any) -> None:
        if label in STREAMS:
            case.query = {**(case.query or {}), "seconds": 0}
        case.call_and_validate(
            base_url=exposed_server.base_url,
            headers={"Authorization": f"Bearer {TOKEN}"},
            excluded_checks=excluded,
            timeout=10,
        )

    answers_as_documented()


def test_the_document_is_valid_openapi(served_document: dict[str, Any]) -> None:
    validate(served_document)
    assert served_document == DOCUMENT


def test_every_route_is_documented(exposed_server: ServerThread) -> None:
    assert exposed_server.sim is not None
    from aiohttp import web

    from simulator.server.app import create_app

    app: web.Application = create_app(exposed_server.sim)
    app.on_cleanup.clear()
    routes = {
        (route.method.lower(), route.resource.canonical)
        for route in app.router.routes()
        if route.resource is not None
        and route.resource.canonical.startswith(("/__admin", "/metrics"))
        and route.method not in ("HEAD", "*")  # "*" answers 405 for the other methods
    }
    documented = {(method, path) for path, item in DOCUMENT["paths"].items() for method in item}
    assert routes == documented


def test_journal_entries_are_documented_field_for_field() -> None:
    schema = DOCUMENT["components"]["schemas"]["JournalEntry"]
    fields = {f.name for f in dataclasses.fields(JournalEntry)}
    assert set(schema["properties"]) == fields
    assert set(schema["required"]) == fields
