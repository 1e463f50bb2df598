"""The clock moves the world: one server, started on the real date, driven as a vendor would.

The business clock is moved with the admin API (PUT /__admin/clock) across 1 Oct 2017, 1 Sep,
31 Oct and 1 Nov 2025; patients are picked with `world find --url` (the server's own world);
every answer comes from its real cause in the world of that day, no scenario forces anything.
The rules and codes are in docs/rules.md ("World", "MediPrima consultation", "CAAMI
tarification", "eFact to CAAMI 690", "eAttest", "MemberData").
"""

from __future__ import annotations

import asyncio
import io
import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from simulator.cli.main import main as cli_main
from simulator.client import ConnectorClient, mediprima
from simulator.client import eattest as client_eattest
from simulator.client import genasync as ga_client
from simulator.clock import BRUSSELS
from simulator.codecs.eattest import ServiceLine
from simulator.domain.cpas import CareKind, CpasDecision
from simulator.domain.efact_processing import Rules
from simulator.domain.mediprima_invoicing import MEDIPRIMA_FEDERATION, prices
from simulator.domain.memberdata import PATIENT_DATA, PERIOD
from simulator.domain.population import Patient, Provider
from simulator.efact.parser import parse
from simulator.efact.writer import (
    FileHeader,
    Invoice,
    MediprimaBeneficiary,
    Service,
    write_invoice_file,
)
from simulator.runtime import Simulator
from simulator.security.pki import write_keystore
from simulator.services import efact_processing as processing
from tests.e2e.test_efact_flow import _blocks, _settlement
from tests.support.server import ServerThread, start_server

PASSWORD = "test-password"
CONSULTATION = "101032"
FEE = Decimal("30.00")
BOX = "hcpfac_12"  # CAAMI, federation 690


@dataclass
class World:
    server: ServerThread
    keystore: Path
    gp: Provider

    @property
    def sim(self) -> Simulator:
        return self.server.sim

    @property
    def url(self) -> str:
        return self.server.base_url

    def client(self) -> ConnectorClient:
        # A vendor's software dates its business documents on the day it runs: here, the
        # simulator's business day; its signatures keep the real time.
        return ConnectorClient(
            self.url, self.keystore, PASSWORD, ca_cert=self.sim.pki.ca_cert_path,
            now=self.sim.clock.now,
        )  # fmt: skip


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    server = start_server(tmp_path_factory.mktemp("world"), patients=80, providers=12)
    sim = server.sim
    gp = sim.population.providers_of_kind("GP")[0]  # listed on the CPAS decisions' lists
    keystore = sim.settings.data_dir / "gp.p12"
    identity = sim.pki.issue_provider(gp.nihii, gp.ssin, f"{gp.first_name} {gp.last_name}")
    write_keystore(keystore, identity, PASSWORD)
    # Answers due at once; the whole-file threshold lifted so that one file shows every
    # invoice-level and record-level code at once (it is OA-specific, domain-rules 6.1).
    processing.configure(
        sim,
        processing.ProcessingConfig(
            receipt_after=timedelta(0), check_after=timedelta(0), settle_after=timedelta(0),
            rules=Rules(max_error_percent=100.0),
        ),
    )  # fmt: skip
    yield World(server, keystore, gp)
    server.stop()


async def _set_clock(world: World, day: date) -> None:
    """PUT /__admin/clock: 10:00 Brussels time on `day`, frozen."""
    at = datetime(day.year, day.month, day.day, 10, tzinfo=BRUSSELS).isoformat()
    async with (
        aiohttp.ClientSession() as session,
        session.put(f"{world.url}/__admin/clock", json={"at": at, "frozen": True}) as answer,
    ):
        assert answer.status == 200, await answer.text()
        assert (await answer.json())["today"] == day.isoformat()


def _world_cli(capsys: pytest.CaptureFixture[str], *argv: str) -> Any:
    """`mycarenet-sim world ... --url <server> --json`: the server's world, as a tester sees it."""
    code = cli_main(["world", *argv, "--url", _URL[0], "--json"])
    out, err = capsys.readouterr()
    assert code == 0, err
    return json.loads(out)


_URL: list[str] = [""]


def _find(world: World, capsys: pytest.CaptureFixture[str], situation: str) -> str:
    _URL[0] = world.url
    found = _world_cli(capsys, "find", "--situation", situation)
    assert found["date"] == world.sim.clock.today().isoformat()  # the server's business date
    return str(found["patients"][0]["ssin"])


