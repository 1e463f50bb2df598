"""The insurer's ledger across channels over HTTP (docs/rules.md "eFact"): a consultation
attested by eAttest is refused when billed again by eFact (R502255 on its record 50), and one
billed by an accepted eFact file is refused by eAttest (190, alias 502255) — no scenario, the
package clients, the simulator's business clock."""

from __future__ import annotations

from decimal import Decimal

from simulator.client import eattest as client_eattest
from simulator.codecs.eattest import ServiceLine
from simulator.domain.population import Patient
from tests.e2e.conftest import Running
from tests.e2e.test_efact_flow import _blocks, _flow, _fresh_day, _types, run
from tests.efact.test_real_causes import file_of, invoice, priced

_used: set[str] = set()


def _patient(running: Running) -> Patient:
    """A plain insured patient no other test of this module billed."""
    today = running.sim.clock.today()
    for patient in running.population.patients:
        if (
            patient.situation == "random" and patient.ssin not in _used
            and patient.period_on(today) is not None and patient.death_date is None
            and not patient.bim and not patient.medical_house and not patient.mediprima
        ):  # fmt: skip
            _used.add(patient.ssin)
            return patient
    raise AssertionError("no plain patient left")


async def _attest(running: Running, patient: Patient) -> client_eattest.AttestationReply:
    line = ServiceLine(code="101032", day=running.sim.clock.today(), amount=Decimal("30.00"))
    async with running.client(now=running.sim.clock.now) as client:  # the business date
        return await client_eattest.send_attestation(client, patient, [line])


def test_attested_by_eattest_then_billed_by_efact_is_r502255(running: Running) -> None:
    _fresh_day(running)
    patient, doctor = _patient(running), running.provider
    reply = run(_attest(running, patient))
    assert reply.result.complete, reply.result.codes
    consultation = priced(patient, doctor, "101032", running.sim.clock.today())
    steps = run(_flow(running, file_of(running.sim, doctor.nihii, invoice(patient, consultation))))
    assert _types(steps[2]) == [("HCPFAC", "920098")]
    _header, blocks = _blocks(steps[2][0][1])
    assert blocks == {3: [("R", "502255")]}  # record 50 of the consultation
    _header, settled = _blocks(steps[3][0][1])
    assert settled == blocks


def test_billed_by_an_accepted_efact_file_then_attested_is_190(running: Running) -> None:
    _fresh_day(running)
    patient, doctor = _patient(running), running.provider
    consultation = priced(patient, doctor, "101032", running.sim.clock.today())
    steps = run(_flow(running, file_of(running.sim, doctor.nihii, invoice(patient, consultation))))
    _header, blocks = _blocks(steps[2][0][1])
    assert (_types(steps[2]), blocks) == ([("HCPFAC", "920098")], {})
    reply = run(_attest(running, patient))
    assert (reply.result.complete, reply.result.codes) == (False, ("190",))


def test_a_service_rejected_in_an_accepted_file_can_still_be_attested(running: Running) -> None:
    """Only the services paid go in the ledger: a rejected one does not block the next."""
    _fresh_day(running)
    patient, doctor = _patient(running), running.provider
    wrong = priced(patient, doctor, "101032", running.sim.clock.today(), amount=1)
    steps = run(_flow(running, file_of(running.sim, doctor.nihii, invoice(patient, wrong))))
    _header, blocks = _blocks(steps[2][0][1])
    assert blocks == {3: [("R", "501940")]}
    reply = run(_attest(running, patient))
    assert reply.result.complete, reply.result.codes
