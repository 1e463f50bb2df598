"""eTar over HTTP, the way a connector calls it: keystore -> STS token -> signed consultation."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import pytest

from simulator.domain.population import Patient
from simulator.store.base import JournalQuery
from tests.e2e.conftest import Running

GP_CONSULTATION = "101032"


def _today(running: Running) -> date:
    return running.sim.clock.today()


def _patient(running: Running, **wanted: object) -> Patient:
    today = _today(running)
    for patient in running.population.patients:
        if patient.period_on(today) is None or patient.death_date is not None:
            continue
        if patient.medical_house and not wanted.get("medical_house", False):
            continue
        if all(getattr(patient, name) == value for name, value in wanted.items()):
            return patient
    raise AssertionError(f"the population has no insured patient with {wanted}")


def _adult(running: Running, **wanted: object) -> Patient:
    today = _today(running)
    for patient in running.population.patients:
        if not 25 <= patient.age_on(today) < 75 or patient.period_on(today) is None:
            continue
        if patient.death_date is not None or patient.medical_house or patient.chronic:
            continue
        if all(getattr(patient, name) == value for name, value in wanted.items()):
            return patient
    raise AssertionError(f"the population has no insured adult with {wanted}")


async def test_a_consultation_is_priced_with_a_payment_commitment(running: Running) -> None:
    patient = _adult(running, bim=False, dmg_holder=None)
    async with running.client() as client:
        result = await client.tarification(patient.ssin, [GP_CONSULTATION], _today(running))
    assert result.complete, result.errors
    assert result.errors == ()
    (line,) = result.lines
    assert line.code == GP_CONSULTATION
    assert line.fee == Decimal("30.00")
    assert line.patient_fee == Decimal("6.00")  # non-BIM, no DMG (domain-rules 7)
    assert line.reimbursement == line.fee - line.patient_fee
    period = patient.period_on(_today(running))
    assert period is not None
    assert line.financial_contract.startswith(patient.insurer)
    assert result.patient_ssin == patient.ssin
    assert (result.ct1, result.ct2) == (period.ct1, period.ct2)


async def test_the_dmg_holder_and_bim_change_the_personal_share(running: Running) -> None:
    holder_patient = next(
        p
        for p in running.population.patients
        if p.dmg_holder
        and not p.bim
        and not p.medical_house
        and 25 <= p.age_on(_today(running)) < 75
        and p.period_on(_today(running)) is not None
        and p.death_date is None
        and not p.chronic
    )
    holder = running.population.provider(holder_patient.dmg_holder or "")
    assert holder is not None and holder.kind == "GP"
    keystore = running.keystore_for(holder, f"holder-{holder.nihii}")
    bim_patient = _adult(running, bim=True, dmg_holder=None)
    async with running.client(keystore) as client:
        with_dmg = await client.tarification(
            holder_patient.ssin, [GP_CONSULTATION], _today(running)
        )
        bim = await client.tarification(bim_patient.ssin, [GP_CONSULTATION], _today(running))
    assert with_dmg.lines[0].patient_fee == Decimal("4.00")
    assert bim.lines[0].patient_fee == Decimal("1.50")


async def test_payment_commitments_are_never_reused(running: Running) -> None:
    patient = _adult(running, bim=False)
    async with running.client() as client:
        first = await client.tarification(patient.ssin, [GP_CONSULTATION], _today(running))
        second = await client.tarification(patient.ssin, [GP_CONSULTATION], _today(running))
    assert first.lines[0].financial_contract != second.lines[0].financial_contract


@pytest.mark.parametrize(
    ("situation", "code"),
    [
        ("unknown patient", "120"),
        ("encounter tomorrow", "146"),
        ("encounter three months ago", "166"),
        ("medical-house patient", "169"),
        ("dental code by a GP", "171"),
        ("gmdmanager is the author", "174"),
    ],
)
async def test_rejections_carry_the_mycarenet_code(
    running: Running, situation: str, code: str
) -> None:
    today = _today(running)
    patient = _adult(running, bim=False)
    ssin, codes, day, gmd = patient.ssin, [GP_CONSULTATION], today, None
    if situation == "unknown patient":
        ssin = running.population.unknown_ssin()
    elif situation == "encounter tomorrow":
        day = today + timedelta(days=1)
    elif situation == "encounter three months ago":
        day = today - timedelta(days=95)
    elif situation == "medical-house patient":
        ssin = _patient(running, medical_house=True).ssin
    elif situation == "dental code by a GP":
        codes = ["371011"]
    elif situation == "gmdmanager is the author":
        gmd = running.provider.nihii
    async with running.client() as client:
        result = await client.tarification(ssin, codes, day, gmd_manager=gmd)
    assert not result.complete
    assert result.lines == ()
    assert code in [error.code for error in result.errors], result.errors


async def test_every_exchange_is_journaled_with_its_outcome(running: Running) -> None:
    unknown = running.population.unknown_ssin(7)
    async with running.client() as client:
        await client.tarification(unknown, [GP_CONSULTATION], _today(running))
    (entry,) = running.sim.store.journal(JournalQuery(patient_ssin=unknown))
    assert (entry.service, entry.operation) == ("etar", "TarificationConsultation")
    assert entry.outcome == "business-error"
    assert entry.code == "120"
    assert entry.provider_nihii == running.provider.nihii
    assert entry.security["verdict"] == "valid"
    assert [stage["name"] for stage in entry.stages][:4] == [
        "parse",
        "envelope",
        "dispatch",
        "validate",
    ]
