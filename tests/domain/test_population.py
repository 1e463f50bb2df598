"""The synthetic population: deterministic, consistent, and every situation present."""

from datetime import date, timedelta

import pytest

from simulator.domain.identifiers import is_valid_nihii, is_valid_niss, niss_sex
from simulator.domain.population import SITUATIONS, Population, build_population

TODAY = date(2026, 11, 23)


@pytest.fixture(scope="module")
def small() -> Population:
    return build_population(seed=11, patients=50, providers=6, today=TODAY)


@pytest.fixture(scope="module")
def default() -> Population:
    return build_population(seed=11, patients=2000, providers=200, today=TODAY)


def test_same_seed_same_population_other_seed_differs(default: Population) -> None:
    again = build_population(seed=11, patients=2000, providers=200, today=TODAY)
    assert again == default
    other = build_population(seed=12, patients=2000, providers=200, today=TODAY)
    assert other.patients != default.patients
    assert other.providers != default.providers


def test_people_stay_the_same_when_the_clock_moves(default: Population) -> None:
    # Vendors script against these NISS and NIHII: a new day must not give new people.
    later = build_population(
        seed=11, patients=2000, providers=200, today=TODAY + timedelta(days=400)
    )
    assert [p.ssin for p in later.patients] == [p.ssin for p in default.patients]
    assert [(p.first_name, p.last_name) for p in later.patients] == [
        (p.first_name, p.last_name) for p in default.patients
    ]
    assert later.providers == default.providers
    # while the situations that depend on the date follow it
    for name in ("not-insured", "future-insured", "deceased"):
        assert later.situation(name).periods != default.situation(name).periods


def test_identifiers_are_valid_unique_and_consistent(default: Population) -> None:
    ssins = [p.ssin for p in default.patients] + [p.ssin for p in default.providers]
    assert len(set(ssins)) == len(ssins)
    for patient in default.patients:
        assert is_valid_niss(patient.ssin, today=TODAY)
        assert niss_sex(patient.ssin) == patient.sex
        assert patient.insurer == patient.mutuality[0] + "00"
        assert patient.language in ("fr", "nl", "de")
        current = patient.period_on(TODAY)
        if current is not None:
            assert current.ct1[-1] == ("1" if patient.bim else "0")
    persons = [p.nihii[:8] for p in default.providers]
    assert len(set(persons)) == len(persons)
    for provider in default.providers:
        assert is_valid_nihii(provider.nihii)
        assert provider.nihii.endswith(provider.qualification)
        digit = {"DENTIST": "3", "PHYSIOTHERAPIST": "5"}.get(provider.kind, "1")
        assert provider.nihii[0] == digit


@pytest.mark.parametrize("size", [len(SITUATIONS), 50, 2000])
def test_every_situation_exists(size: int) -> None:
    population = build_population(seed=5, patients=size, providers=3, today=TODAY)
    for name in SITUATIONS:
        assert population.situation(name).situation == name


def test_situations_mean_what_they_say(small: Population) -> None:
    gps = {p.nihii for p in small.providers_of_kind("GP")}
    assert small.situation("not-insured").period_on(TODAY) is None
    assert small.situation("not-insured").period_on(TODAY - timedelta(days=60)) is not None
    future = small.situation("future-insured")
    assert future.period_on(TODAY) is None and future.periods[0].start > TODAY
    deceased = small.situation("deceased")
    assert deceased.death_date is not None and deceased.death_date < TODAY
    assert deceased.period_on(TODAY) is None
    child = small.situation("child-bim-dmg")
    assert child.age_on(TODAY) < 18 and child.bim and child.dmg_holder in gps
    young = small.situation("young-bim-dmg")
    assert 18 <= young.age_on(TODAY) <= 24 and young.bim and young.dmg_holder in gps
    assert small.situation("bim-dmg").age_on(TODAY) > 24
    assert small.situation("senior").age_on(TODAY) >= 75
    assert small.situation("medical-house").medical_house
    not_in_order = small.situation("not-in-order").period_on(TODAY)
    assert not_in_order is not None and not not_in_order.in_order
    assert small.situation("regular").dmg_holder is None
    assert int(small.situation("bis").ssin[2:4]) > 12
    assert small.situation("bim").third_party_payment_mandatory


def test_dmg_holders_are_gps_of_the_population(default: Population) -> None:
    holders = {p.dmg_holder for p in default.patients if p.dmg_holder}
    assert holders
    for holder in holders:
        provider = default.provider(holder)
        assert provider is not None and provider.kind == "GP"


def test_first_providers_cover_each_kind(small: Population) -> None:
    assert [p.kind for p in small.providers[:4]] == [
        "GP",
        "SPECIALIST",
        "DENTIST",
        "PHYSIOTHERAPIST",
    ]
    assert small.providers[2].profession == "DENTIST"
    assert (small.providers[3].profession, small.providers[3].qualification) == (
        "PHYSIOTHERAPIST",
        "527",
    )


def test_lookups(small: Population) -> None:
    patient = small.patients[7]
    assert small.find(patient.ssin) is patient
    provider = small.providers[0]
    assert small.provider(provider.nihii) is provider
    # the qualification may differ from the one the population knows
    assert small.provider(provider.nihii[:8] + "999") is provider
    assert small.provider("00000000000") is None


def test_unknown_ssin_is_valid_absent_and_stable(small: Population) -> None:
    first, second = small.unknown_ssin(0), small.unknown_ssin(1)
    assert first != second
    assert first == small.unknown_ssin(0)
    for ssin in (first, second):
        assert is_valid_niss(ssin, today=TODAY)
        assert small.find(ssin) is None


def test_where_filters(default: Population) -> None:
    bim = default.where(bim=True, insured_on=TODAY)
    assert bim and all(p.bim and p.period_on(TODAY) for p in bim)
    holder = default.providers_of_kind("GP")[0].nihii
    assert all(p.dmg_holder == holder for p in default.where(dmg_holder=holder))
    assert default.where(deceased=True)
    assert len(default.where(insurer="100")) > len(default.where(insurer="900"))


def test_age_on_birthday_boundary(small: Population) -> None:
    patient = small.patients[0]
    birthday = patient.birth_date.replace(year=patient.birth_date.year + 30)
    assert patient.age_on(birthday) == 30
    assert patient.age_on(birthday - timedelta(days=1)) == 29
