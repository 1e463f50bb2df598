"""Finding patients: flags say what holds on the date, queries combine criteria."""

from datetime import date, timedelta

import pytest

from simulator.domain.lookup import FLAGS, PatientQuery, flags
from simulator.domain.population import SITUATIONS, Population, build_population

TODAY = date(2026, 11, 23)


@pytest.fixture(scope="module")
def world() -> Population:
    return build_population(seed=21, patients=len(SITUATIONS) + 30, providers=6, today=TODAY)


@pytest.mark.parametrize(
    ("situation", "present", "absent"),
    [
        ("bim", {"INSURED", "BIM", "NOSUPP", "TP"}, {"DMG", "CPAS"}),
        ("bim-income", {"BIM", "TP"}, {"NOSUPP"}),
        ("bim-nursing-home", {"BIM", "NURSING", "DMG"}, {"TP"}),
        ("deceased", {"DECEASED"}, {"INSURED"}),
        ("not-in-order", {"INSURED", "NOTINORDER"}, set()),
        ("medical-house", {"MM"}, {"DMG"}),
        ("medical-house-ended", {"INSURED"}, {"MM"}),
        ("hospitalised", {"HOSP"}, set()),
        ("ct-change", {"PERIODS>1", "BIM"}, set()),
        ("mediprima-uma", {"CPAS", "CPAS-ACTIVE", "UMA"}, {"INSURED"}),
        ("mediprima-suspended", {"CPAS"}, {"CPAS-ACTIVE", "UMA"}),
    ],
)
def test_flags_follow_the_situation(
    world: Population, situation: str, present: set[str], absent: set[str]
) -> None:
    held = set(flags(world.situation(situation), TODAY))
    assert present <= held and not absent & held
    assert list(flags(world.situation(situation), TODAY)) == [f for f in FLAGS if f in held]


def test_flags_depend_on_the_date(world: Population) -> None:
    patient = world.situation("future-insured")
    assert "INSURED" not in flags(patient, TODAY)
    assert "INSURED" in flags(patient, patient.periods[0].start)
    stay = world.situation("hospitalised").hospital_stay
    assert stay is not None
    assert "HOSP" not in flags(world.situation("hospitalised"), stay.admission - timedelta(days=1))


def test_query_combines_every_criterion(world: Population) -> None:
    query = PatientQuery(insurer="300", flags=frozenset({"BIM"}), without=frozenset({"DMG"}))
    found = [p for p in world.patients if query.matches(p, TODAY)]
    assert found
    for patient in found:
        assert patient.insurer == "300" and patient.bim and patient.dmg_holder is None
    others = [p for p in world.patients if p not in found]
    assert all(not query.matches(p, TODAY) for p in others)


def test_query_by_dmg_holder_ignores_the_qualification(world: Population) -> None:
    holder = next(p.dmg_holder for p in world.patients if p.dmg_holder)
    assert holder is not None
    query = PatientQuery(dmg_holder=holder[:8] + "999")
    found = [p for p in world.patients if query.matches(p, TODAY)]
    assert found and all(p.dmg_holder == holder for p in found)


def test_query_by_situation_and_age(world: Population) -> None:
    (senior,) = [p for p in world.patients if PatientQuery(situation="senior").matches(p, TODAY)]
    assert senior.situation == "senior"
    children = [p for p in world.patients if PatientQuery(max_age=17).matches(p, TODAY)]
    assert children and all(p.age_on(TODAY) <= 17 for p in children)
    assert world.situation("child") in children
    assert not PatientQuery(min_age=200).matches(senior, TODAY)


def test_unknown_flags_are_refused() -> None:
    with pytest.raises(ValueError, match="unknown flag 'RICH'"):
        PatientQuery(flags=frozenset({"RICH"}))
