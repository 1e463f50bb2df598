"""MediPrima rules (domain-rules 8): consultation, the transition rule, UMA and CAAMI tarification.

Each rejection is produced by the population situation built to cause it.
"""

import dataclasses
from datetime import date, timedelta
from decimal import Decimal

import pytest

from simulator.domain.cpas import (
    MEDIPRIMA_GP_OPEN,
    MEDIPRIMA_MANDATORY,
    CareKind,
    Cover,
    CpasDecision,
    Support,
)
from simulator.domain.mediprima import (
    DATA_NOT_FOUND,
    REQUESTER,
    SUCCESS,
    BillingRoute,
    ConsultAnswer,
    ConsultQuery,
    billing_route,
    consult_carmed,
    mediprima_start,
    uma_attestation_for,
)
from simulator.domain.population import SITUATIONS, Patient, Population, build_population
from simulator.domain.tarification import TariffClaim, TarificationQuery
from simulator.domain.tarification_mediprima import (
    MediprimaOutcome,
    consult_mediprima_tariff,
    fill,
    split,
)
from simulator.domain.uma import (
    Party,
    SendUma,
    UmaAttestation,
    attestation_number,
    check_delete,
    check_send,
    search,
)

TODAY = date(2026, 11, 23)
NIHII_TYPE = "urn:be:fgov:ehealth:1.0:physician:nihii-number"


@pytest.fixture(scope="module")
def world() -> Population:
    return build_population(seed=5, patients=len(SITUATIONS) + 10, providers=10, today=TODAY)


@pytest.fixture(scope="module")
def gp(world: Population) -> str:
    return world.providers_of_kind("GP")[0].nihii  # the GP every listed decision names


def _decision(patient: Patient) -> CpasDecision:
    (decision,) = patient.cpas_decisions
    return decision


# -- consultation -----------------------------------------------------------------------------


def _consult(world: Population, gp: str, situation: str, day: date = TODAY) -> ConsultAnswer:
    ssin = world.situation(situation).ssin
    return consult_carmed(ConsultQuery(ssin, day, day, gp), world, TODAY)


def test_an_active_listed_decision_gets_an_agreement(world: Population, gp: str) -> None:
    answer = _consult(world, gp, "mediprima-full")
    assert (answer.status, answer.messages) == (SUCCESS, ())
    (result,) = answer.results
    assert result.agreement and result.decision is _decision(world.situation("mediprima-full"))


@pytest.mark.parametrize(
    ("situation", "status", "reason", "found"),
    [
        ("mediprima-suspended", SUCCESS, "DECISION_SUSPENDED", True),
        ("mediprima-not-listed", SUCCESS, "NOT_IN_PROVIDER_LIST", True),
        ("mediprima-cover-inactive", SUCCESS, "DOCTOR_COVER_INACTIVE", True),
        ("mediprima-no-doctor-cover", SUCCESS, "NO_DOCTOR_COVER", True),
        ("mediprima-old-path", SUCCESS, "OLD_PATH", True),
        ("mediprima-uma-missing", SUCCESS, "URGENT_MEDICAL_AID_ATTESTATION_REQUIRED", True),
        ("mediprima-expired", DATA_NOT_FOUND, "NO_ACTIVE_DECISION", False),
        ("regular", DATA_NOT_FOUND, "NO_DECISION", False),
    ],
)
def test_each_situation_has_its_registry_reason(
    world: Population, gp: str, situation: str, status: str, reason: str, found: bool
) -> None:
    answer = _consult(world, gp, situation)
    assert (answer.status, [m.code for m in answer.messages]) == (status, [reason])
    assert answer.found is found
    # An urgent-aid decision without attestation still gets its agreement, and so does an
    # old-path one: MediPrima takes it too, the CPAS may still be billed (docs/rules.md).
    agreed = situation in ("mediprima-uma-missing", "mediprima-old-path")
    assert all(r.agreement is agreed for r in answer.results)


def test_the_expired_reason_says_when_the_decision_ended(world: Population, gp: str) -> None:
    end = _decision(world.situation("mediprima-expired")).end
    (message,) = _consult(world, gp, "mediprima-expired").messages
    assert str(end) in message.fr and str(end) in message.nl


