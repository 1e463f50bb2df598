"""The decoded view of a journal entry: eFact files as records and zones with each error on
its zone (posted files checked, answers read from their error blocks), blobs, curl."""

from __future__ import annotations

import base64
import io
import zlib
from datetime import date

import pytest

from simulator.domain.population import Population, build_population
from simulator.efact.checks import CheckOptions, check_file
from simulator.efact.generator import InjectedFault, Spec, generate
from simulator.efact.parser import parse
from simulator.efact.writer import write_rejections
from simulator.server.efact_zones import efact_view, looks_like_efact
from simulator.server.journal_views import curl_command, decoded_view
from simulator.store.base import JournalEntry

TODAY = date(2025, 11, 3)


@pytest.fixture(scope="module")
def population() -> Population:
    return build_population(1, 300, 40, TODAY)


@pytest.fixture(scope="module")
def faulty(population: Population) -> tuple[bytes, list[InjectedFault]]:
    out = io.BytesIO()
    spec = Spec(invoices=4, error_rate=1.0, seed=3, today=TODAY, faults=("niss", "nomenclature"))
    injected = generate(out, population, spec)
    return out.getvalue(), injected


def _zone_errors(view: dict[str, object]) -> dict[tuple[str, str], list[str]]:
    """(record index, zone) -> codes, for every error placed on a zone."""
    placed: dict[tuple[str, str], list[str]] = {}
    for record in view["records"]:  # type: ignore[attr-defined]
        for zone in record["zones"]:
            if zone["errors"]:
                placed[(record["index"], zone["zone"])] = [e["code"] for e in zone["errors"]]
    return placed


def test_a_posted_file_is_checked_and_each_error_lands_on_its_zone(
    faulty: tuple[bytes, list[InjectedFault]], population: Population
) -> None:
    content, injected = faulty
    assert looks_like_efact(content)
    view = efact_view(content, TODAY, population)
    assert view["problem"] is None and view["message_type"] == "920000"
    placed = _zone_errors(view)
    for fault in injected:
        zones = [zone for (index, zone), codes in placed.items()
                 if index == str(fault.record_index) and fault.code in codes]  # fmt: skip
        # The code's zone digits name the zone it sits on (8 -> "8a,8b").
        assert len(zones) == 1 and zones[0].split(",")[0].rstrip("ab") == str(
            int(fault.code[2:4])
        ), (fault, placed)
    assert [s["index"] for s in view["segments"]] == ["200", "300"]  # type: ignore[index]


def test_an_answer_shows_the_errors_of_its_error_blocks(
    faulty: tuple[bytes, list[InjectedFault]], population: Population
) -> None:
    content, injected = faulty
    rejections = check_file(content, CheckOptions(today=TODAY, population=population))
    header, records = parse(content)
    out = io.BytesIO()
    write_rejections(out, header, records, rejections, whole_file=False)
    view = efact_view(out.getvalue())  # answers are not checked again: their blocks say it
    assert view["message_type"] == "920098"
    placed = _zone_errors(view)
    for fault in injected:
        assert any(
            index == str(fault.record_index) and fault.code in codes
            for (index, _), codes in placed.items()
        ), (fault, placed)


def _found(content: bytes, population: Population) -> set[tuple[str, str]]:
    """(record index, code) of what the insurer's checks find in a posted file."""
    rejections = check_file(content, CheckOptions(today=TODAY, population=population))
    return {(str(r.index), r.code) for r in rejections if r.index > 0}


def _shown(view: dict[str, object]) -> set[tuple[str, str]]:
    return {(index, code) for (index, _), codes in _zone_errors(view).items() for code in codes}


def test_the_view_shows_what_the_checks_find_and_cuts_long_files(
    population: Population,
) -> None:
    out = io.BytesIO()
    generate(out, population, Spec(invoices=80, error_rate=0.05, seed=5, today=TODAY))
    view = efact_view(out.getvalue(), TODAY, population)
    shown_records = {record["index"] for record in view["records"]}  # type: ignore[attr-defined]
    expected = {(i, c) for i, c in _found(out.getvalue(), population) if i in shown_records}
    assert _shown(view) == expected
    assert len(view["records"]) <= 200 < view["total"]  # type: ignore[operator]


def test_not_an_efact_file() -> None:
    assert not looks_like_efact(b"<xml/>")
    assert "not readable" in str(efact_view(b"920000" + b"x" * 10)["problem"])


def _entry(request: str, response: str = "", **fields: object) -> JournalEntry:
    values: dict[str, object] = {
        "id": 3, "at": "2025-11-03T08:30:00+00:00", "service": "genasync", "operation": "post",
        "path": "/mycarenet-ws/async/generic/hcpfac", "outcome": "ok", "http_status": 200,
        "duration_ms": 1.0, "request": request, "response": response, "soap_action": "urn:post",
    }  # fmt: skip
    return JournalEntry(**{**values, **fields})  # type: ignore[arg-type]


def test_a_deflated_blob_is_inflated_and_read_as_efact(
    faulty: tuple[bytes, list[InjectedFault]], population: Population
) -> None:
    content, injected = faulty
    squeeze = zlib.compressobj(6, zlib.DEFLATED, -15)
    blob = base64.b64encode(squeeze.compress(content) + squeeze.flush()).decode()
    request = (
        '<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Body>'
        f'<post><Detail ContentEncoding="deflate" MessageName="HCPFAC">{blob}</Detail></post>'
        "</s:Body></s:Envelope>"
    )
    view = decoded_view(_entry(request), "http://127.0.0.1:8080", population)
    (decoded,) = view["blobs"]
    assert decoded["message_name"] == "HCPFAC" and decoded["text"].startswith("920000")
    (efact,) = view["efact"]
    assert efact["direction"] == "request"
    assert _shown(efact) == _found(content, population)
    assert {(str(f.record_index), f.code) for f in injected} <= _shown(efact)
    assert "\n  <s:Body>" in view["request_xml"]


def test_curl_says_how_to_send_the_request_again() -> None:
    curl = curl_command(_entry("<x/>"), "http://127.0.0.1:8080/")
    assert curl.splitlines()[0] == (
        "curl -sS -X POST http://127.0.0.1:8080/mycarenet-ws/async/generic/hcpfac "
        "-H 'Content-Type: text/xml; charset=utf-8' -H 'SOAPAction: \"urn:post\"' "
        "--data-binary @- <<'MYCARENET_SIM_REQUEST'"
    )
    assert curl.splitlines()[1:] == ["<x/>", "MYCARENET_SIM_REQUEST"]
    assert curl_command(_entry(""), "http://h") == ""
