"""eAttest v3 rules (domain-rules 1.2, 1.3, 2.8, 5): one test per rule and code."""

import dataclasses
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import pytest

from simulator.domain.catalogue import ErrorCatalogue
from simulator.domain.eattest import (
    AUTHOR,
    AUTHOR_ID,
    CANCELLATION_WINDOW,
    CGA_DATE,
    CLAIM_CD,
    ENCOUNTER_DATE,
    EXEMPTION,
    GMD_MANAGER_ID,
    INVOICING_TEXT,
    PATIENT_ID,
    QUANTITY,
    REASON_CD,
    RECEIVING_PARTY,
    REQUEST_ID,
    SUPPLEMENT,
    AttestationQuery,
    Attested,
    AttestedService,
    CancellationQuery,
    already_cancelled,
    attested_services,
    decide_attestation,
    decide_cancellation,
    duplicate_outcome,
    invoicing_number,
    is_valid_invoicing_number,
)
from simulator.domain.identifiers import make_nihii
from simulator.domain.ledger_rules import Channel, LedgerService
from simulator.domain.population import Patient, Population, Provider, build_population

TODAY = date(2026, 11, 23)
WALK_IN_GP = make_nihii("199999", "003")
RECEIVER = "0123456749"  # a valid BCE number


@pytest.fixture(scope="module")
def world() -> Population:
    return build_population(seed=21, patients=60, providers=8, today=TODAY)


@pytest.fixture(scope="module")
def gp(world: Population) -> Provider:
    return world.providers_of_kind("GP")[0]


def _plain(world: Population) -> Patient:
    return next(
        p
        for p in world.patients
        if p.situation == "random"
        and p.period_on(TODAY) is not None
        and p.death_date is None
        and not p.bim
        and not p.medical_house
        and not p.mediprima
    )


def _query(
    author: str, patient: Patient, *services: AttestedService, **changes: Any
) -> AttestationQuery:
    query = AttestationQuery(
        request_id=f"{author}.20261123101010",
        author_nihii=author,
        author_type="persphysician",
        patient_ssin=patient.ssin,
        transaction_date=TODAY.isoformat(),
        patient_paid="30.00",
        supplement=None,
        receiving_party=RECEIVER,
        services=services or (_service(),),
    )
    return dataclasses.replace(query, **changes)


def _service(code: str = "101032", day: date = TODAY, **changes: Any) -> AttestedService:
    service = AttestedService(code=code, quantity="1", encounter_date=day.isoformat())
    return dataclasses.replace(service, **changes)


def _codes(outcome: Any) -> list[tuple[str, str]]:
    return [(error.code, error.path) for error in outcome.errors]


# -- invoicing numbers -----------------------------------------------------------------------


def test_invoicing_number_check_digits_are_the_17_digits_mod_97() -> None:
    # The two live acceptance numbers of domain-rules 2.8.
    assert invoicing_number("500", date(2026, 2, 12), 5960827) == "500-1-260212-5960827-60"
    assert invoicing_number("940", date(2024, 1, 30), 1) == "940-1-240130-0000001-84"
    assert is_valid_invoicing_number("500-1-260212-5960827-60")
    assert not is_valid_invoicing_number("500-1-260212-5960827-61")
    assert not is_valid_invoicing_number("200-1-170127-0000005-32")  # the documents' dummy
    with pytest.raises(ValueError, match="7 digits"):
        invoicing_number("500", TODAY, 10_000_000)


# -- accepted --------------------------------------------------------------------------------


def test_accepted_attestation_carries_the_official_fee_not_the_amount_sent(
    world: Population, gp: Provider
) -> None:
    patient = _plain(world)
    outcome = decide_attestation(_query(gp.nihii, patient, _service(amount="99.00")), world, TODAY)
    assert outcome.accepted and outcome.insurer == patient.insurer and outcome.day == TODAY
    assert [(line.code, line.fee) for line in outcome.lines] == [("101032", Decimal("30.00"))]