def test_bad_ssin_and_reversed_period_are_the_requesters_errors(world: Population) -> None:
    bad = consult_carmed(ConsultQuery("12345678901", TODAY, TODAY), world, TODAY)
    assert (bad.status, [m.code for m in bad.messages]) == (REQUESTER, ["INVALID_SSIN"])
    ssin = world.situation("mediprima-full").ssin
    reversed_ = consult_carmed(ConsultQuery(ssin, TODAY, TODAY - timedelta(days=1)), world, TODAY)
    assert [m.code for m in reversed_.messages] == ["INVALID_PERIOD"]


def test_a_period_reaching_back_finds_the_expired_decision(world: Population) -> None:
    decision = _decision(world.situation("mediprima-expired"))
    assert decision.end is not None
    query = ConsultQuery(world.situation("mediprima-expired").ssin, decision.end, TODAY)
    answer = consult_carmed(query, world, TODAY)
    assert [r.decision for r in answer.results] == [decision]


def test_the_uma_number_comes_from_the_decision_or_the_latest_overlapping_attestation(
    world: Population,
) -> None:
    made = _decision(world.situation("mediprima-uma"))
    assert uma_attestation_for(made, TODAY, TODAY, []) == made.uma_attestation
    missing = _decision(world.situation("mediprima-uma-missing"))
    sent = [
        ("UMA-20261101-00000001", date(2026, 11, 1), date(2026, 11, 2)),
        ("UMA-20261120-00000007", date(2026, 11, 20), None),
    ]
    assert uma_attestation_for(missing, TODAY, TODAY, sent) == "UMA-20261120-00000007"
    assert uma_attestation_for(missing, date(2026, 11, 5), date(2026, 11, 6), sent) is None
    full = _decision(world.situation("mediprima-full"))
    assert uma_attestation_for(full, TODAY, TODAY, sent) is None  # no urgent aid, no link


# -- the transition rule ----------------------------------------------------------------------


def _new_decision(world: Population) -> CpasDecision:
    return dataclasses.replace(
        _decision(world.situation("mediprima-full")), start=date(2025, 9, 15)
    )


def test_billing_the_cpas_stays_allowed_until_the_end_of_october_2025(world: Population) -> None:
    decision = _new_decision(world)
    assert billing_route(decision, date(2025, 10, 31)) is BillingRoute.CPAS_OR_MEDIPRIMA
    assert billing_route(decision, MEDIPRIMA_MANDATORY) is BillingRoute.MEDIPRIMA
    assert billing_route(decision, date(2025, 9, 14)) is BillingRoute.CPAS  # before its start


def test_a_decision_taken_before_september_2025_may_keep_the_old_path(
    world: Population,
) -> None:
    # docs/rules.md "MediPrima dates": the CPAS may still be billed for good, MediPrima too.
    old = _decision(world.situation("mediprima-old-path"))
    assert mediprima_start(old) == old.start
    assert billing_route(old, TODAY) is BillingRoute.CPAS_OR_MEDIPRIMA
    assert billing_route(old, date(2030, 1, 1)) is BillingRoute.CPAS_OR_MEDIPRIMA
    assert mediprima_start(_new_decision(world)) == date(2025, 9, 15)


def test_gps_could_bill_mediprima_since_october_2017(world: Population) -> None:
    decision = dataclasses.replace(_new_decision(world), start=date(2017, 6, 1))
    assert mediprima_start(decision) == MEDIPRIMA_GP_OPEN == date(2017, 10, 1)
    assert billing_route(decision, date(2017, 9, 30)) is BillingRoute.CPAS
    assert billing_route(decision, date(2017, 10, 1)) is BillingRoute.CPAS_OR_MEDIPRIMA
    assert billing_route(decision, date(2025, 8, 1)) is BillingRoute.CPAS_OR_MEDIPRIMA


# -- UMA --------------------------------------------------------------------------------------


def _author(nihii: str) -> tuple[Party, ...]:
    return (Party(((NIHII_TYPE, nihii),), "Peeters", "An"),)


def _send(world: Population, gp: str, situation: str, **changes: object) -> SendUma:
    send = SendUma(_author(gp), world.situation(situation).ssin, TODAY, None, "DOCTOR")
    return dataclasses.replace(send, **changes)  # type: ignore[arg-type]


