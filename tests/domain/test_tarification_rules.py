"""eTar rules (domain-rules 4): one test per CD-ERROR-MYCARENET code, then the amounts."""

import dataclasses
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import pytest

from simulator.domain import nomenclature
from simulator.domain.identifiers import make_nihii
from simulator.domain.population import Patient, Population, Provider, build_population
from simulator.domain.tarification import (
    AUTHOR,
    AUTHOR_ID,
    CLAIM,
    CLAIM_CD,
    ENCOUNTER,
    ENCOUNTER_DATE,
    GMD_MANAGER_ID,
    JUSTIFICATION_CD,
    PATIENT_ID,
    REQUEST_ID,
    TRANSACTION_CD,
    TariffClaim,
    TarificationOutcome,
    TarificationQuery,
    consult_tariff,
    months_before,
)

TODAY = date(2026, 11, 23)
WALK_IN_GP = make_nihii("199999", "003")  # valid, not in the population
WALK_IN_DENTIST = make_nihii("399999", "001")


@pytest.fixture(scope="module")
def world() -> Population:
    return build_population(seed=21, patients=50, providers=6, today=TODAY)


def gp_of(world: Population, patient: Patient) -> Provider:
    """The GP holding the patient's DMG (or the population's first GP)."""
    nihii = patient.dmg_holder or world.providers_of_kind("GP")[0].nihii
    provider = world.provider(nihii)
    assert provider is not None
    return provider


def ask(
    world: Population,
    patient: Patient | str,
    *codes: str,
    author: str | None = None,
    **overrides: Any,
) -> TarificationOutcome:
    """A well-formed consultation for today, changed by `overrides`."""
    ssin = patient if isinstance(patient, str) else patient.ssin
    if author is None:
        author = world.providers_of_kind("GP")[0].nihii
        if not isinstance(patient, str):
            author = gp_of(world, patient).nihii
    query = TarificationQuery(
        request_id=f"{author}.20261123101500",
        author_nihii=author,
        author_type="persphysician" if author[0] == "1" else "persdentist",
        patient_ssin=ssin,
        encounter_date=TODAY.isoformat(),
        claims=tuple(TariffClaim(code) for code in codes or ("101032",)),
        envelope_provider_nihii=author,
        envelope_patient_ssin=ssin,
    )
    return consult_tariff(dataclasses.replace(query, **overrides), world, TODAY)


def codes(outcome: TarificationOutcome) -> list[tuple[str, str]]:
    assert not outcome.lines  # never lines with errors
    return [(error.code, error.path) for error in outcome.errors]


def test_regular_patient_is_priced(world: Population) -> None:
    patient = world.situation("regular-dmg")
    outcome = ask(world, patient, "101032", "102432")
    assert outcome.accepted
    assert outcome.patient == patient and outcome.insurer == patient.insurer
    assert [line.code for line in outcome.lines] == ["101032", "102432"]
    assert all(line.approximate for line in outcome.lines)


@pytest.mark.parametrize(
    ("field", "path"),
    [
        ("request_id", REQUEST_ID),
        ("author_nihii", AUTHOR),
        ("patient_ssin", PATIENT_ID),
        ("encounter_date", ENCOUNTER),
        ("claims", CLAIM),
        ("transaction_type", TRANSACTION_CD),
    ],
)
def test_100_missing(world: Population, field: str, path: str) -> None:
    value: Any = () if field == "claims" else None
    outcome = ask(world, world.situation("regular"), **{field: value})
    assert ("100", path) in codes(outcome)
    assert outcome.errors[0].message_fr and outcome.errors[0].message_nl


@pytest.mark.parametrize(
    ("field", "value", "path"),
    [
        ("request_id", "18334780004-20261123", REQUEST_ID),
        ("author_nihii", "1833478000", AUTHOR_ID),
        ("author_nihii", "18334781004", AUTHOR_ID),  # wrong check digits
        ("patient_ssin", "8507300332", PATIENT_ID),
        ("encounter_date", "23/11/2026", ENCOUNTER_DATE),
        ("encounter_date", "2026-02-30", ENCOUNTER_DATE),
        ("claims", (TariffClaim("101033"),), CLAIM_CD),  # mod-7 check digit wrong
        ("claims", (TariffClaim("10103"),), CLAIM_CD),
    ],
)
def test_111_format(world: Population, field: str, value: Any, path: str) -> None:
    assert ("111", path) in codes(ask(world, world.situation("regular"), **{field: value}))


def test_112_check_digit(world: Population) -> None:
    assert codes(ask(world, "85073003329")) == [("112", PATIENT_ID)]


def test_113_date_before_birth(world: Population) -> None:
    child = world.situation("child")
    before = (child.birth_date - timedelta(days=1)).isoformat()
    assert ("113", ENCOUNTER_DATE) in codes(ask(world, child, encounter_date=before))


def test_120_unknown_patient(world: Population) -> None:
    assert codes(ask(world, world.unknown_ssin())) == [("120", PATIENT_ID)]


