"""eAttest codes of the seeds from their real causes, over HTTP with the package client.

No scenario forces anything here: each refusal comes from the patient, the date or what the
insurer already accepted (its ledger of attested and billed services). NOCRPR/238,
ERR3PAY/196, 502255/190, 504949/167, 500742/120, and the distinct contact that is not a
duplicate: a second GP's contact the same day, or one the author declares (NIHDI-CLAIM-EXEMPTION
01, R50 Z23).
"""

from __future__ import annotations

import dataclasses
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

from simulator.client import eattest as client_eattest
from simulator.client.eattest import AttestationReply, PatientRef
from simulator.codecs.eattest import ServiceLine
from simulator.domain.eattest import OA_ALIASES
from simulator.domain.ledger_rules import Channel, LedgerService, constraints
from simulator.domain.population import Patient, Provider
from tests.e2e.conftest import Running
from tests.support.patients import FreshPatients

CONSULTATION = "101032"
HOME_VISIT = "103132"
DISTINCT_CONTACT = constraints().distinct_contact  # "01"
_fresh = FreshPatients(without_dmg=False)


def _today(running: Running) -> date:
    return running.sim.clock.today()


def _patient(running: Running) -> Patient:
    """A different plain patient for each test: none shares a consultation with another."""
    return _fresh.next_for(running.population, _today(running))


def _line(running: Running, code: str = CONSULTATION, **changes: object) -> ServiceLine:
    line = ServiceLine(code=code, day=_today(running), amount=Decimal("30.00"))
    return dataclasses.replace(line, **changes)  # type: ignore[arg-type]


async def _send(
    running: Running,
    patient: Patient | PatientRef,
    *lines: ServiceLine,
    keystore: Path | None = None,
) -> AttestationReply:
    async with running.client(keystore) as client:
        return await client_eattest.send_attestation(
            client, patient, list(lines) or [_line(running)]
        )


def _refused(reply: AttestationReply, code: str, path_end: str) -> None:
    result = reply.result
    assert (result.complete, result.invoicing_number, result.codes) == (False, None, (code,))
    assert (result.errors[0].url or "").endswith(path_end)


def _colleague(running: Running) -> tuple[Provider, Path]:
    colleague = next(
        p
        for p in running.population.providers_of_kind("GP")
        if p.nihii[:8] != running.provider.nihii[:8]
    )
    return colleague, running.keystore_for(colleague, "colleague")


# -- the codes of the seeds ---------------------------------------------------------------------


async def test_nocrpr_238_a_service_of_yesterday(running: Running) -> None:
    yesterday = _today(running) - timedelta(days=1)
    reply = await _send(running, _patient(running), _line(running, day=yesterday))
    _refused(reply, "238", "transaction[cga]/date")
    assert OA_ALIASES["238"] == "NOCRPR"


async def test_err3pay_196_a_bim_patient_at_the_surgery(running: Running) -> None:
    patient = running.population.situation("bim-dmg")
    assert patient.third_party_payment_mandatory
    _refused(await _send(running, patient), "196", "folder/patient/id")
    assert OA_ALIASES["196"] == "ERR3PAY"


async def test_504949_167_a_dmg_holder_who_is_not_the_patients(running: Running) -> None:
    patient = running.population.situation("senior")  # DMG held by a GP of the population
    holder = patient.dmg_holder
    assert holder is not None
    other = next(
        p.nihii for p in running.population.providers_of_kind("GP") if p.nihii[:8] != holder[:8]
    )
    reply = await _send(running, patient, _line(running, gmd_manager=other))
    _refused(reply, "167", "item[gmdmanager]/content/hcparty/id")
    assert OA_ALIASES["167"] == "504949"
    # Naming the real holder (the G notion) is accepted.
    assert (await _send(running, patient, _line(running, gmd_manager=holder))).result.complete