def test_an_urgent_aid_decision_accepts_an_attestation(world: Population, gp: str) -> None:
    assert check_send(_send(world, gp, "mediprima-uma-missing"), world, TODAY, []) is None


@pytest.mark.parametrize(
    ("situation", "changes", "code"),
    [
        ("mediprima-full", {}, "NOT_URGENT_MEDICAL_AID"),
        ("regular", {}, "NO_DECISION"),
        ("mediprima-uma", {"beneficiary_ssin": "12345678901"}, "INVALID_SSIN"),
        ("mediprima-uma", {"start": TODAY + timedelta(days=1)}, "START_IN_FUTURE"),
        ("mediprima-uma", {"end": TODAY - timedelta(days=1)}, "INVALID_PERIOD"),
        ("mediprima-uma", {"medical_cover": "  "}, "INVALID_MEDICAL_COVER"),
        ("mediprima-uma", {"author": (Party((), "Nobody"),)}, "AUTHOR_NOT_DOCTOR"),
    ],
)
def test_each_refused_attestation_has_its_code(
    world: Population, gp: str, situation: str, changes: dict[str, object], code: str
) -> None:
    problem = check_send(_send(world, gp, situation, **changes), world, TODAY, [])
    assert problem is not None and problem.code == code


def test_the_author_must_be_the_authenticated_caller(world: Population, gp: str) -> None:
    send = _send(world, gp, "mediprima-uma-missing")
    other = world.providers_of_kind("GP")[1].nihii
    problem = check_send(send, world, TODAY, [], caller_nihii=other)
    assert problem is not None and problem.code == "AUTHOR_NOT_CALLER"
    assert check_send(send, world, TODAY, [], caller_nihii=gp[:8] + "000") is None


def test_a_dentist_cannot_attest_urgent_medical_aid(world: Population) -> None:
    dentist = world.providers_of_kind("DENTIST")[0].nihii
    problem = check_send(_send(world, dentist, "mediprima-uma"), world, TODAY, [])
    assert problem is not None and problem.code == "AUTHOR_NOT_DOCTOR"


def _held(
    number: str, start: date, end: date | None = None, cover: str = "DOCTOR"
) -> UmaAttestation:
    return UmaAttestation(number, _author("10000000004"), "00011317652", start, end, cover, start)


def test_the_same_attestation_twice_is_a_duplicate(world: Population, gp: str) -> None:
    send = _send(world, gp, "mediprima-uma-missing")
    problem = check_send(send, world, TODAY, [_held("N1", send.start)])
    assert problem is not None and (problem.code, "N1" in problem.fr) == ("DUPLICATE", True)


def test_search_by_number_or_by_period_and_cover() -> None:
    held = [
        _held("N2", date(2026, 11, 10), date(2026, 11, 12)),
        _held("N1", date(2026, 11, 1), date(2026, 11, 3), cover="PHARMACY"),
        _held("N3", date(2026, 11, 20)),
    ]
    assert [a.number for a in search(held, number="N3")] == ["N3"]
    window = search(held, start=date(2026, 11, 2), end=date(2026, 11, 11))
    assert [a.number for a in window] == ["N1", "N2"]
    assert [a.number for a in search(held, start=date(2026, 11, 2), medical_cover="DOCTOR")] == [
        "N2",
        "N3",
    ]


def test_only_the_author_deletes() -> None:
    held = _held("N1", TODAY)
    assert check_delete(held, "N1", held.beneficiary_ssin, "10000000004") is None
    assert check_delete(held, "N1", held.beneficiary_ssin, "10000000999") is None  # same person
    refused = check_delete(held, "N1", held.beneficiary_ssin, "19999999001")
    missing = check_delete(None, "N9", held.beneficiary_ssin, "10000000004")
    assert refused is not None and refused.code == "NOT_AUTHOR"
    assert missing is not None and missing.code == "NOT_FOUND"


def test_an_attestation_survives_its_record_form() -> None:
    held = _held("UMA-20261123-00000001", TODAY, TODAY + timedelta(days=2))
    assert UmaAttestation.from_record(held.to_record()) == held
    assert attestation_number(TODAY, 42) == "UMA-20261123-00000042"