@pytest.mark.parametrize("situation", ["not-insured", "future-insured", "deceased"])
def test_120_not_affiliated_on_the_day(world: Population, situation: str) -> None:
    patient = world.situation(situation)
    assert codes(ask(world, patient)) == [("120", PATIENT_ID)]
    if situation != "future-insured":  # still insured a few weeks earlier
        earlier = (TODAY - timedelta(days=50)).isoformat()
        assert ask(world, patient, encounter_date=earlier).accepted


def test_130_values_not_allowed(world: Population) -> None:
    patient = world.situation("regular")
    assert codes(ask(world, patient, "101043")) == [("130", CLAIM_CD)]  # valid shape, unknown
    assert codes(ask(world, patient, transaction_type="attest")) == [("130", TRANSACTION_CD)]
    dentist = world.providers_of_kind("DENTIST")[0].nihii
    adult = ask(world, patient, "371033", author=dentist)  # up to the 19th birthday only
    assert codes(adult) == [("130", CLAIM_CD)]


def test_140_author_not_allowed(world: Population) -> None:
    patient = world.situation("regular")
    specialist = world.providers_of_kind("SPECIALIST")[0].nihii
    assert codes(ask(world, patient, "102012", author=specialist)) == [("140", AUTHOR_ID)]
    physio = "54263481527"
    assert ("140", AUTHOR_ID) in codes(
        ask(world, patient, author=physio, author_type="persphysician")
    )
    mismatch = ask(world, patient, author=WALK_IN_GP, author_type="persdentist")
    assert ("140", AUTHOR_ID) in codes(mismatch)


def test_141_author_unknown_profession(world: Population) -> None:
    unknown = make_nihii("999999", "000")
    assert ("141", AUTHOR_ID) in codes(ask(world, world.situation("regular"), author=unknown))


def test_walk_in_provider_is_accepted(world: Population) -> None:
    outcome = ask(world, world.situation("regular"), author=WALK_IN_GP)
    assert outcome.accepted and outcome.lines[0].patient_fee == Decimal("6.00")


def test_146_future_date(world: Population) -> None:
    tomorrow = (TODAY + timedelta(days=1)).isoformat()
    assert codes(ask(world, world.situation("regular"), encounter_date=tomorrow)) == [
        ("146", ENCOUNTER_DATE)
    ]


def test_166_older_than_two_months(world: Population) -> None:
    patient = world.situation("regular")
    limit = months_before(TODAY, 2)
    assert ask(world, patient, encounter_date=limit.isoformat()).accepted
    too_old = (limit - timedelta(days=1)).isoformat()
    assert codes(ask(world, patient, encounter_date=too_old)) == [("166", ENCOUNTER_DATE)]


def test_months_before_clamps_to_month_end() -> None:
    assert months_before(date(2026, 4, 30), 2) == date(2026, 2, 28)
    assert months_before(date(2026, 1, 15), 2) == date(2025, 11, 15)


def test_155_incoherent_with_the_web_service(world: Population) -> None:
    patient = world.situation("regular")
    other = world.situation("bim")
    assert codes(ask(world, patient, request_id=f"{WALK_IN_GP}.20261123101500")) == [
        ("155", REQUEST_ID)
    ]
    assert codes(ask(world, patient, envelope_provider_nihii=WALK_IN_GP)) == [("155", AUTHOR_ID)]
    assert codes(ask(world, patient, envelope_patient_ssin=other.ssin)) == [("155", PATIENT_ID)]


def test_167_gmdmanager_is_not_the_holder(world: Population) -> None:
    patient = world.situation("regular")  # no DMG at all
    holder = world.situation("regular-dmg").dmg_holder
    outcome = ask(world, patient, author=WALK_IN_GP, gmd_manager_nihii=holder)
    assert codes(outcome) == [("167", GMD_MANAGER_ID)]


def test_174_gmdmanager_equals_author(world: Population) -> None:
    patient = world.situation("regular-dmg")
    author = gp_of(world, patient).nihii
    outcome = ask(world, patient, gmd_manager_nihii=author)
    assert codes(outcome) == [("174", GMD_MANAGER_ID)]


def test_169_medical_house_patient(world: Population) -> None:
    patient = world.situation("medical-house")
    assert codes(ask(world, patient, "101032")) == [("169", CLAIM_CD)]
    dentist = world.providers_of_kind("DENTIST")[0].nihii
    assert ask(world, patient, "301011", author=dentist).accepted  # not covered by the house


def test_170_not_in_order(world: Population) -> None:
    assert codes(ask(world, world.situation("not-in-order"))) == [("170", PATIENT_ID)]


def test_171_code_not_for_this_provider(world: Population) -> None:
    patient = world.situation("regular")
    assert codes(ask(world, patient, "301011")) == [("171", CLAIM_CD)]  # GP billing dental
    dentist = world.providers_of_kind("DENTIST")[0].nihii
    assert codes(ask(world, patient, "101032", author=dentist)) == [("171", CLAIM_CD)]
    assert ("171", CLAIM_CD) in codes(ask(world, patient, "109594"))


