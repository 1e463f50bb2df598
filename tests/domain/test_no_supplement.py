"""What MemberData says that the billing checks use: the "no supp" special status of automatic
BIM (S-FAQ-INAMI, domain-rules 1.2), answered in the insurability facet, with
`supplement_forbidden`; and the medical-house flat rate with `medical_house_covers`."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, timedelta

import pytest

from simulator.domain.memberdata import (
    INSURABILITY,
    NO_SUPPLEMENT,
    PAYMENT,
    SPECIAL_STATUS,
    FacetRequest,
    consult_member_data,
    medical_house_covers,
    supplement_forbidden,
)
from simulator.domain.population import Population, build_population
from tests.domain.test_memberdata_rules import query

TODAY = date(2026, 11, 23)


@pytest.fixture(scope="module")
def world() -> Population:
    return build_population(seed=5, patients=60, providers=6, today=TODAY)


def _special_status(world: Population, ssin: str, **changes: object) -> list[str]:
    answer = consult_member_data(query(ssin, **changes), world, TODAY)
    assert answer.accepted
    (payment,) = [block for block in answer.blocks if block.assertion_type == PAYMENT]
    return [a.value for a in payment.attributes if a.name == SPECIAL_STATUS]


@pytest.mark.parametrize(
    ("situation", "forbidden"),
    [
        ("bim", True),  # automatic BIM
        ("bim-dmg", True),
        ("child-bim-dmg", True),
        ("bim-income", False),  # BIM after an income enquiry: supplements still allowed in 2025
        ("ct-change", False),  # became BIM after an income enquiry
        ("regular", False),
        ("chronic", False),
    ],
)
def test_only_automatic_bim_is_no_supp(world: Population, situation: str, forbidden: bool) -> None:
    patient = world.situation(situation)
    assert supplement_forbidden(patient, TODAY) is forbidden
    expected = [NO_SUPPLEMENT] if forbidden else []
    assert _special_status(world, patient.ssin) == expected


def test_no_supp_needs_a_bim_period_on_the_day(world: Population) -> None:
    patient = world.situation("bim")
    period = patient.period_on(TODAY)
    assert period is not None
    assert not supplement_forbidden(patient, period.start - timedelta(days=1))  # not insured yet
    # A BIM period of the past, when CT1 ended in 0, did not forbid supplements.
    normal = replace(period, ct1="110", ct2="110")
    assert not supplement_forbidden(replace(patient, periods=(normal,)), TODAY)


def test_the_special_status_is_answered_with_the_invoicing_request_type_too(
    world: Population,
) -> None:
    invoicing = FacetRequest(INSURABILITY, (("requestType", "invoicing"), ("contactType", "other")))
    patient = world.situation("bim")
    assert _special_status(world, patient.ssin, facets=(invoicing,)) == [NO_SUPPLEMENT]


def test_the_medical_house_flat_rate_covers_gp_acts_while_the_contract_runs(
    world: Population,
) -> None:
    member = world.situation("medical-house")
    assert medical_house_covers(member, "101032", TODAY)
    assert medical_house_covers(member, "0103132", TODAY)  # a 7-digit eFact code too
    assert not medical_house_covers(member, "371011", TODAY)  # dental care is not in it
    ended = world.situation("medical-house-ended")
    contract = ended.medical_house_contract
    assert contract is not None and contract.end is not None
    assert not medical_house_covers(ended, "101032", TODAY)
    assert medical_house_covers(ended, "101032", contract.end)
    assert not medical_house_covers(world.situation("regular"), "101032", TODAY)
