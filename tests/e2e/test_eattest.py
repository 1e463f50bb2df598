"""eAttest v3 over HTTP with the package client: every operation, every refusal and its cause."""

from __future__ import annotations

import base64
import dataclasses
import subprocess
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.serialization import (
    Encoding,
    NoEncryption,
    PrivateFormat,
)
from lxml import etree

from simulator.client import ServiceFault
from simulator.client import eattest as client_eattest
from simulator.client.eattest import AttestationReply
from simulator.codecs.eattest import SEND, Author, ServiceLine, build_send_transaction
from simulator.domain.eattest import OA_ALIASES, invoicing_number, is_valid_invoicing_number
from simulator.domain.ledger_rules import Channel, LedgerService
from simulator.domain.population import Patient
from simulator.services.eattest import ATTESTATIONS
from simulator.store.records import SqliteRecords
from tests.codecs.test_eattest_codec import kmehr_134_schema
from tests.e2e.conftest import Running
from tests.support.independent import openssl_unseal
from tests.support.patients import FreshPatients

CONSULTATION = "101032"  # GP consultation at the surgery, official fee 30.00 [A]
HOME_VISIT = "103132"
ENCRYPTED = "urn:be:cin:encrypted"
DS = "http://www.w3.org/2000/09/xmldsig#"
XADES = "http://uri.etsi.org/01903/v1.3.2#"
_fresh = FreshPatients()


def _today(running: Running) -> date:
    return running.sim.clock.today()


def _fresh_patient(running: Running) -> Patient:
    """A different plain patient for each call, so tests never share a consultation."""
    return _fresh.next_for(running.population, _today(running))


def _line(running: Running, code: str = CONSULTATION, **changes: object) -> ServiceLine:
    return dataclasses.replace(
        ServiceLine(code=code, day=_today(running), amount=Decimal("99.00")),
        **changes,  # type: ignore[arg-type]
    )


async def _send(
    running: Running, patient: Patient, *lines: ServiceLine, **options: object
) -> AttestationReply:
    async with running.client() as client:
        return await client_eattest.send_attestation(
            client,
            patient,
            list(lines) or [_line(running)],
            **options,  # type: ignore[arg-type]
        )


async def _cancel(
    running: Running, patient: Patient, number: str, reason: str = "B", keystore: Path | None = None
) -> AttestationReply:
    async with running.client(keystore) as client:
        return await client_eattest.cancel_attestation(client, patient, number, reason)


# -- SendAttestation: accepted -----------------------------------------------------------------


async def test_an_attestation_is_accepted_numbered_stored_and_priced_officially(
    running: Running,
) -> None:
    patient = _fresh_patient(running)
    reply = await _send(running, patient)  # the client charged 99.00 on purpose
    result = reply.result
    assert (result.complete, result.codes) == (True, ())
    number = result.invoicing_number or ""
    assert is_valid_invoicing_number(number)
    assert number.startswith(f"{patient.insurer}-1-{_today(running):%y%m%d}-")
    assert result.insurer == patient.insurer
    assert result.fees == ((CONSULTATION, Decimal("30.00")),)
    stored = running.sim.records.get(ATTESTATIONS, number)
    assert stored is not None and stored["patient"] == patient.ssin
    assert stored["author"] == running.provider.nihii
    # Committed to the file: another connection (a restarted simulator) sees it.
    other = SqliteRecords(running.sim.settings.data_dir / "simulator.sqlite3")
    try:
        assert other.get(ATTESTATIONS, number) == stored
    finally:
        other.close()


