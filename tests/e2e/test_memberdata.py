"""MemberData over HTTP with the package client: facets answered, and each refusal's status."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from simulator.domain.identifiers import make_nihii
from simulator.domain.memberdata import (
    CARE_PATH,
    GLOBAL_MEDICAL_FILE,
    INSURABILITY,
    PATIENT_DATA,
    PAYMENT,
    PERIOD,
    REGISTRATION_AT_MUTUALITY_FORMAT,
    REQUESTER,
    RESPONDER,
    SSIN_AT_MUTUALITY_FORMAT,
    SUCCESS,
    FacetRequest,
)
from simulator.domain.population import Patient, Provider
from tests.e2e.conftest import Running

INFORMATION = FacetRequest(INSURABILITY, (("requestType", "information"), ("contactType", "other")))
HOSPITALIZED = FacetRequest(
    INSURABILITY, (("requestType", "information"), ("contactType", "hospitalized"))
)


def _today(running: Running) -> date:
    return running.sim.clock.today()


def _insured(running: Running, **wanted: object) -> Patient:
    today = _today(running)
    for patient in running.population.patients:
        if patient.period_on(today) is None or patient.death_date is not None:
            continue
        if all(getattr(patient, name) == value for name, value in wanted.items()):
            return patient
    raise AssertionError(f"no insured patient with {wanted}")


async def test_insurability_answers_identity_period_and_payment(running: Running) -> None:
    patient = _insured(running, bim=True)
    today = _today(running)
    async with running.client() as client:
        result = await client.member_data(patient.ssin, today, today + timedelta(days=1))
    assert (result.status, result.detail_codes) == (SUCCESS, ())
    assert result.issuer == f"urn:be:cin:io:{patient.insurer}"
    (identity,) = result.attributes(PATIENT_DATA)
    assert identity["urn:be:fgov:person:ssin"] == patient.ssin
    assert identity["urn:be:cin:nippin:careReceiver:birthDate"] == patient.birth_date.isoformat()
    period = patient.period_on(today)
    assert period is not None
    periods = result.attributes(PERIOD)
    assert periods[-1]["urn:be:cin:nippin:cb1"] == period.ct1
    assert periods[-1]["urn:be:cin:nippin:cb2"] == period.ct2
    assert periods[-1]["urn:be:cin:nippin:careReceiver:mutuality"] == period.mutuality
    (payment,) = result.attributes(PAYMENT)
    assert payment["urn:be:cin:nippin:payment:byIO"] == "true"  # BIM: third-party payment


async def test_the_global_medical_file_names_its_holder(running: Running) -> None:
    patient = next(
        p for p in running.population.patients if p.dmg_holder and p.period_on(_today(running))
    )
    today = _today(running)
    async with running.client() as client:
        result = await client.member_data(
            patient.ssin, today, today, facets=[INFORMATION, FacetRequest(GLOBAL_MEDICAL_FILE)]
        )
    (holder,) = result.attributes(GLOBAL_MEDICAL_FILE)
    assert holder["urn:be:cin:nippin:globalMedicalFile:hcp:nihii11"] == patient.dmg_holder


async def test_a_member_found_by_registration_number(running: Running) -> None:
    patient = _insured(running)
    today = _today(running)
    async with running.client() as client:
        result = await client.member_data(
            f"{patient.registration_number}@{patient.mutuality}",
            today,
            today,
            subject_format=REGISTRATION_AT_MUTUALITY_FORMAT,
        )
    assert result.status == SUCCESS
    assert result.attributes(PATIENT_DATA)[0]["urn:be:fgov:person:ssin"] == patient.ssin


def _physiotherapist() -> Provider:
    nihii = make_nihii("512345", "527")
    return Provider(
        nihii, "85073003328", "Kim", "Kine", "PHYSIOTHERAPIST", "PHYSIOTHERAPIST", "527"
    )


@pytest.mark.parametrize(
    ("situation", "status", "code"),
    [
        ("unknown NISS", RESPONDER, "UNKNOWN_NISS_ROUTING"),
        ("wrong check digit", REQUESTER, "INVALID_INSS_VALUE"),
        ("start tomorrow", REQUESTER, "START_DATE_IN_FUTURE"),
        ("six years ago", REQUESTER, "PERIOD_TOO_FAR_IN_PAST"),
        ("end before start", REQUESTER, "INVALID_PERIOD"),
        ("unknown facet", REQUESTER, "UNKNOWN_FACET"),
        ("hospitalized but at home", RESPONDER, "MISMATCHED_CONTACTTYPE"),
        ("NISS at another mutuality", RESPONDER, "BO_UNKNOWN_NISS"),
        ("unknown registration number", RESPONDER, "BO_UNKNOWN_REGNBR"),
        ("care path asked by a physiotherapist", REQUESTER, "UNAUTHORIZED_FACET"),
    ],
)
async def test_refusals_carry_the_catalogue_status(
    running: Running, situation: str, status: str, code: str
) -> None:
    today = _today(running)
    patient = _insured(running, hospitalised=False)
    subject, start, end = patient.ssin, today, today + timedelta(days=1)
    facets, subject_format, keystore = [INFORMATION], None, None
    if situation == "unknown NISS":
        subject = running.population.unknown_ssin(3)
    elif situation == "wrong check digit":
        subject = patient.ssin[:9] + f"{(int(patient.ssin[9:]) + 1) % 100:02d}"
    elif situation == "start tomorrow":
        start, end = today + timedelta(days=1), today + timedelta(days=2)
    elif situation == "six years ago":
        start = today - timedelta(days=6 * 366)
    elif situation == "end before start":
        start, end = today, today - timedelta(days=1)
    elif situation == "unknown facet":
        facets = [FacetRequest("urn:be:cin:nippin:somethingElse")]
    elif situation == "hospitalized but at home":
        facets = [HOSPITALIZED]
    elif situation == "NISS at another mutuality":
        other = "101" if patient.mutuality != "101" else "102"
        subject, subject_format = f"{patient.ssin}@{other}", SSIN_AT_MUTUALITY_FORMAT
    elif situation == "unknown registration number":
        subject = f"99999999999@{patient.mutuality}"
        subject_format = REGISTRATION_AT_MUTUALITY_FORMAT
    elif situation == "care path asked by a physiotherapist":
        facets = [FacetRequest(CARE_PATH, (("carePathType", "diabetes"),))]
        keystore = running.keystore_for(_physiotherapist(), "physio")
    options = {"subject_format": subject_format} if subject_format else {}
    async with running.client(keystore) as client:
        result = await client.member_data(subject, start, end, facets=facets, **options)
    assert (result.status, result.detail_codes) == (status, (code,)), result.message
    assert result.blocks == ()
