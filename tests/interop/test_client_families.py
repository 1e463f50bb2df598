"""Every family of real client software, through every service it calls.

The requests are the project's own builders speaking each family's dialect
(`simulator/client/dialects.py`, after docs/client-quirks.md): SOAPAction quoted, bare or
absent, the STS request as the family writes it (Context, KeyType spelling, Lifetime format,
claims), the WS-Security layout (ids, precision, algorithms, `ds` prefix, STR forms, wrapped
base64), GenAsync addressing and signature coverage. The answer must be one the family can
read: signed answers for the stacks that verify them, a Timestamp-only header for eHI's
library-core, which throws on anything else.

README's table "tested client conventions" lists these cells.
"""

from __future__ import annotations

import io
import itertools
from collections.abc import Awaitable, Callable, Iterator
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import pytest

from simulator.client import ConnectorClient
from simulator.client import eattest as eattest_client
from simulator.client import genasync as genasync_client
from simulator.client import mediprima as mediprima_client
from simulator.client.dialects import (
    DIALECTS,
    EATTEST,
    ETAR,
    GENASYNC,
    MEDIPRIMA,
    MEMBERDATA,
    STS,
    Dialect,
)
from simulator.codecs.eattest import ServiceLine
from simulator.domain.mediprima import SUCCESS
from simulator.domain.population import Patient
from simulator.efact.generator import Spec, generate
from simulator.efact.parser import parse
from tests.e2e.conftest import PASSWORD, Running
from tests.support.server import start_server

CONSULTATION = "101032"
_sending_numbers = itertools.count(500)
_patients = itertools.count()


@pytest.fixture(scope="module")
def running(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Running]:
    from simulator.security.pki import write_keystore

    server = start_server(tmp_path_factory.mktemp("families"))
    sim = server.sim
    assert sim is not None
    gp = next(p for p in sim.population.providers if p.kind == "GP")
    identity = sim.pki.issue_provider(gp.nihii, gp.ssin, f"{gp.first_name} {gp.last_name}", "rsa")
    keystore = sim.settings.data_dir / "gp.p12"
    write_keystore(keystore, identity, PASSWORD)
    yield Running(server, keystore, gp)
    server.stop()


def _plain_patient(running: Running) -> Patient:
    """An insured adult with nothing in the way (no BIM, DMG, medical house, decision); a
    different one per call so that no two cells share a consultation."""
    today = running.sim.clock.today()
    plain = (
        p
        for p in running.population.patients
        if p.situation == "random"
        and p.period_on(today) is not None
        and p.death_date is None
        and 25 <= p.age_on(today) < 75
        and not (p.bim or p.medical_house or p.mediprima or p.chronic)
        and p.dmg_holder is None
    )
    return list(itertools.islice(plain, 100))[next(_patients)]


async def _sts(client: ConnectorClient, running: Running) -> None:
    assertion = await client.token()
    assert assertion.get("AssertionID")
    values = {
        v.text for v in assertion.iter("{urn:oasis:names:tc:SAML:1.0:assertion}AttributeValue")
    }
    assert running.provider.ssin in values


async def _etar(client: ConnectorClient, running: Running) -> None:
    patient = _plain_patient(running)
    result = await client.tarification(patient.ssin, [CONSULTATION], running.sim.clock.today())
    assert result.complete and result.errors == (), result.errors
    assert result.lines[0].fee == Decimal("30.00")


async def _memberdata(client: ConnectorClient, running: Running) -> None:
    patient = _plain_patient(running)
    today = running.sim.clock.today()
    result = await client.member_data(patient.ssin, today, today + timedelta(days=1))
    assert result.accepted, (result.status, result.detail_codes, result.message)


async def _eattest(client: ConnectorClient, running: Running) -> None:
    patient = _plain_patient(running)
    line = ServiceLine(code=CONSULTATION, day=running.sim.clock.today(), amount=Decimal("30.00"))
    reply = await eattest_client.send_attestation(client, patient, [line])
    assert reply.result.complete and reply.result.codes == (), reply.result.codes
    assert reply.result.invoicing_number


async def _mediprima(client: ConnectorClient, running: Running) -> None:
    patient = next(p for p in running.population.patients if p.situation == "mediprima-full")
    today = running.sim.clock.today()
    result = await mediprima_client.consult(client, patient.ssin, reference_date=today)
    assert result.status == SUCCESS, (result.status, result.reason_codes)
    assert result.carmeds


async def _genasync(client: ConnectorClient, running: Running) -> None:
    out = io.BytesIO()
    spec = Spec(
        invoices=3,
        error_rate=0.0,
        seed=7,
        today=running.sim.clock.today(),
        sending_number=next(_sending_numbers),
    )
    generate(out, running.population, spec)
    content = out.getvalue()
    running.sim.clock.advance(timedelta(days=1))  # one file a day per third party
    tack = await genasync_client.post(
        client,
        "hcpfac",
        content,
        message_name="HCPFAC",
        destination_io="300",
        input_reference=parse(content)[0].zone200("204"),
    )
    assert tack.success, (tack.result_minor, tack.result_message)
    found = await genasync_client.get(client, "hcpfac", max_messages=10, max_tacks=10)
    assert tack.reference in {t.tack.reference for t in found.tacks}


CALLS: dict[str, Callable[[ConnectorClient, Running], Awaitable[None]]] = {
    STS: _sts,
    ETAR: _etar,
    MEMBERDATA: _memberdata,
    EATTEST: _eattest,
    MEDIPRIMA: _mediprima,
    GENASYNC: _genasync,
}
CELLS = [(dialect, service) for dialect in DIALECTS for service in sorted(dialect.services)]


@pytest.mark.parametrize(("dialect", "service"), CELLS, ids=[f"{d.name}-{s}" for d, s in CELLS])
async def test_each_client_family_gets_through_each_service_it_calls(
    running: Running, dialect: Dialect, service: str
) -> None:
    client = ConnectorClient(
        running.server.base_url,
        running.keystore,
        PASSWORD,
        ca_cert=running.sim.pki.ca_cert_path,
        now=running.sim.clock.now,
        dialect=dialect,
    )
    async with client:
        await CALLS[service](client, running)


def test_the_project_client_speaks_the_connector_dialect_by_default(running: Running) -> None:
    client = ConnectorClient(
        running.server.base_url, running.keystore, PASSWORD, ca_cert=running.sim.pki.ca_cert_path
    )
    assert client.dialect.tag == "CONN"


def test_readme_table_of_tested_client_conventions_lists_exactly_these_cells() -> None:
    """README's "Tested client conventions" table: a ✓ for each cell tested above, a — for
    each service the family's code base does not call."""
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")
    section = readme.split("## Tested client conventions", 1)[1].split("\n## ", 1)[0]
    rows = [line for line in section.splitlines() if line.startswith("| ") and "---" not in line]
    header = [cell.strip() for cell in rows[0].strip("|").split("|")]
    columns = {"STS": STS, "eTar": ETAR, "MemberData": MEMBERDATA, "eAttest v3": EATTEST,
               "MediPrima": MEDIPRIMA, "GenAsync (eFact)": GENASYNC}  # fmt: skip
    assert header[1:] == list(columns)
    tabled = set()
    for row in rows[1:]:
        cells = [cell.strip() for cell in row.strip("|").split("|")]
        name = cells[0].split()[0].strip("`")
        for title, mark in zip(header[1:], cells[1:], strict=True):
            assert mark in ("✓", "—"), row
            if mark == "✓":
                tabled.add((name, columns[title]))
    assert tabled == {(d.name, s) for d, s in CELLS}