# -- CAAMI tarification -----------------------------------------------------------------------


def _tariff(
    world: Population,
    situation: str,
    author: str,
    codes: tuple[str, ...] = ("101032",),
    day: date = TODAY,
    **changes: object,
) -> MediprimaOutcome:
    query = TarificationQuery(
        request_id=f"{author}.20261123101112",
        author_nihii=author,
        author_type="persdentist" if author[0] == "3" else "persphysician",
        patient_ssin=world.situation(situation).ssin,
        encounter_date=day.isoformat(),
        claims=tuple(TariffClaim(code) for code in codes),
        transaction_type="tariffmediprima",
    )
    return consult_mediprima_tariff(dataclasses.replace(query, **changes), world, TODAY)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("situation", "code"),
    [
        ("deceased", "200"),
        ("mediprima-expired", "201"),
        ("regular", "202"),
        ("mediprima-suspended", "203"),
        ("mediprima-not-listed", "204"),
        ("mediprima-cover-inactive", "206"),
        ("mediprima-no-doctor-cover", "207"),
    ],
)
def test_each_decision_problem_is_rejected_with_its_code(
    world: Population, gp: str, situation: str, code: str
) -> None:
    outcome = _tariff(world, situation, gp)
    assert ([e.code for e in outcome.errors], outcome.lines) == ([code], ())
    (error,) = outcome.errors
    assert "{" not in error.message_fr and "<DATE>" not in error.message_fr and error.message_nl


def test_care_before_october_2017_is_205_with_the_date(gp: str) -> None:
    # docs/rules.md "CAAMI tarification": GPs could bill MediPrima from 1 Oct 2017 only.
    today = date(2017, 10, 20)
    early = build_population(seed=5, patients=len(SITUATIONS) + 10, providers=10, today=today)
    decision = _decision(early.situation("mediprima-full"))
    assert decision.start < date(2017, 10, 1)
    query = TarificationQuery(
        request_id=f"{gp}.20171020101112",
        author_nihii=gp,
        author_type="persphysician",
        patient_ssin=early.situation("mediprima-full").ssin,
        encounter_date=decision.start.isoformat(),
        claims=(TariffClaim("101032"),),
        transaction_type="tariffmediprima",
    )
    (error,) = consult_mediprima_tariff(query, early, today).errors
    assert error.code == "205"
    assert "01/10/2017" in error.message_fr and "CPAS" in error.message_fr
    on_time = dataclasses.replace(query, encounter_date="2017-10-02")
    assert consult_mediprima_tariff(on_time, early, today).accepted


def test_an_old_path_decision_is_priced_too(world: Population, gp: str) -> None:
    outcome = _tariff(world, "mediprima-old-path", gp)
    assert outcome.accepted and outcome.route is BillingRoute.CPAS_OR_MEDIPRIMA


def test_an_unknown_ssin_has_no_decision(world: Population, gp: str) -> None:
    outcome = _tariff(world, "mediprima-full", gp, patient_ssin=world.unknown_ssin())
    assert [e.code for e in outcome.errors] == ["202"]


def test_an_age_bound_code_for_an_adult_is_183(world: Population) -> None:
    dentist = world.providers_of_kind("DENTIST")[0].nihii
    assert world.situation("mediprima-full").age_on(TODAY) >= 19
    outcome = _tariff(world, "mediprima-full", dentist, codes=("371033",))
    assert [e.code for e in outcome.errors] == ["183"]


def test_a_code_past_its_last_day_is_196(world: Population, gp: str) -> None:
    assert [e.code for e in _tariff(world, "mediprima-full", gp, codes=("101010",)).errors] == [
        "196"
    ]
    earlier = date(2025, 12, 31)
    # On its last day the code is still priced (the rule reads the care day, not the clock).
    outcome = consult_mediprima_tariff(
        TarificationQuery(
            request_id=f"{gp}.20251231101112",
            author_nihii=gp,
            author_type="persphysician",
            patient_ssin=world.situation("mediprima-full").ssin,
            encounter_date=earlier.isoformat(),
            claims=(TariffClaim("101010"),),
            transaction_type="tariffmediprima",
        ),
        world,
        earlier + timedelta(days=1),
    )
    assert "196" not in [e.code for e in outcome.errors]