def _patient(world: World, ssin: str) -> Patient:
    patient = world.sim.population.find(ssin)
    assert patient is not None
    return patient


def _decision(world: World, ssin: str) -> CpasDecision:
    (decision,) = _patient(world, ssin).cpas_decisions
    return decision


# -- MediPrima dates ----------------------------------------------------------------------------


async def test_gps_bill_mediprima_from_october_2017_not_before(
    world: World, capsys: pytest.CaptureFixture[str]
) -> None:
    await _set_clock(world, date(2017, 10, 20))
    ssin = _find(world, capsys, "mediprima-full")
    decision = _decision(world, ssin)
    assert decision.start < date(2017, 10, 1)  # the world of 2017: the decision is recent
    async with world.client() as client:
        early = await mediprima.tarification(client, ssin, [CONSULTATION], decision.start)
        later = await mediprima.tarification(client, ssin, [CONSULTATION], date(2017, 10, 2))
    assert [e.code for e in early.errors] == ["205"]  # send the invoice to the CPAS
    assert early.errors[0].description is not None and "01/10/2017" in early.errors[0].description
    assert (later.complete, later.errors) == (True, ())


async def test_the_transition_follows_the_decision_date_and_the_clock(
    world: World, capsys: pytest.CaptureFixture[str]
) -> None:
    # The decision of mediprima-full is taken k days before the business date (k fixed per
    # seed): moving the clock by one day across 1 Sep 2025 + k makes it a new decision.
    await _set_clock(world, date(2025, 10, 1))
    ssin = _find(world, capsys, "mediprima-full")
    shown = _world_cli(capsys, "show", ssin)
    k = (date(2025, 10, 1) - date.fromisoformat(shown["cpas_decisions"][0]["start"])).days
    answers: dict[date, tuple[tuple[str, ...], bool, tuple[str, ...]]] = {}
    for day in (
        date(2025, 8, 31) + timedelta(days=k),  # decision taken on 31 Aug: old path
        date(2025, 9, 1) + timedelta(days=k),  # taken on 1 Sep: registered, transition
        date(2025, 10, 31),  # last day the CPAS may still be billed
        date(2025, 11, 1),  # MediPrima mandatory
    ):
        await _set_clock(world, day)
        assert _decision(world, ssin).start == day - timedelta(days=k)
        async with world.client() as client:
            consulted = await mediprima.consult(client, ssin, reference_date=day)
            priced = await mediprima.tarification(client, ssin, [CONSULTATION], day)
        (carmed,) = consulted.carmeds
        answers[day] = (
            consulted.reason_codes,
            carmed.agreement_number is not None,
            tuple(e.code for e in priced.errors),
        )
    # Found, with an agreement and priced by CAAMI on every day (no 201/205 after the jump);
    # only where else the GP may bill changes.
    assert list(answers.values()) == [
        (("OLD_PATH",), True, ()),
        (("TRANSITION",), True, ()),
        (("TRANSITION",), True, ()),
        ((), True, ()),
    ]


async def test_urgent_aid_is_priced_once_attested(
    world: World, capsys: pytest.CaptureFixture[str]
) -> None:
    day = date(2025, 10, 31)
    await _set_clock(world, day)
    ssin = _find(world, capsys, "mediprima-uma-missing")
    async with world.client() as client:
        refused = await mediprima.tarification(client, ssin, [CONSULTATION], day)
        sent = await mediprima.send_uma(client, ssin, day)
        priced = await mediprima.tarification(client, ssin, [CONSULTATION], day)
        await mediprima.delete_uma(client, ssin, sent.attestations[0].number)
    assert [e.code for e in refused.errors] == ["208"]
    assert (priced.errors, [line.urgent_medical_care for line in priced.lines]) == ((), [True])


# -- eFact to CAAMI (690) -----------------------------------------------------------------------