def test_errors_carry_the_catalogue_texts(world: Population, gp: Provider) -> None:
    outcome = decide_attestation(
        _query(gp.nihii, _plain(world), _service(day=TODAY - timedelta(1))), world, TODAY
    )
    (error,) = outcome.errors
    entry = ErrorCatalogue.load("eattest").entry("238", CGA_DATE)
    assert (error.message_fr, error.message_nl) == (entry.fr, entry.nl)


# -- same day (domain-rules 1.3) -------------------------------------------------------------


def test_no_service_today_is_nocrpr_238(world: Population, gp: Provider) -> None:
    query = _query(gp.nihii, _plain(world), _service(day=TODAY - timedelta(days=1)))
    assert _codes(decide_attestation(query, world, TODAY)) == [("238", CGA_DATE)]


def test_one_service_of_another_day_is_191_or_146(world: Population, gp: Provider) -> None:
    patient = _plain(world)
    past = _query(gp.nihii, patient, _service(), _service("103132", TODAY - timedelta(1)))
    assert _codes(decide_attestation(past, world, TODAY)) == [("191", ENCOUNTER_DATE)]
    future = _query(gp.nihii, patient, _service(), _service("103132", TODAY + timedelta(1)))
    assert _codes(decide_attestation(future, world, TODAY)) == [("146", ENCOUNTER_DATE)]


def test_a_cga_dated_another_day_is_refused(world: Population, gp: Provider) -> None:
    query = _query(gp.nihii, _plain(world), transaction_date="2026-11-22")
    assert _codes(decide_attestation(query, world, TODAY)) == [("191", CGA_DATE)]


# -- the patient -----------------------------------------------------------------------------


@pytest.mark.parametrize("situation", ["not-insured", "future-insured", "deceased"])
def test_a_patient_not_covered_today_is_unknown_120(
    world: Population, gp: Provider, situation: str
) -> None:
    patient = world.situation(situation)
    assert _codes(decide_attestation(_query(gp.nihii, patient), world, TODAY)) == [
        ("120", PATIENT_ID)
    ]


def test_a_niss_nobody_has_is_unknown_120(world: Population, gp: Provider) -> None:
    patient = dataclasses.replace(_plain(world), ssin=world.unknown_ssin(3))
    assert _codes(decide_attestation(_query(gp.nihii, patient), world, TODAY)) == [
        ("120", PATIENT_ID)
    ]


def test_a_malformed_niss_is_111(world: Population, gp: Provider) -> None:
    query = _query(gp.nihii, _plain(world), patient_ssin="12345678901")
    assert ("111", PATIENT_ID) in _codes(decide_attestation(query, world, TODAY))


def test_third_party_payment_mandatory_is_err3pay_196(world: Population, gp: Provider) -> None:
    patient = world.situation("bim")
    assert patient.third_party_payment_mandatory
    assert _codes(decide_attestation(_query(gp.nihii, patient), world, TODAY)) == [
        ("196", PATIENT_ID)
    ]


def test_third_party_payment_is_not_mandatory_on_home_visits_or_in_nursing_homes(
    world: Population, gp: Provider
) -> None:
    visit = _query(gp.nihii, world.situation("bim"), _service("103132"))
    assert decide_attestation(visit, world, TODAY).accepted
    home = _query(gp.nihii, world.situation("bim-nursing-home"))
    assert decide_attestation(home, world, TODAY).accepted


def test_medical_house_patient_is_169(world: Population, gp: Provider) -> None:
    patient = world.situation("medical-house")
    assert _codes(decide_attestation(_query(gp.nihii, patient), world, TODAY)) == [
        ("169", CLAIM_CD)
    ]


def test_a_supplement_for_a_no_supp_patient_is_130(world: Population, gp: Provider) -> None:
    patient = world.situation("bim")
    query = _query(gp.nihii, patient, _service("103132"), supplement="5.00")
    assert _codes(decide_attestation(query, world, TODAY)) == [("130", SUPPLEMENT)]
    income = world.situation("bim-income")  # BIM after an income check: supplements allowed
    assert not income.no_supplement
    allowed = _query(gp.nihii, income, _service("103132"), supplement="5.00")
    assert decide_attestation(allowed, world, TODAY).accepted


# -- DMG (504949 / 167) ------------------------------------------------------------------------