def test_172_dmg_code_not_in_efact(world: Population) -> None:
    assert codes(ask(world, world.situation("regular-dmg"), "102771")) == [("172", CLAIM_CD)]


def test_175_not_in_etar_but_in_efact(world: Population) -> None:
    assert codes(ask(world, world.situation("regular"), "103095")) == [("175", CLAIM_CD)]


def test_dental_tooth_and_related_service(world: Population) -> None:
    dentist = world.providers_of_kind("DENTIST")[0].nihii
    patient = world.situation("regular")

    def claim(**kw: str) -> TarificationOutcome:
        return ask(world, patient, author=dentist, claims=(TariffClaim("301011", **kw),))

    assert codes(claim(tooth="1")) == [("111", CLAIM)]
    assert codes(claim(tooth="19")) == [("130", CLAIM)]
    assert codes(claim(tooth="11")) == [("186", CLAIM)]
    assert codes(claim(related_service="301011")) == [("185", CLAIM)]


def test_justification(world: Population) -> None:
    patient = world.situation("regular")
    assert ask(world, patient, justification="NMF001").accepted
    assert codes(ask(world, patient, justification="nmf-1")) == [("111", JUSTIFICATION_CD)]
    assert codes(ask(world, patient, justification="NMF999")) == [("130", JUSTIFICATION_CD)]


def test_all_errors_in_catalogue_order(world: Population) -> None:
    outcome = ask(
        world,
        "85073003329",
        "102771",
        request_id=None,
        encounter_date=(TODAY + timedelta(days=3)).isoformat(),
    )
    assert [e.code for e in outcome.errors] == ["100", "112", "146", "172"]
    assert outcome.patient is None and outcome.insurer is None


# --- amounts ----------------------------------------------------------------------------------


def fee(outcome: TarificationOutcome) -> tuple[Decimal, Decimal, Decimal]:
    assert outcome.accepted, outcome.errors
    line = outcome.lines[0]
    assert line.fee == line.reimbursement + line.patient_fee
    return line.fee, line.reimbursement, line.patient_fee


@pytest.mark.parametrize(
    ("situation", "with_holder", "share"),
    [
        ("regular-dmg", True, "4.00"),
        ("regular-dmg", False, "6.00"),  # DMG held by someone else: no DMG share
        ("regular", False, "6.00"),
        ("bim-dmg", True, "1.00"),  # BIM over 24
        ("bim-dmg", False, "1.50"),
        ("bim", False, "1.50"),
        ("child-bim-dmg", True, "0.00"),  # BIM <= 24 with DMG
        ("young-bim-dmg", True, "0.00"),
        ("young-bim-dmg", False, "1.50"),
        ("senior", True, "4.00"),
    ],
)
def test_gp_consultation_shares(
    world: Population, situation: str, with_holder: bool, share: str
) -> None:
    patient = world.situation(situation)
    author = gp_of(world, patient).nihii if with_holder else WALK_IN_GP
    assert fee(ask(world, patient, "101032", author=author)) == (
        Decimal("30.00"),
        Decimal("30.00") - Decimal(share),
        Decimal(share),
    )


def test_gmdmanager_colleague_gives_the_dmg_share(world: Population) -> None:
    patient = world.situation("regular-dmg")
    outcome = ask(world, patient, "101032", author=WALK_IN_GP, gmd_manager_nihii=patient.dmg_holder)
    assert fee(outcome)[2] == Decimal("4.00")


def test_supplement_is_fully_reimbursed(world: Population) -> None:
    outcome = ask(world, world.situation("regular"), "102432", author=WALK_IN_GP)
    assert fee(outcome)[2] == Decimal("0.00")


def test_dental_children_free_adults_pay(world: Population) -> None:
    dentist = world.providers_of_kind("DENTIST")[0].nihii
    child = fee(ask(world, world.situation("child"), "371033", author=dentist))
    assert child == (Decimal("37.50"), Decimal("37.50"), Decimal("0.00"))  # N11 x 3.409091
    adult = fee(ask(world, world.situation("regular"), "301011", author=WALK_IN_DENTIST))
    assert adult[2] > 0


def test_price_refuses_what_the_rules_must_catch_first(world: Population) -> None:
    patient = world.situation("regular")
    with pytest.raises(KeyError, match="101043"):
        nomenclature.price("101043", patient, "GP", TODAY, dmg_with_author=False)
    with pytest.raises(ValueError, match="DENTIST may not bill 101032"):
        nomenclature.price("101032", patient, "DENTIST", TODAY, dmg_with_author=False)
    assert nomenclature.lookup("0101032") == nomenclature.lookup("101032")
    assert all(entry.approximate for entry in nomenclature.TABLE.values())