def _invoice(
    world: World, ssin: str, number: int, day: date, *, provider: Provider | None = None,
    amount_delta: int = 0, cpas_cbe: str | None = None,
) -> Invoice:  # fmt: skip
    """One invoice as a MediPrima client writes it: record 25 from the consultation (decision,
    card, CPAS) and the amounts of CAAMI tarification; an insured patient has neither."""
    patient = _patient(world, ssin)
    doctor = provider or world.gp
    decision = patient.cpas_decisions[0] if patient.cpas_decisions else None
    if decision is not None:
        unit = prices(CONSULTATION, patient, doctor.kind, day, decision)
        amount, share = unit.amount, unit.share
        record25: MediprimaBeneficiary | None = MediprimaBeneficiary(
            decision.carmed_number, decision.version, cpas_cbe or decision.cpas.cbe,
            decision.medical_urgency, decision.uma_attestation or "",
        )  # fmt: skip
    else:
        amount, share, record25 = 3000, 0, None
    service = Service("0" + CONSULTATION, day, ssin, doctor.nihii, amount + amount_delta, share)
    return Invoice(
        niss=ssin, sex="1" if patient.sex == "male" else "2", mutuality=MEDIPRIMA_FEDERATION,
        destination=MEDIPRIMA_FEDERATION, number=number, services=(service,),
        reference=f"MP{number:08d}", mediprima=record25,
    )  # fmt: skip


def _file(world: World, invoices: list[Invoice], sending_number: int) -> bytes:
    today = world.sim.clock.today()
    out = io.BytesIO()
    head = FileHeader(
        reference=f"{today:%Y%m%d}{sending_number:06d}", sending_number=sending_number,
        third_party=world.gp.nihii, created=today, year=today.year, month=today.month,
    )  # fmt: skip
    write_invoice_file(out, head, invoices)
    return out.getvalue()


async def _post_and_collect(world: World, content: bytes) -> dict[str, bytes]:
    """Post to hcpfac_12, then every answer by message type (931000, 920098, 920900)."""
    async with world.client() as client:
        await ga_client.post(
            client, BOX, content, message_name="ECM-HCPFAC", destination_io="690",
            input_reference=parse(content)[0].zone200("204"),
        )  # fmt: skip
        found = await ga_client.get(client, BOX, max_messages=100, max_tacks=100)
        await ga_client.confirm(
            client, BOX, references=[m.detail.reference or "" for m in found.messages],
            tack_contents=[t.tack.content for t in found.tacks],
        )  # fmt: skip
    return {m.detail.content[:6].decode(): m.detail.content for m in found.messages}


async def test_caami_pays_mediprima_invoices_and_refuses_the_others(
    world: World, capsys: pytest.CaptureFixture[str]
) -> None:
    day = date(2025, 11, 1)
    await _set_clock(world, day)
    ssin = {s: _find(world, capsys, s) for s in (
        "mediprima-full", "mediprima-partial", "mediprima-uma", "regular", "mediprima-suspended",
        "mediprima-not-listed", "mediprima-uma-missing", "mediprima-expired",
    )}  # fmt: skip
    not_listed = _decision(world, ssin["mediprima-not-listed"])
    other_gp = next(
        gp for gp in world.sim.population.providers_of_kind("GP")
        if not_listed.allows_provider(CareKind.DOCTOR, gp.nihii)
    )  # fmt: skip
    care = day - timedelta(days=1)
    plan = [  # (invoice, records of the invoice: 20, [25], 50, 80)
        _invoice(world, ssin["mediprima-full"], 1, care),
        _invoice(world, ssin["mediprima-partial"], 2, care),
        _invoice(world, ssin["mediprima-uma"], 3, care),  # the world holds its attestation
        _invoice(world, ssin["regular"], 4, care),  # insured, no decision: not CAAMI's
        _invoice(world, ssin["mediprima-suspended"], 5, care),
        _invoice(world, ssin["mediprima-not-listed"], 6, care),  # billed by the first GP
        _invoice(world, ssin["mediprima-uma-missing"], 7, care),  # no AMU attestation
        _invoice(world, ssin["mediprima-full"], 8, care, amount_delta=100),
        _invoice(world, ssin["mediprima-full"], 9, care, cpas_cbe="0200000097"),
        _invoice(world, ssin["mediprima-expired"], 10, care),
        _invoice(world, ssin["mediprima-not-listed"], 11, care, provider=other_gp),  # listed
    ]
    content = _file(world, plan, sending_number=11)
    answers = await _post_and_collect(world, content)
    assert sorted(answers) == ["920098", "920900", "931000"]
    _, blocks = _blocks(answers["920098"])
    first_record = {}  # invoice number -> index of its record 20
    index = 2
    for invoice in plan:
        first_record[invoice.number] = index
        index += 3 + (invoice.mediprima is not None)
    at = first_record  # record 20 at at[n], 25 at at[n] + 1, 50 after them
    assert blocks == {
        at[4]: [("F", "200820")],  # record 20 zone 8: no CPAS decision in MediPrima
        at[5] + 2: [("R", "500540")],  # record 50 zone 5: decision suspended
        at[6] + 2: [("R", "501540")],  # record 50 zone 15: not on the doctors' list
        at[7] + 2: [("R", "500540")],  # record 50 zone 5: urgent aid without attestation
        at[8] + 2: [("R", "501940")],  # record 50 zone 19: not what CAAMI pays
        at[9] + 1: [("F", "253820")],  # record 25 zone 38: not the decision's CPAS
        at[10] + 2: [("R", "500540")],  # record 50 zone 5: the decision ended
    }
    reference = parse(content)[0].zone200("204")
    (state,) = [
        doc for _, doc in world.sim.records.find(processing.FILES, prefix=f"{BOX}/")
        if doc.get("input_reference") == reference
    ]  # fmt: skip
    paid = {1, 2, 3, 11}  # the services CAAMI pays
    assert state["settlement"]["accepted"] == sum(
        inv.services[0].amount for inv in plan if inv.number in paid
    )
    # MediPrima pays within a few days (S-MEDIPRIMA "moins de quatre jours"), not 14.
    assert state["settlement"]["payment_date"] == (day + timedelta(days=3)).isoformat()
    (mutuality,) = _settlement(answers["920900"])  # one record 91, for 690
    assert mutuality.zone("423")[:8] == f"{day + timedelta(days=3):%Y%m%d}"