def test_a_gmd_manager_who_is_not_the_holder_is_504949_167(world: Population, gp: Provider) -> None:
    patient = world.situation("regular-dmg")
    assert patient.dmg_holder is not None
    wrong = next(
        p.nihii for p in world.providers_of_kind("GP") if p.nihii[:8] != patient.dmg_holder[:8]
    )
    query = _query(gp.nihii, patient, _service(gmd_manager=wrong))
    assert _codes(decide_attestation(query, world, TODAY)) == [("167", GMD_MANAGER_ID)]
    right = _query(gp.nihii, patient, _service(gmd_manager=patient.dmg_holder))
    assert decide_attestation(right, world, TODAY).accepted
    bad = _query(gp.nihii, patient, _service(gmd_manager="12345678901"))
    assert _codes(decide_attestation(bad, world, TODAY)) == [("111", GMD_MANAGER_ID)]


# -- codes -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("code", "expected"),
    [("371011", "171"), ("102771", "195"), ("109594", "195"), ("101033", "130"), ("999995", "130")],
)
def test_codes_not_allowed(world: Population, gp: Provider, code: str, expected: str) -> None:
    query = _query(gp.nihii, _plain(world), _service(code))
    assert _codes(decide_attestation(query, world, TODAY)) == [(expected, CLAIM_CD)]


def _billed(patient: Patient, provider: str, day: date = TODAY, **changes: Any) -> LedgerService:
    """A consultation the insurer already accepted (attested, or billed by eFact)."""
    service = LedgerService(
        patient.insurer, patient.ssin, "101032", day, provider, Channel.EATTEST, "x", 0
    )
    return dataclasses.replace(service, **changes)


def test_duplicate_consultation_is_502255_190(world: Population, gp: Provider) -> None:
    patient = _plain(world)
    query = _query(gp.nihii, patient)
    earlier = _billed(patient, gp.nihii)
    assert _codes(decide_attestation(query, world, TODAY, [earlier])) == [("190", QUANTITY)]
    # Billed by eFact rather than attested: the same duplicate.
    efact = dataclasses.replace(earlier, channel=Channel.EFACT, source="file/1")
    assert _codes(decide_attestation(query, world, TODAY, [efact])) == [("190", QUANTITY)]
    # Another day, or another insurer's record: no duplicate.
    yesterday = dataclasses.replace(earlier, day=TODAY - timedelta(days=1))
    assert decide_attestation(query, world, TODAY, [yesterday]).accepted
    elsewhere = dataclasses.replace(earlier, insurer="999")
    assert decide_attestation(query, world, TODAY, [elsewhere]).accepted
    twice = _query(gp.nihii, patient, _service(), _service())
    assert _codes(decide_attestation(twice, world, TODAY)) == [("190", QUANTITY)]
    assert _codes(duplicate_outcome(decide_attestation(query, world, TODAY))) == [("190", QUANTITY)]


def test_a_second_gps_contact_the_same_day_is_not_a_duplicate(
    world: Population, gp: Provider
) -> None:
    patient = _plain(world)
    colleague = world.providers_of_kind("GP")[1]
    earlier = _billed(patient, colleague.nihii)
    assert decide_attestation(_query(gp.nihii, patient), world, TODAY, [earlier]).accepted


def test_a_declared_distinct_contact_is_not_a_duplicate(world: Population, gp: Provider) -> None:
    patient = _plain(world)
    earlier = _billed(patient, gp.nihii)
    distinct = _query(gp.nihii, patient, _service(exemption="01"))
    outcome = decide_attestation(distinct, world, TODAY, [earlier])
    assert outcome.accepted and outcome.lines[0].distinct
    # 00 declares nothing; a value outside the CIN list is refused.
    plain = _query(gp.nihii, patient, _service(exemption="00"))
    assert _codes(decide_attestation(plain, world, TODAY, [earlier])) == [("190", QUANTITY)]
    wrong = _query(gp.nihii, patient, _service(exemption="99"))
    assert _codes(decide_attestation(wrong, world, TODAY)) == [("130", EXEMPTION)]


