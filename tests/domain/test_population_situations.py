"""The richer situations of the population: each exists by construction and means what it says."""

from datetime import date, timedelta
from itertools import pairwise

import pytest

from simulator.domain.care import InstitutionKind
from simulator.domain.cpas import (
    MEDIPRIMA_GP_START,
    CareKind,
    CpasDecision,
    DecisionStatus,
    Support,
)
from simulator.domain.identifiers import is_valid_cbe, is_valid_nihii, union_of
from simulator.domain.population import (
    SITUATIONS,
    UNIONS,
    Patient,
    Population,
    build_population,
)

TODAY = date(2026, 11, 23)


@pytest.fixture(scope="module")
def world() -> Population:
    return build_population(seed=11, patients=len(SITUATIONS) + 20, providers=8, today=TODAY)


def _decision(patient: Patient) -> CpasDecision:
    (decision,) = patient.cpas_decisions
    return decision


def test_every_union_is_among_the_first_patients(world: Population) -> None:
    first = world.patients[: len(SITUATIONS)]
    assert {p.insurer for p in first if p.periods} == set(UNIONS)
    for patient in first:
        if patient.periods:
            assert union_of(patient.mutuality) == patient.insurer


def test_solidaris_members_belong_to_its_304_325_mutualities() -> None:
    population = build_population(seed=3, patients=600, providers=20, today=TODAY)
    solidaris = population.where(insurer="300")
    assert len({p.mutuality for p in solidaris}) > 3
    assert all(304 <= int(p.mutuality) <= 325 for p in solidaris)


def test_automatic_bim_forbids_supplements_income_bim_does_not(world: Population) -> None:
    automatic, income = world.situation("bim"), world.situation("bim-income")
    assert automatic.bim and automatic.bim_basis == "automatic" and automatic.no_supplement
    assert income.bim and income.bim_basis == "income" and not income.no_supplement
    assert automatic.third_party_payment_mandatory and income.third_party_payment_mandatory
    regular = world.situation("regular")
    assert not regular.bim and not regular.no_supplement
    assert not regular.third_party_payment_mandatory


def test_bim_in_a_nursing_home_has_no_mandatory_third_party_payment(world: Population) -> None:
    patient = world.situation("bim-nursing-home")
    assert patient.bim and patient.nursing_home
    assert not patient.third_party_payment_mandatory


def test_ct_change_gives_two_contiguous_periods(world: Population) -> None:
    patient = world.situation("ct-change")
    before, after = patient.periods
    assert before.end is not None and before.end + timedelta(days=1) == after.start
    assert (before.ct1, before.ct2) == ("110", "110")
    assert (after.ct1, after.ct2) == ("111", "111")
    assert patient.period_on(TODAY) == after and patient.bim
    assert patient.period_on(before.end) == before


def test_mutuality_change_moves_the_member_to_another_union(world: Population) -> None:
    patient = world.situation("mutuality-change")
    before, after = patient.periods
    assert union_of(before.mutuality) != union_of(after.mutuality) == patient.insurer
    assert before.registration_number != after.registration_number
    assert before.end is not None and before.end < after.start <= TODAY


def test_many_periods_exceed_the_five_memberdata_returns(world: Population) -> None:
    patient = world.situation("many-periods")
    periods = patient.periods
    assert len(periods) > 5
    five_years_back = TODAY.replace(year=TODAY.year - 5)
    assert all(p.start > five_years_back for p in periods)
    for earlier, later in pairwise(periods):
        assert earlier.end is not None and earlier.end + timedelta(days=1) == later.start
        assert earlier.ct1 != later.ct1
    assert periods[-1].end is None and patient.period_on(TODAY) == periods[-1]


def test_medical_house_contracts_name_a_house_and_a_period(world: Population) -> None:
    member = world.situation("medical-house")
    contract = member.medical_house_contract
    assert contract is not None and contract.covers(TODAY) and member.medical_house
    house = world.institution(contract.house)
    assert house is not None and house.kind is InstitutionKind.MEDICAL_HOUSE
    assert member.dmg_holder is None  # the house keeps the DMG
    former = world.situation("medical-house-ended")
    ended = former.medical_house_contract
    assert ended is not None and ended.end is not None and ended.end < TODAY
    assert not former.medical_house


def test_status_periods_cover_today(world: Population) -> None:
    chronic = world.situation("chronic").chronic_status
    assert chronic is not None and chronic.covers(TODAY)
    assert (chronic.start.month, chronic.start.day) == (1, 1) and chronic.start.year < TODAY.year
    palliative = world.situation("palliative").palliative_status
    assert palliative is not None and palliative.covers(TODAY) and palliative.start < TODAY
    assert world.situation("regular").chronic_status is None


def test_hospitalised_patient_is_in_a_hospital_of_the_world(world: Population) -> None:
    patient = world.situation("hospitalised")
    stay = patient.hospital_stay
    assert stay is not None and stay.covers(TODAY) and patient.hospitalised
    hospital = world.institution(stay.hospital)
    assert hospital is not None and hospital.kind is InstitutionKind.HOSPITAL
    assert is_valid_nihii(stay.hospital) and stay.hospital.startswith("7")
    assert stay.hospital.endswith("000")