async def test_a_mediprima_service_before_october_2017_is_not_paid(
    world: World, capsys: pytest.CaptureFixture[str]
) -> None:
    day = date(2017, 10, 20)
    await _set_clock(world, day)
    ssin = _find(world, capsys, "mediprima-full")
    decision = _decision(world, ssin)
    plan = [_invoice(world, ssin, 1, decision.start), _invoice(world, ssin, 2, date(2017, 10, 2))]
    answers = await _post_and_collect(world, _file(world, plan, sending_number=12))
    _, blocks = _blocks(answers["920098"])
    assert blocks == {4: [("R", "500540")]}  # 10, 20, 25, 50 of the first invoice
    assert answers["920900"][:6] == b"920900"


# -- eligibility: eAttest and MemberData on the world of the day ----------------------------------


async def test_deceased_and_not_insured_are_refused_on_every_day(
    world: World, capsys: pytest.CaptureFixture[str]
) -> None:
    seen: dict[str, list[str]] = {"deceased": [], "not-insured": [], "regular": []}
    for day in (date(2025, 8, 31), date(2025, 11, 1), date(2026, 3, 2)):
        await _set_clock(world, day)
        for situation, codes in seen.items():
            ssin = _find(world, capsys, situation)
            line = ServiceLine(code=CONSULTATION, day=day, amount=FEE)
            async with world.client() as client:
                reply = await client_eattest.send_attestation(client, _patient(world, ssin), [line])
                member = await client.member_data(ssin, day, day + timedelta(days=1))
            codes.append(",".join(reply.result.codes) or "accepted")
            if situation == "deceased":
                (identity,) = member.attributes(PATIENT_DATA)
                died = date.fromisoformat(identity["urn:be:cin:nippin:careReceiver:deceasedDate"])
                assert day - timedelta(days=30) <= died < day  # died a few days before
            if situation == "not-insured":
                assert member.attributes(PERIOD) == []  # the period ended before the day
    # Before the world followed the clock, a server started in 2026 accepted both in 2025.
    assert seen == {
        "deceased": ["120"] * 3,
        "not-insured": ["120"] * 3,
        "regular": ["accepted"] * 3,
    }


def test_the_world_commands_describe_what_the_server_serves(
    world: World, capsys: pytest.CaptureFixture[str]
) -> None:
    asyncio.run(_set_clock(world, date(2025, 9, 15)))
    _URL[0] = world.url
    listing = _world_cli(capsys, "list", "--limit", "0")
    served = world.sim.population
    assert listing["date"] == "2025-09-15"
    assert [p["ssin"] for p in listing["patients"]] == [p.ssin for p in served.patients]
    ssin = _find(world, capsys, "deceased")
    shown = _world_cli(capsys, "show", ssin)
    assert shown["death_date"] == served.find(ssin).death_date.isoformat()  # type: ignore[union-attr]
    code = cli_main(["world", "list", "--url", world.url, "--date", "2025-01-01"])
    assert code == 2 and "drop --date" in capsys.readouterr().err