def test_a_consultation_and_a_visit_by_one_gp_the_same_day_do_not_cumulate(
    world: Population, gp: Provider
) -> None:
    patient = _plain(world)
    earlier = _billed(patient, gp.nihii, code="103132")
    (error,) = decide_attestation(_query(gp.nihii, patient), world, TODAY, [earlier]).errors
    assert (error.code, error.path) == ("192", ENCOUNTER_DATE)


def test_attested_services_are_what_the_ledger_keeps(world: Population, gp: Provider) -> None:
    patient = _plain(world)
    query = _query(gp.nihii, patient, _service(exemption="01"), _service("999995"))
    (service,) = attested_services(query, patient, TODAY, "500-1-261123-0000001-xx")
    assert (service.code, service.provider, service.channel, service.distinct) == (
        "101032",
        gp.nihii,
        Channel.EATTEST,
        True,
    )
    assert (service.source, service.line, service.insurer) == (
        "500-1-261123-0000001-xx",
        0,
        patient.insurer,
    )


# -- author and request --------------------------------------------------------------------------


def test_author_rules(world: Population) -> None:
    patient = _plain(world)
    missing = dataclasses.replace(_query(WALK_IN_GP, patient), author_nihii=None)
    assert ("100", AUTHOR) in _codes(decide_attestation(missing, world, TODAY))
    bad = _query("12345678901", patient)
    assert ("111", AUTHOR_ID) in _codes(decide_attestation(bad, world, TODAY))
    other = _query(WALK_IN_GP, patient, envelope_provider_nihii=make_nihii("199998", "003"))
    assert ("155", AUTHOR_ID) in _codes(decide_attestation(other, world, TODAY))
    nurse = make_nihii("499999", "000")
    assert ("140", AUTHOR_ID) in _codes(decide_attestation(_query(nurse, patient), world, TODAY))
    assert decide_attestation(_query(WALK_IN_GP, patient), world, TODAY).accepted


def test_request_id_rules(world: Population, gp: Provider) -> None:
    patient = _plain(world)
    assert _codes(decide_attestation(_query(gp.nihii, patient, request_id="x"), world, TODAY)) == [
        ("111", REQUEST_ID)
    ]
    foreign = _query(gp.nihii, patient, request_id=f"{WALK_IN_GP}.20261123101010")
    assert _codes(decide_attestation(foreign, world, TODAY)) == [("155", REQUEST_ID)]


def test_global_part_rules(world: Population, gp: Provider) -> None:
    patient = _plain(world)
    no_cbe = _query(gp.nihii, patient, receiving_party=None)
    (error,) = decide_attestation(no_cbe, world, TODAY).errors
    assert error.code == "100" and "BCE" in error.message_fr
    bad_cbe = _query(gp.nihii, patient, receiving_party="0123456789")
    assert _codes(decide_attestation(bad_cbe, world, TODAY)) == [("111", RECEIVING_PARTY)]
    no_paid = _query(gp.nihii, patient, patient_paid=None)
    (error,) = decide_attestation(no_paid, world, TODAY).errors
    assert error.code == "100" and "montant" in error.message_fr
    no_cgd = _query(gp.nihii, patient, services=())
    assert [e.code for e in decide_attestation(no_cgd, world, TODAY).errors] == ["100"]


# -- cancellation ------------------------------------------------------------------------------


def _issued(
    patient: Patient, author: str, day: date = TODAY, cancelled: str | None = None
) -> Attested:
    number = invoicing_number(patient.insurer, day, 42)
    return Attested(number, patient.ssin, author, day, ("101032",), cancelled)


def _cancel(author: str, patient: Patient, attested: Attested, **changes: Any) -> CancellationQuery:
    query = CancellationQuery(
        request_id=f"{author}.20261123101010",
        author_nihii=author,
        author_type="persphysician",
        patient_ssin=patient.ssin,
        has_invoicing_item=True,
        invoicing_number=attested.number,
        reason="B",
    )
    return dataclasses.replace(query, **changes)


