"""With `--xsd-dir` on the official bundle: what goes over the wire, both ways, is schema-valid."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from pathlib import Path

import pytest
from lxml import etree

from simulator.soap.envelope import read_envelope
from simulator.soap.parser import parse_xml
from simulator.soap.validation import OfficialSchemas
from simulator.store.base import JournalQuery
from tests.e2e.conftest import Running
from tests.support.server import start_server

pytestmark = pytest.mark.interop
TARIFICATION_NS = "urn:be:fgov:ehealth:mycarenet:tarification:protocol:v1"


@pytest.fixture(scope="module")
def official(
    tmp_path_factory: pytest.TempPathFactory, shared_reference: Path
) -> Iterator[tuple[Running, OfficialSchemas]]:
    xsd_dir = shared_reference / "xsd"
    server = start_server(tmp_path_factory.mktemp("official"), xsd_dir=xsd_dir)
    assert server.sim is not None
    gp = next(p for p in server.sim.population.providers if p.kind == "GP")
    run = Running(server, Path(), gp)
    run.keystore = run.keystore_for(gp, "gp")
    yield run, OfficialSchemas(xsd_dir)
    server.stop()


def _inner(payload: etree._Element) -> etree._Element:
    detail = next(e for e in payload.iter() if etree.QName(e).localname == "Detail")
    return parse_xml(base64.b64decode(detail.text or ""))


def _assert_valid(schemas: OfficialSchemas, element: etree._Element) -> None:
    assert schemas.knows(element), etree.QName(element).localname
    violation = schemas.validate(element)
    assert violation is None, violation.describe()


async def test_requests_and_answers_validate_against_the_official_xsds(
    official: tuple[Running, OfficialSchemas],
) -> None:
    running, schemas = official
    today = running.sim.clock.today()
    insured = next(
        p
        for p in running.population.patients
        if p.period_on(today) and not p.medical_house and p.death_date is None
    )
    async with running.client() as client:
        accepted = await client.tarification(insured.ssin, ["101032"], today)
        rejected = await client.tarification(running.population.unknown_ssin(), ["101032"], today)
    assert accepted.complete and len(accepted.lines) == 1, accepted.errors
    assert [e.code for e in rejected.errors] == ["120"]
    entries = running.sim.store.journal(JournalQuery(service="etar"))
    assert len(entries) == 2
    for entry in entries:
        for raw in (entry.request, entry.response):
            payload = read_envelope(parse_xml(raw.encode())).payload
            assert etree.QName(payload).namespace == TARIFICATION_NS
            _assert_valid(schemas, payload)
            _assert_valid(schemas, _inner(payload))
