"""CAAMI's checks of MediPrima invoices (docs/rules.md, "eFact to CAAMI 690"), each code from the
population situation that causes it."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from simulator.domain.cpas import CareKind
from simulator.domain.mediprima_invoicing import MediprimaInvoices, Record25, prices
from simulator.domain.population import SITUATIONS, Population, build_population

TODAY = date(2025, 11, 3)
CARE = TODAY - timedelta(days=1)
CODE = "0101032"


@pytest.fixture(scope="module")
def world() -> Population:
    return build_population(seed=9, patients=len(SITUATIONS) + 5, providers=10, today=TODAY)


def _caami(
    world: Population, held: tuple[tuple[str, date, date | None], ...] = ()
) -> MediprimaInvoices:
    return MediprimaInvoices(world, lambda ssin: held)


def _service(world: Population, situation: str, *, provider: str | None = None,
             delta: int = 0, held: tuple[tuple[str, date, date | None], ...] = ()) -> object:  # fmt: skip
    patient = world.situation(situation)
    gp = provider or world.providers_of_kind("GP")[0].nihii
    amount = share = 0
    if patient.cpas_decisions and patient.cpas_decisions[0].cover(CareKind.DOCTOR):
        try:
            unit = prices(CODE, patient, "GP", CARE, patient.cpas_decisions[0])
            amount, share = unit.amount, unit.share
        except (KeyError, ValueError):
            pass
    return _caami(world, held).service(patient.ssin, CODE, CARE, gp, 1, amount + delta, share)


@pytest.mark.parametrize(
    ("situation", "expected"),
    [
        ("mediprima-full", None),
        ("mediprima-partial", None),
        ("mediprima-uma", None),  # the world holds its AMU attestation
        ("mediprima-old-path", None),  # MediPrima takes it too
        ("mediprima-suspended", ("500540", "5")),
        ("mediprima-expired", ("500540", "5")),
        ("mediprima-cover-inactive", ("500540", "5")),
        ("mediprima-no-doctor-cover", ("500540", "5")),
        ("mediprima-uma-missing", ("500540", "5")),
        ("mediprima-not-listed", ("501540", "15")),
        ("regular", None),  # no decision: said once, on record 20 (200820)
    ],
)
def test_each_service_finding_has_its_cause(
    world: Population, situation: str, expected: tuple[str, str] | None
) -> None:
    found = _service(world, situation)
    assert (found[:2] if found else None) == expected  # type: ignore[index]


def test_an_attestation_sent_through_uma_lets_caami_pay(world: Population) -> None:
    held = (("UMA-20251101-00000001", CARE - timedelta(days=1), None),)
    assert _service(world, "mediprima-uma-missing", held=held) is None


def test_amounts_are_the_state_and_cpas_parts(world: Population) -> None:
    found = _service(world, "mediprima-full", delta=1)
    assert found is not None and found[:2] == ("501940", "19")  # type: ignore[index]
    unit = prices(CODE, world.situation("mediprima-partial"), "GP", CARE,
                  world.situation("mediprima-partial").cpas_decisions[0])  # fmt: skip
    assert (unit.amount, unit.share) == (2700, 300)  # 15.00 State + 12.00 CPAS, 3.00 patient


def test_an_insured_patient_is_unknown_to_mediprima(world: Population) -> None:
    caami = _caami(world)
    assert caami.beneficiary(world.situation("regular").ssin) == (
        "200820", "8", f"{world.situation('regular').ssin}: no CPAS decision in MediPrima"
    )  # fmt: skip
    assert caami.beneficiary(world.situation("mediprima-suspended").ssin) is None


def test_record_25_must_agree_with_the_decision(world: Population) -> None:
    patient = world.situation("mediprima-full")
    (decision,) = patient.cpas_decisions
    good = Record25("00" + patient.ssin, "0", decision.cpas.cbe, decision.carmed_number,
                    f"{decision.version:06d}")  # fmt: skip
    caami = _caami(world)
    assert caami.record25(patient.ssin, good, CARE) == []
    wrong = Record25("00" + patient.ssin, "1", "0200000097", "999999999999", "000001")
    assert [f[:2] for f in caami.record25(patient.ssin, wrong, CARE)] == [
        ("255620", "56"), ("253820", "38"), ("251220", "12"),
    ]  # fmt: skip