def test_cancellation_accepted_for_each_reason(world: Population, gp: Provider) -> None:
    patient = _plain(world)
    attested = _issued(patient, gp.nihii)
    for reason in "ABCDEFG":
        outcome = decide_cancellation(
            _cancel(gp.nihii, patient, attested, reason=reason), world, TODAY, attested
        )
        assert outcome.accepted and outcome.attested == attested and outcome.reason == reason


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ({"reason": "Z"}, ("130", REASON_CD)),
        ({"reason": "ab"}, ("111", REASON_CD)),
        ({"invoicing_number": "300-1-170127-0000005-33"}, ("111", INVOICING_TEXT)),
    ],
)
def test_cancellation_format_rules(
    world: Population, gp: Provider, change: dict[str, str], expected: tuple[str, str]
) -> None:
    patient = _plain(world)
    attested = _issued(patient, gp.nihii)
    query = _cancel(gp.nihii, patient, attested, **change)
    assert _codes(decide_cancellation(query, world, TODAY, attested)) == [expected]


def test_cancellation_missing_parts_are_100(world: Population, gp: Provider) -> None:
    patient = _plain(world)
    attested = _issued(patient, gp.nihii)
    no_reason = decide_cancellation(
        _cancel(gp.nihii, patient, attested, reason=None), world, TODAY, attested
    )
    assert [e.code for e in no_reason.errors] == ["100"] and "raison" in no_reason.errors[
        0
    ].message_fr
    no_item = _cancel(gp.nihii, patient, attested, has_invoicing_item=False, invoicing_number=None)
    assert [e.code for e in decide_cancellation(no_item, world, TODAY, None).errors] == ["100"]


def test_cancellation_of_an_unknown_number_is_141(world: Population, gp: Provider) -> None:
    patient = _plain(world)
    query = _cancel(gp.nihii, patient, _issued(patient, gp.nihii))
    assert _codes(decide_cancellation(query, world, TODAY, None)) == [("141", INVOICING_TEXT)]


def test_cancellation_for_another_patient_is_244_and_by_another_author_245(
    world: Population, gp: Provider
) -> None:
    patient = _plain(world)
    other = world.situation("regular")
    attested = _issued(patient, gp.nihii)
    query = _cancel(gp.nihii, other, attested)
    assert _codes(decide_cancellation(query, world, TODAY, attested)) == [("244", INVOICING_TEXT)]
    by_other = _cancel(WALK_IN_GP, patient, attested)
    assert _codes(decide_cancellation(by_other, world, TODAY, attested)) == [
        ("245", INVOICING_TEXT)
    ]


def test_cancellation_out_of_the_window_is_239_and_twice_is_240(
    world: Population, gp: Provider
) -> None:
    patient = _plain(world)
    old = _issued(patient, gp.nihii, day=TODAY - CANCELLATION_WINDOW - timedelta(days=1))
    query = _cancel(gp.nihii, patient, old)
    assert _codes(decide_cancellation(query, world, TODAY, old)) == [("239", INVOICING_TEXT)]
    last_day = _issued(patient, gp.nihii, day=TODAY - CANCELLATION_WINDOW)
    assert decide_cancellation(
        _cancel(gp.nihii, patient, last_day), world, TODAY, last_day
    ).accepted
    done = _issued(patient, gp.nihii, cancelled="A")
    assert _codes(decide_cancellation(_cancel(gp.nihii, patient, done), world, TODAY, done)) == [
        ("240", INVOICING_TEXT)
    ]
    assert _codes(already_cancelled()) == [("240", INVOICING_TEXT)]


def test_the_annual_oral_exam_twice_in_a_year_is_190(world: Population) -> None:
    dentist = world.providers_of_kind("DENTIST")[0].nihii
    child = world.situation("child")
    query = _query(dentist, child, _service("371571"), author_type="persdentist")
    assert decide_attestation(query, world, TODAY).accepted
    in_spring = _billed(child, dentist, date(TODAY.year, 3, 2), code="371571")
    assert _codes(decide_attestation(query, world, TODAY, [in_spring])) == [("190", QUANTITY)]
    last_year = dataclasses.replace(in_spring, day=date(TODAY.year - 1, 12, 30))
    assert decide_attestation(query, world, TODAY, [last_year]).accepted