def test_the_plain_etar_transaction_is_refused(world: Population, gp: str) -> None:
    outcome = _tariff(world, "mediprima-full", gp, transaction_type="tariff")
    assert [e.code for e in outcome.errors] == ["130"]


def test_full_cover_the_state_pays_the_fee(world: Population, gp: str) -> None:
    outcome = _tariff(world, "mediprima-full", gp)
    (line,) = outcome.lines
    assert (line.fee, line.reimbursement_fpssi, line.reimbursement_pswc, line.patient_fee) == (
        Decimal("30.00"),
        Decimal("30.00"),
        Decimal("0.00"),
        Decimal("0.00"),
    )
    assert outcome.route is BillingRoute.MEDIPRIMA and not outcome.urgent_medical_care


def test_partial_cover_splits_between_state_cpas_and_patient(world: Population, gp: str) -> None:
    (line,) = _tariff(world, "mediprima-partial", gp).lines
    assert (line.reimbursement_fpssi, line.reimbursement_pswc, line.patient_fee) == (
        Decimal("15.00"),
        Decimal("12.00"),
        Decimal("3.00"),
    )


def test_urgent_aid_needs_an_attestation_before_it_is_priced(world: Population, gp: str) -> None:
    # docs/rules.md "CAAMI tarification" 208: CAAMI checks the AMU attestation first.
    (error,) = _tariff(world, "mediprima-uma-missing", gp).errors
    decision = _decision(world.situation("mediprima-uma-missing"))
    assert error.code == "208" and decision.carmed_number in error.message_fr
    query = TarificationQuery(
        request_id=f"{gp}.20261123101112",
        author_nihii=gp,
        author_type="persphysician",
        patient_ssin=world.situation("mediprima-uma-missing").ssin,
        encounter_date=TODAY.isoformat(),
        claims=(TariffClaim("101032"),),
        transaction_type="tariffmediprima",
    )
    later = [("UMA-1", TODAY + timedelta(days=1), None)]  # does not cover the care day
    assert [e.code for e in consult_mediprima_tariff(query, world, TODAY, later).errors] == ["208"]
    sent = [("UMA-2", TODAY - timedelta(days=3), TODAY)]
    outcome = consult_mediprima_tariff(query, world, TODAY, sent)
    assert outcome.accepted and outcome.urgent_medical_care
    assert _tariff(world, "mediprima-uma", gp).accepted  # the world's own attestation


def _cover(ziv: Support, patient: Support, ceiling: str | None = None) -> Cover:
    return Cover(
        CareKind.DOCTOR,
        TODAY,
        None,
        ziv,
        patient,
        Support.NOTHING,
        Decimal(ceiling) if ceiling else None,
    )


@pytest.mark.parametrize("refund", [0, 50, 100])
@pytest.mark.parametrize("ziv", list(Support))
@pytest.mark.parametrize("own", list(Support))
def test_the_three_shares_always_add_up_to_the_fee(refund: int, ziv: Support, own: Support) -> None:
    shares = split(Decimal("24.00"), Decimal("6.00"), refund, _cover(ziv, own, "4.00"))
    assert sum(shares) == Decimal("30.00") and all(s >= 0 for s in shares)


def test_the_patient_pays_up_to_the_ceiling_and_the_cpas_the_rest() -> None:
    state, cpas, own = split(
        Decimal("24.00"), Decimal("6.00"), 0, _cover(Support.FULL, Support.PARTIAL, "4.00")
    )
    assert (state, cpas, own) == (Decimal("0.00"), Decimal("26.00"), Decimal("4.00"))
    nothing = split(Decimal("24.00"), Decimal("6.00"), 0, _cover(Support.NOTHING, Support.NOTHING))
    assert nothing == (Decimal("0.00"), Decimal("0.00"), Decimal("30.00"))


def test_catalogue_placeholders_are_filled() -> None:
    text = "La couverture {0} n''est pas présente ({1})."
    assert fill(text, ("Médecin", "123")) == "La couverture Médecin n'est pas présente (123)."
    assert fill("avant le <DATE>.", ("01/09/2025",)) == "avant le 01/09/2025."