async def test_the_sealed_answer_opens_with_openssl_and_its_xades_verifies_with_xmlsec1(
    running: Running, tmp_path: Path
) -> None:
    patient = _fresh_patient(running)
    async with running.client() as client:
        reply = await client_eattest.send_attestation(client, patient, [_line(running)])
        identity = client.identity
    assert reply.sealed_detail is not None and reply.known_content is not None
    known = openssl_unseal(
        reply.sealed_detail,
        cert_pem=identity.cert.public_bytes(Encoding.PEM),
        key_pem=identity.key.private_bytes(Encoding.PEM, PrivateFormat.PKCS8, NoEncryption()),
        ca_pem=running.sim.pki.ca.cert.public_bytes(Encoding.PEM),
    )
    assert known == reply.known_content
    document = etree.fromstring(known)
    xades = document.find(f"{{{ENCRYPTED}}}Xades")
    assert xades is not None
    # xmlsec1 reads a ds:Signature, not its base64: put the decoded one in its place.
    document.replace(xades, etree.fromstring(base64.b64decode(xades.text or "")))
    path = tmp_path / "answer.xml"
    path.write_bytes(etree.tostring(document))
    ca = tmp_path / "ca.pem"
    ca.write_bytes(running.sim.pki.ca.cert.public_bytes(Encoding.PEM))
    ids = ["--id-attr:id", f"{ENCRYPTED}:BusinessContent"]
    ids += ["--id-attr:Id", f"{XADES}:SignedProperties"]
    verified = subprocess.run(
        ["xmlsec1", "--verify", *ids, "--trusted-pem", str(ca), str(path)],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert verified.returncode == 0, verified.stderr


async def test_an_unsealed_request_gets_an_unsealed_answer(running: Running) -> None:
    reply = await _send(running, _fresh_patient(running), sealed=False)
    assert reply.result.complete and reply.sealed_detail is None


async def test_a_bim_patient_home_visit_is_accepted_without_third_party_payment(
    running: Running,
) -> None:
    # Not the `bim` situation patient: its consultation today (196) must not meet this visit
    # in the ledger (a visit and a consultation by one GP the same day do not cumulate).
    patient = next(
        p
        for p in running.population.where(bim=True, insured_on=_today(running), deceased=False)
        if p.situation == "random"
        and p.third_party_payment_mandatory
        and not p.medical_house
        and not p.no_supplement  # the no-supp patient's visit is the supplement test's
    )
    reply = await _send(running, patient, _line(running, HOME_VISIT))
    assert reply.result.codes == ()
    assert reply.result.fees == ((HOME_VISIT, Decimal("45.00")),)


async def test_a_bim_patient_in_a_nursing_home_may_pay_a_consultation(running: Running) -> None:
    patient = running.population.situation("bim-nursing-home")
    assert patient.bim and not patient.third_party_payment_mandatory
    assert (await _send(running, patient)).result.complete


# -- SendAttestation: refusals -----------------------------------------------------------------


def _assert_refused(reply: AttestationReply, code: str, path_end: str) -> None:
    result = reply.result
    assert (result.complete, result.invoicing_number) == (False, None)
    assert result.codes == (code,), result.errors
    assert (result.errors[0].url or "").endswith(path_end)
    assert result.errors[0].description


async def test_a_service_of_yesterday_is_refused_nocrpr(running: Running) -> None:
    patient = _fresh_patient(running)
    yesterday = _today(running) - timedelta(days=1)
    reply = await _send(running, patient, _line(running, day=yesterday))
    _assert_refused(reply, "238", "transaction[cga]/date")
    assert OA_ALIASES["238"] == "NOCRPR"


async def test_the_same_consultation_twice_is_refused_as_a_duplicate(running: Running) -> None:
    patient = _fresh_patient(running)
    first = await _send(running, patient)
    assert first.result.complete
    second = await _send(running, patient)
    _assert_refused(second, "190", "item[claim]/quantity/decimal")
    assert OA_ALIASES["190"] == "502255"


async def test_a_consultation_taken_by_a_simultaneous_request_is_a_duplicate(
    running: Running,
) -> None:
    patient = _fresh_patient(running)
    # Another request put the consultation in the ledger but has not answered yet.
    held = LedgerService(
        patient.insurer,
        patient.ssin,
        CONSULTATION,
        _today(running),
        running.provider.nihii,
        Channel.EATTEST,
        "in-flight",
    )
    running.sim.ledger.record([held])
    reply = await _send(running, patient)
    _assert_refused(reply, "190", "item[claim]/quantity/decimal")
    issued = running.sim.records.find(ATTESTATIONS, limit=100_000)
    assert [number for number, doc in issued if doc["patient"] == patient.ssin] == []


async def test_a_bim_patient_consultation_needs_third_party_payment(running: Running) -> None:
    patient = running.population.situation("bim")  # BIM, not in a nursing home
    reply = await _send(running, patient)
    _assert_refused(reply, "196", "folder/patient/id")
    assert OA_ALIASES["196"] == "ERR3PAY"


async def test_a_gp_who_is_not_the_dmg_holder_is_refused(running: Running) -> None:
    patient = running.population.situation("regular-dmg")
    holder = patient.dmg_holder
    assert holder is not None
    other = next(
        p.nihii for p in running.population.providers_of_kind("GP") if p.nihii[:8] != holder[:8]
    )
    reply = await _send(running, patient, _line(running, gmd_manager=other))
    _assert_refused(reply, "167", "item[gmdmanager]/content/hcparty/id")
    assert OA_ALIASES["167"] == "504949"


@pytest.mark.parametrize("situation", ["unknown", "not-insured", "deceased"])
async def test_a_beneficiary_the_insurer_does_not_cover_is_unknown(
    running: Running, situation: str
) -> None:
    if situation == "unknown":
        known = running.population.situation("regular")
        patient = dataclasses.replace(known, ssin=running.population.unknown_ssin(7))
    else:
        patient = running.population.situation(situation)
    reply = await _send(running, patient)
    _assert_refused(reply, "120", "folder/patient/id")
    assert OA_ALIASES["120"] == "500742"


async def test_a_medical_house_patient_consultation_is_refused(running: Running) -> None:
    patient = running.population.situation("medical-house")
    assert patient.medical_house
    _assert_refused(await _send(running, patient), "169", "cd[CD-NIHDI]")


@pytest.mark.parametrize(
    ("code", "expected"),
    [("371011", "171"), ("102771", "195"), ("101033", "130"), ("999995", "130")],
    ids=["dentist-code-by-a-gp", "dmg-not-in-eattest", "bad-check-digit", "unknown-code"],
)
async def test_codes_the_provider_may_not_attest(
    running: Running, code: str, expected: str
) -> None:
    reply = await _send(running, _fresh_patient(running), _line(running, code))
    _assert_refused(reply, expected, "cd[CD-NIHDI]")


async def test_a_supplement_for_a_no_supp_bim_patient_is_refused(running: Running) -> None:
    patient = next(
        p
        for p in running.population.where(bim=True, insured_on=_today(running), deceased=False)
        if p.situation == "random" and p.no_supplement and not p.medical_house
    )
    reply = await _send(running, patient, _line(running, HOME_VISIT), supplement=Decimal("10.00"))
    _assert_refused(reply, "130", "item[supplement]/cost/decimal")


# -- CancelAttestation -------------------------------------------------------------------------


async def test_a_cancelled_attestation_frees_the_consultation_and_cannot_be_cancelled_twice(
    running: Running,
) -> None:
    patient = _fresh_patient(running)
    number = (await _send(running, patient)).result.invoicing_number or ""
    cancelled = await _cancel(running, patient, number, "D")
    assert (cancelled.result.complete, cancelled.result.codes) == (True, ())
    assert (cancelled.result.invoicing_number, cancelled.result.cancellation_reason) == (
        number,
        "D",
    )
    again = await _cancel(running, patient, number, "D")
    _assert_refused(again, "240", "content/text")
    # The consultation may be attested anew: a new number, the duplicate check no longer bites.
    renewed = await _send(running, patient)
    assert renewed.result.complete and renewed.result.invoicing_number != number


async def test_cancelling_a_number_never_issued_is_refused(running: Running) -> None:
    patient = _fresh_patient(running)
    number = invoicing_number(patient.insurer, _today(running), 9_999_999)
    _assert_refused(await _cancel(running, patient, number), "141", "content/text")


async def test_cancelling_with_a_malformed_number_is_refused(running: Running) -> None:
    patient = _fresh_patient(running)
    _assert_refused(
        await _cancel(running, patient, "300-1-170127-0000005-33"), "111", "content/text"
    )


async def test_cancelling_for_another_patient_is_refused(running: Running) -> None:
    patient, other = _fresh_patient(running), _fresh_patient(running)
    number = (await _send(running, patient)).result.invoicing_number or ""
    _assert_refused(await _cancel(running, other, number), "244", "content/text")


async def test_cancelling_another_providers_attestation_is_refused(running: Running) -> None:
    patient = _fresh_patient(running)
    number = (await _send(running, patient)).result.invoicing_number or ""
    colleague = next(
        p
        for p in running.population.providers_of_kind("GP")
        if p.nihii[:8] != running.provider.nihii[:8]
    )
    keystore = running.keystore_for(colleague, "colleague")
    _assert_refused(await _cancel(running, patient, number, keystore=keystore), "245", "text")


async def test_an_unknown_cancellation_reason_is_refused(running: Running) -> None:
    patient = _fresh_patient(running)
    number = (await _send(running, patient)).result.invoicing_number or ""
    reply = await _cancel(running, patient, number, "Z")
    _assert_refused(reply, "130", "cd[NIHDI-CANCELLATION-REASON]")


async def test_cancelling_after_the_insurer_window_is_refused(running: Running) -> None:
    patient = _fresh_patient(running)
    old_day = _today(running) - timedelta(days=20)
    number = invoicing_number(patient.insurer, old_day, 1234)
    running.sim.records.put(
        ATTESTATIONS,
        number,
        {
            "number": number,
            "insurer": patient.insurer,
            "patient": patient.ssin,
            "author": running.provider.nihii,
            "day": old_day.isoformat(),
            "lines": [{"code": CONSULTATION, "fee": "30.00", "quantity": "1"}],
        },
    )
    _assert_refused(await _cancel(running, patient, number), "239", "content/text")


async def test_every_answer_is_kmehr_1_34_in_a_business_content_xsd_envelope(
    running: Running, shared_reference: Path, tmp_path: Path
) -> None:
    from simulator.codecs.encrypted_content import parse_known_content
    from simulator.soap.validation import OfficialSchemas

    kmehr = kmehr_134_schema(shared_reference, tmp_path)
    official = OfficialSchemas(shared_reference / "xsd")
    patient = _fresh_patient(running)
    accepted = await _send(running, patient)
    refused = await _send(running, patient)  # duplicate
    cancelled = await _cancel(running, patient, accepted.result.invoicing_number or "")
    for reply in (accepted, refused, cancelled):
        assert reply.known_content is not None
        known = etree.fromstring(reply.known_content)
        assert official.validate(known) is None
        answer = etree.fromstring(parse_known_content(reply.known_content).business_content)
        assert kmehr.validate(answer), str(kmehr.error_log)
    assert (accepted.result.complete, refused.result.codes, cancelled.result.complete) == (
        True,
        ("190",),
        True,
    )


# -- bad input: the service's own fault, not a crash ---------------------------------------------


async def _send_raw(
    running: Running, patient: Patient, kmehr: bytes, **options: object
) -> AttestationReply:
    async with running.client() as client:
        return await client_eattest.send_kmehr(
            client,
            SEND,
            kmehr,
            patient_ssin=patient.ssin,
            reference_date=_today(running),
            **options,  # type: ignore[arg-type]
        )


def _kmehr(running: Running, patient: Patient) -> bytes:
    return build_send_transaction(
        Author(running.provider.nihii, running.provider.ssin, "persphysician", "A", "B"),
        patient,
        [_line(running)],
        now=datetime.now(UTC),
        receiving_party=client_eattest.DEFAULT_RECEIVING_PARTY,
    )


@pytest.mark.parametrize(
    ("spoil", "message"),
    [
        ("not-xml", "not XML"),
        ("unsigned", "Xades"),
        ("cancel-in-send", "cgacancellation"),
    ],
)
async def test_bad_payloads_get_a_content_fault(running: Running, spoil: str, message: str) -> None:
    patient = _fresh_patient(running)
    kmehr = _kmehr(running, patient)
    options: dict[str, object] = {}
    if spoil == "not-xml":
        kmehr, options["sealed"] = b"this is not KMEHR", False
    elif spoil == "unsigned":
        options["sign"] = False
    else:
        kmehr = kmehr.replace(b">cga<", b">cgacancellation<")
    with pytest.raises(ServiceFault) as caught:
        await _send_raw(running, patient, kmehr, **options)
    assert caught.value.code == "SOA-03007"
    assert message in caught.value.message
    assert running.sim.ledger.find(patient.ssin) == []


async def test_a_detail_that_is_not_deflate_gets_a_content_fault(running: Running) -> None:
    from simulator.codecs.eattest import build_request
    from simulator.codecs.mycarenet_commons import CommonInput

    patient = _fresh_patient(running)
    common = CommonInput(True, "1", "pkg", "doctor", running.provider.nihii, running.provider.ssin)
    request = build_request(
        SEND,
        common,
        _kmehr(running, patient),
        attempt=1,
        patient_ssin=patient.ssin,
        reference_date=_today(running),
        content_encryption=None,
        request_id="_bad",
        now=datetime.now(UTC),
    )
    detail = request.find("{*}Detail")
    assert detail is not None
    detail.set("ContentEncoding", "deflate")  # but the bytes are plain XML
    del detail.attrib["HashValue"]
    async with running.client() as client:
        with pytest.raises(ServiceFault) as caught:
            await client.call(client_eattest.PATH, client_eattest.SEND_ACTION, request)
    assert caught.value.code == "SOA-03007"
    assert "Detail" in caught.value.message and "deflate" in caught.value.message, caught.value


# -- retries (attemptNbr) ------------------------------------------------------------------------


async def test_a_retry_with_the_same_input_reference_gets_the_same_attestation(
    running: Running,
) -> None:
    patient = _fresh_patient(running)
    first = await _send(running, patient, input_reference="4711000000001")
    assert first.result.complete
    retry = await _send(running, patient, input_reference="4711000000001", attempt=2)
    assert (retry.result.complete, retry.result.invoicing_number, retry.result.fees) == (
        True,
        first.result.invoicing_number,
        first.result.fees,
    )
    # Sent again as a first attempt, it is a second consultation: the duplicate refusal.
    again = await _send(running, patient, input_reference="4711000000001", attempt=1)
    _assert_refused(again, "190", "quantity/decimal")