async def test_500742_120_a_niss_the_insurer_does_not_know(running: Running) -> None:
    stranger = PatientRef(running.population.unknown_ssin(11), "Inconnu", "Patient", "female")
    _refused(await _send(running, stranger), "120", "folder/patient/id")
    assert OA_ALIASES["120"] == "500742"


# -- 502255 / 190: what the insurer remembers ---------------------------------------------------


async def test_502255_190_the_same_consultation_twice(running: Running) -> None:
    patient = _patient(running)
    first = await _send(running, patient)
    assert first.result.complete
    (held,) = running.sim.ledger.find(patient.ssin)
    assert (held.code, held.channel, held.source) == (
        CONSULTATION,
        Channel.EATTEST,
        first.result.invoicing_number,
    )
    _refused(await _send(running, patient), "190", "item[claim]/quantity/decimal")
    assert OA_ALIASES["190"] == "502255"


async def test_502255_190_twice_in_one_attestation(running: Running) -> None:
    patient = _patient(running)
    reply = await _send(running, patient, _line(running), _line(running))
    _refused(reply, "190", "item[claim]/quantity/decimal")
    assert running.sim.ledger.find(patient.ssin) == []  # a refusal leaves nothing behind


async def test_502255_190_a_consultation_already_billed_by_efact(running: Running) -> None:
    patient = _patient(running)
    # The GP billed today's consultation in third-party payment: eFact put it in the ledger.
    billed = LedgerService(
        patient.insurer,
        patient.ssin,
        "0" + CONSULTATION,
        _today(running),
        running.provider.nihii,
        Channel.EFACT,
        "efact-file-7/invoice-1",
    )
    running.sim.ledger.record([billed])
    _refused(await _send(running, patient), "190", "item[claim]/quantity/decimal")


async def test_a_cancelled_attestation_leaves_the_ledger(running: Running) -> None:
    patient = _patient(running)
    number = (await _send(running, patient)).result.invoicing_number or ""
    async with running.client() as client:
        cancelled = await client_eattest.cancel_attestation(client, patient, number, "D")
    assert cancelled.result.complete
    assert running.sim.ledger.find(patient.ssin) == []
    assert (await _send(running, patient)).result.complete


# -- distinct contacts are not duplicates -------------------------------------------------------


async def test_a_second_gps_contact_the_same_day_is_accepted(running: Running) -> None:
    patient = _patient(running)
    assert (await _send(running, patient)).result.complete
    colleague, keystore = _colleague(running)
    second = await _send(running, patient, keystore=keystore)
    assert second.result.complete, second.result.errors
    providers = {s.person for s in running.sim.ledger.find(patient.ssin)}
    assert providers == {running.provider.nihii[:8], colleague.nihii[:8]}


async def test_a_contact_the_gp_declares_distinct_is_accepted(running: Running) -> None:
    patient = _patient(running)
    assert (await _send(running, patient)).result.complete
    again = await _send(running, patient, _line(running, exemption=DISTINCT_CONTACT))
    assert again.result.complete, again.result.errors
    assert [s.distinct for s in running.sim.ledger.find(patient.ssin)] == [False, True]
    # "00" declares nothing: a third one is a duplicate; an unknown value is refused as such.
    plain = await _send(running, patient, _line(running, exemption="00"))
    _refused(plain, "190", "item[claim]/quantity/decimal")
    wrong = await _send(running, _patient(running), _line(running, exemption="7"))
    _refused(wrong, "130", "cd[NIHDI-CLAIM-EXEMPTION]")


async def test_a_consultation_after_a_home_visit_by_the_same_gp_does_not_cumulate(
    running: Running,
) -> None:
    patient = _patient(running)
    assert (await _send(running, patient, _line(running, HOME_VISIT))).result.complete
    reply = await _send(running, patient)
    _refused(reply, "192", "item[encounterdatetime]/content/date")
    declared = await _send(running, patient, _line(running, exemption=DISTINCT_CONTACT))
    assert declared.result.complete