def test_the_deceased_period_closes_at_death(world: Population) -> None:
    patient = world.situation("deceased")
    assert patient.death_date is not None and patient.death_date < TODAY
    assert patient.periods[-1].end == patient.death_date


def test_mediprima_patients_are_not_insured_and_have_a_cpas_decision(world: Population) -> None:
    names = [name for name in SITUATIONS if name.startswith("mediprima")]
    assert len(names) == 10
    for name in names:
        patient = world.situation(name)
        assert patient.periods == () and patient.period_on(TODAY) is None
        assert patient.insurer == "600" and patient.mediprima
        decision = _decision(patient)
        assert is_valid_cbe(decision.cpas.cbe) and decision.cpas in world.cpas
        assert len(decision.carmed_number) == 12
    assert not world.situation("regular").mediprima


def test_mediprima_full_and_partial_covers(world: Population) -> None:
    first_gp = world.providers_of_kind("GP")[0].nihii
    full = _decision(world.situation("mediprima-full"))
    assert full.active_on(TODAY) and not full.old_path and not full.medical_urgency
    doctor = full.cover(CareKind.DOCTOR)
    assert doctor is not None and doctor.full and doctor.covers(TODAY)
    assert full.allows_provider(CareKind.DOCTOR, first_gp)
    assert full.state_refund == 100 and full.beneficiary_status == "L"
    partial = _decision(world.situation("mediprima-partial"))
    cover = partial.cover(CareKind.DOCTOR)
    assert cover is not None and cover.patient_part is Support.PARTIAL
    assert cover.patient_part_max is not None and not cover.full
    assert partial.state_refund == 50


def test_mediprima_urgent_medical_aid(world: Population) -> None:
    made = _decision(world.situation("mediprima-uma"))
    assert made.medical_urgency and made.uma_attestation and made.active_on(TODAY)
    assert made.beneficiary_status == "I"
    missing = _decision(world.situation("mediprima-uma-missing"))
    assert missing.medical_urgency and missing.uma_attestation is None


def test_mediprima_rejection_situations(world: Population) -> None:
    first_gp = world.providers_of_kind("GP")[0].nihii
    suspended = _decision(world.situation("mediprima-suspended"))
    assert suspended.status is DecisionStatus.SUSPENDED
    assert suspended.valid_on(TODAY) and not suspended.active_on(TODAY)
    expired = world.situation("mediprima-expired")
    assert expired.decision_on(TODAY) is None
    ended = _decision(expired).end
    assert ended is not None and ended < TODAY
    not_listed = _decision(world.situation("mediprima-not-listed"))
    assert not_listed.active_on(TODAY)
    assert not not_listed.allows_provider(CareKind.DOCTOR, first_gp)
    inactive = _decision(world.situation("mediprima-cover-inactive"))
    doctor = inactive.cover(CareKind.DOCTOR)
    assert inactive.active_on(TODAY) and doctor is not None and not doctor.covers(TODAY)
    no_doctor = _decision(world.situation("mediprima-no-doctor-cover"))
    assert no_doctor.active_on(TODAY) and no_doctor.cover(CareKind.DOCTOR) is None
    assert not no_doctor.allows_provider(CareKind.DOCTOR, first_gp)
    old = _decision(world.situation("mediprima-old-path"))
    assert old.old_path and old.start < MEDIPRIMA_GP_START and old.active_on(TODAY)


def test_decision_doctors_without_gps_are_valid_outsiders() -> None:
    population = build_population(seed=4, patients=len(SITUATIONS), providers=0, today=TODAY)
    doctor = _decision(population.situation("mediprima-full")).cover(CareKind.DOCTOR)
    assert doctor is not None and doctor.providers
    for nihii in doctor.providers:
        assert is_valid_nihii(nihii) and population.provider(nihii) is None


def test_decision_doctors_are_gps_of_the_population() -> None:
    population = build_population(seed=8, patients=200, providers=30, today=TODAY)
    for patient in population.patients:
        for decision in patient.cpas_decisions:
            for cover in decision.covers:
                for nihii in cover.providers:
                    provider = population.provider(nihii)
                    assert provider is not None and provider.kind == "GP"


def test_places_and_cpas_stay_the_same_when_the_clock_moves(world: Population) -> None:
    later = build_population(
        seed=11, patients=len(world.patients), providers=8, today=TODAY + timedelta(days=90)
    )
    assert later.institutions == world.institutions and later.cpas == world.cpas
    assert [p.ssin for p in later.patients] == [p.ssin for p in world.patients]
    # the decision of a MediPrima patient follows the date, its identity does not
    moved = _decision(later.situation("mediprima-full"))
    assert moved.start == _decision(world.situation("mediprima-full")).start + timedelta(days=90)
    assert moved.active_on(TODAY + timedelta(days=90))


def test_institutions_have_valid_distinct_numbers(world: Population) -> None:
    numbers = [i.nihii for i in world.institutions]
    assert len(set(numbers)) == len(numbers)
    assert all(is_valid_nihii(n) and n.endswith("000") for n in numbers)
    people = {p.nihii[:8] for p in world.providers}
    assert not people & {n[:8] for n in numbers}
    assert {i.kind for i in world.institutions} == set(InstitutionKind)
