"""CPAS decisions: enterprise numbers, validity, suspension, covers and the provider list."""

import random
from datetime import date, timedelta

import pytest

from simulator.domain.cpas import (
    CareKind,
    Cover,
    Cpas,
    CpasDecision,
    DecisionStatus,
    Support,
    make_cbe,
    make_cpas_list,
)
from simulator.domain.identifiers import is_valid_cbe

DAY = date(2026, 3, 10)
CPAS = Cpas(make_cbe(2123456), "21004", "CPAS de Bruxelles", "OCMW Brussel")
GP = "10394044003"


def _decision(**changes: object) -> CpasDecision:
    doctor = Cover(
        CareKind.DOCTOR,
        DAY - timedelta(days=30),
        None,
        Support.FULL,
        Support.FULL,
        Support.NOTHING,
        providers=(GP,),
    )
    fields: dict[str, object] = {
        "carmed_number": "123456789012",
        "version": 1,
        "cpas": CPAS,
        "start": DAY - timedelta(days=30),
        "end": DAY + timedelta(days=30),
        "status": DecisionStatus.ACTIVE,
        "covers": (doctor,),
        "state_refund": 100,
        "beneficiary_status": "L",
        "medical_urgency": False,
    }
    fields.update(changes)
    return CpasDecision(**fields)  # type: ignore[arg-type]


def test_make_cbe_gives_numbers_the_bce_check_accepts() -> None:
    # Known valid numbers rebuilt from their first 8 digits (domain-rules 2.4).
    assert make_cbe(8205634) == "0820563481"
    assert make_cbe(4030192) == "0403019261"
    rng = random.Random(1)
    for _ in range(200):
        assert is_valid_cbe(make_cbe(rng.randrange(2 * 10**7)))
    with pytest.raises(ValueError, match="BCE body"):
        make_cbe(2 * 10**7)


def test_cpas_list_is_valid_distinct_and_seeded() -> None:
    first = make_cpas_list(random.Random(5))
    assert first == make_cpas_list(random.Random(5)) != make_cpas_list(random.Random(6))
    assert len({c.cbe for c in first}) == len(first) == len({c.ins_code for c in first})
    assert all(is_valid_cbe(c.cbe) and c.cbe.startswith("02") for c in first)


def test_validity_is_inclusive_and_suspension_removes_activity() -> None:
    decision = _decision()
    assert decision.active_on(decision.start) and decision.active_on(DAY + timedelta(days=30))
    assert not decision.valid_on(DAY + timedelta(days=31))
    assert not decision.valid_on(decision.start - timedelta(days=1))
    suspended = _decision(status=DecisionStatus.SUSPENDED)
    assert suspended.valid_on(DAY) and not suspended.active_on(DAY)
    assert _decision(end=None).active_on(DAY + timedelta(days=3000))


def test_provider_list_matches_on_the_person_not_the_qualification() -> None:
    decision = _decision()
    assert decision.allows_provider(CareKind.DOCTOR, GP)
    assert decision.allows_provider(CareKind.DOCTOR, GP[:8] + "004")
    assert not decision.allows_provider(CareKind.DOCTOR, "11820736004")
    assert not decision.allows_provider(CareKind.HOSPITALIZATION, GP)  # no such cover
    open_cover = Cover(
        CareKind.PARAMEDIC, DAY, None, Support.FULL, Support.NOTHING, Support.NOTHING
    )
    assert _decision(covers=(open_cover,)).allows_provider(CareKind.PARAMEDIC, "54263481527")


def test_old_path_is_decided_by_the_start_date() -> None:
    assert _decision(start=date(2025, 8, 31)).old_path
    assert not _decision(start=date(2025, 9, 1)).old_path
