"""MemberData over HTTP with the package client: facets answered, and each refusal's status."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

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
from simulator.store.base import JournalQuery
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
    # The journal files the consultation under the member's NISS, not the number asked with.
    running.sim.store.flush()
    journaled = running.sim.store.journal(
        JournalQuery(service="memberdata", patient_ssin=patient.ssin, limit=1000)
    )
    assert journaled and journaled[-1].outcome == "ok"
    assert not running.sim.store.journal(
        JournalQuery(service="memberdata", patient_ssin=patient.registration_number)
    )


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


async def test_the_answer_is_sealed_for_the_requester_and_openssl_opens_it(
    running: Running,
) -> None:
    import base64

    from cryptography.hazmat.primitives.serialization import (
        Encoding,
        NoEncryption,
        PrivateFormat,
    )
    from lxml import etree

    from simulator.codecs.encrypted_content import parse_known_content
    from simulator.codecs.memberdata import read_saml_response
    from simulator.soap.envelope import read_envelope
    from simulator.soap.parser import parse_xml
    from simulator.store.base import JournalQuery
    from tests.support.independent import openssl_unseal

    patient = _insured(running, bim=False)
    today = _today(running)
    async with running.client() as client:
        await client.member_data(patient.ssin, today, today)
        identity = client.identity
    entry = running.sim.store.journal(
        JournalQuery(service="memberdata", patient_ssin=patient.ssin)
    )[-1]
    payload = read_envelope(parse_xml(entry.response.encode())).payload
    detail = next(e for e in payload.iter() if etree.QName(e).localname == "Detail")
    assert detail.get("ContentEncryption") == "encryptedForKnownRecipient"
    content = openssl_unseal(
        base64.b64decode(detail.text or ""),
        cert_pem=identity.cert.public_bytes(Encoding.PEM),
        key_pem=identity.key.private_bytes(Encoding.PEM, PrivateFormat.PKCS8, NoEncryption()),
        ca_pem=running.sim.pki.ca.cert.public_bytes(Encoding.PEM),
    )
    answer = read_saml_response(parse_known_content(content).business_content)
    assert answer.status == SUCCESS
    assert answer.attributes(PATIENT_DATA)[0]["urn:be:fgov:person:ssin"] == patient.ssin


async def test_an_unsealed_request_gets_an_unsealed_answer(running: Running) -> None:
    patient = _insured(running)
    today = _today(running)
    async with running.client() as client:
        result = await client.member_data(patient.ssin, today, today, sealed=False)
    assert result.status == SUCCESS


@pytest.mark.parametrize("spoil", ["garbage", "sealed by someone else"])
async def test_a_bad_seal_gets_a_content_fault(running: Running, spoil: str) -> None:
    from datetime import UTC, datetime

    from simulator.client.connector import MEMBERDATA_ACTION, MEMBERDATA_PATH, ServiceFault
    from simulator.codecs import memberdata as codec
    from simulator.codecs.encrypted_content import KnownContent, build_known_content
    from simulator.codecs.mycarenet_commons import CommonInput
    from simulator.security.etk import parse_etk
    from simulator.security.sealing import seal

    patient = _insured(running)
    now = datetime.now(UTC)
    async with running.client() as client:
        query = codec.build_attribute_query(
            requester_nihii=running.provider.nihii,
            subject=patient.ssin,
            subject_format="urn:be:fgov:person:ssin",
            facets=[INFORMATION],
            start=now.replace(tzinfo=None),
            end=now.replace(tzinfo=None),
            query_id="_q1",
            now=now,
        )
        if spoil == "garbage":
            detail = b"this is not a seal"
        else:
            other = running.sim.pki.issue_provider(
                make_nihii("123456", "003"), running.population.unknown_ssin(21), "Other"
            )
            known = build_known_content(
                KnownContent(query, await client.own_etk(), None, content_id="_c1")
            )
            detail = seal(known, sender=other, recipients=[parse_etk(await client.insurer_etk())])
        common = CommonInput(
            True, "1", "x", "doctor", running.provider.nihii, running.provider.ssin
        )
        request = codec.build_request(
            common, detail, content_encryption="encryptedForKnownBED", request_id="_r", now=now
        )
        with pytest.raises(ServiceFault) as fault:
            await client.call(MEMBERDATA_PATH, MEMBERDATA_ACTION, request)
    assert fault.value.code == "SOA-03007"
    assert "Detail" in fault.value.message


async def test_the_reconstructed_sample_request_is_answered(
    running: Running, shared_reference: Path
) -> None:
    import base64

    from lxml import etree

    from simulator.client.connector import MEMBERDATA_ACTION, MEMBERDATA_PATH
    from simulator.codecs import memberdata as codec
    from simulator.soap.parser import parse_xml

    sample = shared_reference / "samples/reconstructed/memberdata-MemberDataConsultationRequest.xml"
    payload = parse_xml(sample.read_bytes())
    assert etree.QName(payload).localname == "MemberDataConsultationRequest"
    # Its CareProvider must be the token's holder (else SOA-01002, issue 11): ours signs it.
    for value in payload.iter(f"{{{codec.V3.core}}}Value"):
        value.text = running.provider.nihii
    from simulator.client.connector import ServiceFault

    async with running.client() as client:
        # The envelope layers pass (schema, signature); the blob is a placeholder
        # `<samlp:AttributeQuery/>` whose prefix is declared nowhere: a precise content fault.
        with pytest.raises(ServiceFault) as fault:
            await client.call(MEMBERDATA_PATH, MEMBERDATA_ACTION, payload)
        assert fault.value.code == "SOA-03007"
        assert "samlp" in fault.value.message and "not defined" in fault.value.message
        # The same request with a real query in its Detail is answered.
        detail = payload.find(f"{{{codec.V3.protocol}}}Detail")
        assert detail is not None
        query = (shared_reference / "samples/reconstructed/memberdata-AttributeQuery-payload.xml")
        detail.text = base64.b64encode(query.read_bytes()).decode()
        reply = await client.call(MEMBERDATA_PATH, MEMBERDATA_ACTION, payload)
    result = codec.read_saml_response(codec.parse_response_detail(reply.payload).content)
    # Its Issuer 19999999001 fails the NIHII check digits.
    assert (result.status, result.detail_codes) == (REQUESTER, ("INVALID_ISSUER_VALUE",))
