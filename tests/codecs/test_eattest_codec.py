"""eAttest v3 codec against the official schemas and samples.

Outer messages: the official attest v3 protocol (commons v4). EncryptedKnownContent:
businessContent.xsd. KMEHR payloads: the 1.34 schemas. The shipped messageservices 1_2 imports
KMEHR 1.19, whose CD-STANDARD does not know 20210120 (wire-formats 4.2), so the test compiles a
wrapper that imports kmehr-1_34 first by absolute path; libxml2 then ignores the 1.19 import of
the same namespace. No reference file is copied.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest
from lxml import etree

from simulator.codecs import eattest as codec
from simulator.codecs.encrypted_content import KnownContent, build_known_content
from simulator.codecs.mycarenet_commons import CommonInput, PayloadError
from simulator.domain.eattest import AttestationOutcome, Attested, CancellationOutcome, FeeLine
from simulator.domain.population import Patient, Population, build_population
from simulator.domain.tarification import RuleError
from simulator.security.pki import TestPki
from simulator.security.xades import sign_enveloped
from simulator.soap.validation import OfficialSchemas, ProjectSchemas

NOW = datetime(2026, 11, 23, 10, 11, 12, tzinfo=UTC)
TODAY = NOW.date()
AUTHOR = codec.Author("17650410003", "62040858223", "persphysician", "Ana", "Tanghe")


@pytest.fixture(scope="module")
def world() -> Population:
    return build_population(seed=5, patients=30, providers=4, today=TODAY)


@pytest.fixture(scope="module")
def patient(world: Population) -> Patient:
    return world.situation("regular")


def kmehr_134_schema(shared_reference: Path, folder: Path) -> etree.XMLSchema:
    """messageservices 1_2 over KMEHR 1.34, via a wrapper XSD written to `folder`."""
    xsd = shared_reference / "xsd"
    kmehr = (xsd / "ehealth-kmehr/XSD/kmehr-1_34.xsd").as_uri()
    messageservices = (
        xsd / "ehealth-messageservices/XSD/messageservices_protocol-1_2.xsd"
    ).as_uri()
    wrapper = folder / "kmehr-1_34-messageservices.xsd"
    wrapper.write_text(
        '<xs:schema xmlns:xs="http://www.w3.org/2001/XMLSchema">'
        '<xs:import namespace="http://www.ehealth.fgov.be/standards/kmehr/schema/v1" '
        f'schemaLocation="{kmehr}"/>'
        '<xs:import namespace="http://www.ehealth.fgov.be/messageservices/protocol/v1" '
        f'schemaLocation="{messageservices}"/>'
        "</xs:schema>"
    )
    return etree.XMLSchema(etree.parse(str(wrapper)))


@pytest.fixture(scope="module")
def kmehr_134(shared_reference: Path, tmp_path_factory: pytest.TempPathFactory) -> etree.XMLSchema:
    return kmehr_134_schema(shared_reference, tmp_path_factory.mktemp("xsd"))


@pytest.fixture(scope="module")
def official(shared_reference: Path) -> OfficialSchemas:
    return OfficialSchemas(shared_reference / "xsd")


def _valid(schema: etree.XMLSchema, document: bytes | etree._Element) -> None:
    element = etree.fromstring(document) if isinstance(document, bytes) else document
    assert schema.validate(element), str(schema.error_log)


def _request(operation: str = codec.SEND, detail: bytes = b"<x/>") -> etree._Element:
    common = CommonInput(True, "20261123101112123", "pkg", "doctor", AUTHOR.nihii, AUTHOR.ssin)
    return codec.build_request(
        operation,
        common,
        detail,
        attempt=2,
        patient_ssin="94012487496",
        reference_date=TODAY,
        content_encryption=None,
        request_id="_r1",
        now=NOW,
    )


def _send_kmehr(patient: Patient, **options: object) -> bytes:
    lines = [
        codec.ServiceLine("101032", TODAY, Decimal("99.00")),
        codec.ServiceLine("102432", TODAY, Decimal("1.00"), gmd_manager="17650410003"),
    ]
    return codec.build_send_transaction(
        AUTHOR,
        patient,
        lines,
        now=NOW,
        receiving_party="0123456749",
        **options,  # type: ignore[arg-type]
    )


# -- outer messages ------------------------------------------------------------------------------


@pytest.mark.parametrize("operation", [codec.SEND, codec.CANCEL])
def test_requests_and_responses_validate_against_the_official_attest_v3_schema(
    official: OfficialSchemas, operation: str
) -> None:
    request = _request(operation)
    assert official.validate(request) is None
    assert ProjectSchemas().validate(request, "eattest-request") is None
    parsed = codec.parse_request(etree.fromstring(etree.tostring(request)))
    assert (parsed.operation, parsed.attempt, parsed.patient_ssin) == (operation, 2, "94012487496")
    assert parsed.message_version == "3.0" and parsed.detail.content == b"<x/>"
    response = codec.build_response(
        parsed,
        b"sealed",
        content_encryption="encryptedForKnownRecipient",
        response_id="_a",
        now=NOW,
    )
    assert etree.QName(response).localname == f"{operation}Response"
    assert official.validate(response) is None
    assert ProjectSchemas().validate(response, "eattest-response") is None
    assert codec.parse_response_detail(response).content == b"sealed"


def test_the_reconstructed_samples_are_read_and_valid_for_our_schema(
    shared_reference: Path,
) -> None:
    folder = shared_reference / "samples/reconstructed"
    request = etree.parse(str(folder / "eattest-v3-SendAttestationRequest.xml")).getroot()
    assert ProjectSchemas().validate(request, "eattest-request") is None
    parsed = codec.parse_request(request)
    assert (parsed.attempt, parsed.common.provider_nihii) == (1, "19999999001")
    assert parsed.detail.content_encryption == "encryptedForKnownBED"
    response = etree.parse(str(folder / "eattest-v3-SendAttestationResponse.xml")).getroot()
    assert ProjectSchemas().validate(response, "eattest-response") is None


def test_a_bad_attempt_number_is_a_payload_error() -> None:
    request = _request()
    value = request.find(".//{*}Attribute/{*}Value")
    assert value is not None
    value.text = "zero"
    with pytest.raises(PayloadError, match="attemptNbr"):
        codec.parse_request(request)


def test_the_signed_known_content_validates_against_business_content_xsd(
    official: OfficialSchemas, patient: Patient, tmp_path: Path
) -> None:
    pki = TestPki.load_or_create(tmp_path)
    known = etree.fromstring(
        build_known_content(KnownContent(_send_kmehr(patient), b"etk", None, content_id="_c1"))
    )
    signer = pki.insurer_signing
    sign_enveloped(known, key=signer.key, cert=signer.cert, signing_time=NOW)
    assert official.validate(known) is None


# -- KMEHR payloads ------------------------------------------------------------------------------


def test_the_send_request_is_kmehr_1_34_and_reads_back(
    kmehr_134: etree.XMLSchema, patient: Patient
) -> None:
    data = _send_kmehr(patient, supplement=Decimal("5.00"))
    _valid(kmehr_134, data)
    transaction = codec.read_transaction_request(data, codec.parse_request(_request()))
    query = transaction.send
    assert query is not None and transaction.cancel is None
    assert (query.author_nihii, query.patient_ssin) == (AUTHOR.nihii, patient.ssin)
    assert (query.patient_paid, query.supplement, query.receiving_party) == (
        "100.00",
        "5.00",
        "0123456749",
    )
    assert query.transaction_date == TODAY.isoformat()
    assert [
        (s.code, s.quantity, s.encounter_date, s.gmd_manager, s.amount) for s in query.services
    ] == [
        ("101032", "1", "2026-11-23", None, "99.00"),
        ("102432", "1", "2026-11-23", "17650410003", "1.00"),
    ]
    assert query.envelope_patient_ssin == "94012487496"


def test_the_cancel_request_is_kmehr_1_34(kmehr_134: etree.XMLSchema, patient: Patient) -> None:
    data = codec.build_cancel_transaction(AUTHOR, patient, "500-1-260212-5960827-60", "C", now=NOW)
    _valid(kmehr_134, data)
    cancel = codec.read_transaction_request(data, codec.parse_request(_request(codec.CANCEL)))
    assert cancel.cancel is not None
    assert (cancel.cancel.invoicing_number, cancel.cancel.reason) == (
        "500-1-260212-5960827-60",
        "C",
    )


def test_the_official_cancel_sample_is_accepted(
    kmehr_134: etree.XMLSchema, shared_reference: Path
) -> None:
    data = (
        shared_reference / "samples/eattest/eattest-cancel-SendTransactionRequest-kmehr.xml"
    ).read_bytes()
    _valid(kmehr_134, data)
    read = codec.read_transaction_request(data, codec.parse_request(_request(codec.CANCEL)))
    assert read.cancel is not None
    assert (read.cancel.invoicing_number, read.cancel.reason) == ("200-1-170127-0000005-32", "C")
    assert read.cancel.author_type == "persphysiotherapist" and read.cancel.has_invoicing_item
    with pytest.raises(PayloadError, match="CancelAttestationRequest"):
        codec.read_transaction_request(data, codec.parse_request(_request(codec.SEND)))


def test_the_official_response_sample_is_read_by_the_client(shared_reference: Path) -> None:
    data = (
        shared_reference / "samples/eattest/eattest-v3-SendTransactionResponse-decrypted.xml"
    ).read_bytes()
    result = codec.read_transaction_response(data)
    assert (result.complete, result.codes, result.insurer) == (True, (), "500")
    assert result.invoicing_number == "500-1-260212-5960827-60"
    assert result.fees == (("567011", Decimal("31.64")),)


def _transaction(patient: Patient, operation: str = codec.SEND) -> codec.Transaction:
    if operation == codec.SEND:
        data = _send_kmehr(patient)
    else:
        data = codec.build_cancel_transaction(
            AUTHOR, patient, "500-1-260212-5960827-60", "B", now=NOW
        )
    return codec.read_transaction_request(data, codec.parse_request(_request(operation)))


def test_an_accepted_answer_is_kmehr_1_34_with_number_and_official_fees(
    kmehr_134: etree.XMLSchema, patient: Patient
) -> None:
    outcome = AttestationOutcome(
        patient=patient,
        insurer=patient.insurer,
        day=TODAY,
        lines=(
            FeeLine("101032", Decimal("30"), TODAY, "1"),
            FeeLine("102432", Decimal("25"), TODAY, "1"),
        ),
    )
    data = codec.build_transaction_response(
        _transaction(patient),
        insurer=patient.insurer,
        errors=(),
        patient=patient,
        send=outcome,
        invoicing_number="500-1-260212-5960827-60",
        response_number=7,
        now=NOW,
    )
    _valid(kmehr_134, data)
    result = codec.read_transaction_response(data)
    assert (result.complete, result.invoicing_number, result.insurer) == (
        True,
        "500-1-260212-5960827-60",
        patient.insurer,
    )
    assert result.fees == (("101032", Decimal("30.00")), ("102432", Decimal("25.00")))
    root = etree.fromstring(data)
    assert root.findtext("{*}response/{*}id") == f"{patient.insurer}.7"
    # The client's request block is echoed as sent.
    assert root.findtext("{*}response/{*}request/{*}id") == f"{AUTHOR.nihii}.20261123101112"


def test_a_refusal_is_kmehr_1_34_with_the_errors_and_no_message(
    kmehr_134: etree.XMLSchema, patient: Patient
) -> None:
    error = RuleError("238", "/SendTransactionRequest/x", "texte", "tekst")
    data = codec.build_transaction_response(
        _transaction(patient),
        insurer="000",
        errors=(error,),
        patient=None,
        send=AttestationOutcome(errors=(error,)),
        response_number=1,
        now=NOW,
    )
    _valid(kmehr_134, data)
    result = codec.read_transaction_response(data)
    assert (result.complete, result.codes, result.invoicing_number) == (False, ("238",), None)
    assert (result.errors[0].url, result.errors[0].description) == (
        "/SendTransactionRequest/x",
        "texte",
    )
    assert etree.fromstring(data).find("{*}kmehrmessage") is None


def test_an_accepted_cancellation_is_kmehr_1_34(
    kmehr_134: etree.XMLSchema, patient: Patient
) -> None:
    attested = Attested("500-1-260212-5960827-60", patient.ssin, AUTHOR.nihii, TODAY, ("101032",))
    data = codec.build_transaction_response(
        _transaction(patient, codec.CANCEL),
        insurer="500",
        errors=(),
        patient=patient,
        cancel=CancellationOutcome(attested=attested, reason="B"),
        response_number=2,
        now=NOW,
    )
    _valid(kmehr_134, data)
    result = codec.read_transaction_response(data)
    assert (result.invoicing_number, result.cancellation_reason) == (attested.number, "B")


def test_a_broken_client_request_block_is_not_echoed(
    kmehr_134: etree.XMLSchema, patient: Patient
) -> None:
    data = _send_kmehr(patient).replace(
        b"<msgws:date>2026-11-23</msgws:date>", b"<msgws:date>soon</msgws:date>", 1
    )
    transaction = codec.read_transaction_request(data, codec.parse_request(_request()))
    answer = codec.build_transaction_response(
        transaction, insurer="000", errors=(), patient=None, response_number=1, now=NOW
    )
    _valid(kmehr_134, answer)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"not xml", "not XML"),
        (b"<a/>", "expected"),
        (
            b'<SendTransactionRequest xmlns="http://www.ehealth.fgov.be/messageservices/protocol/v1"/>',
            "required",
        ),
    ],
)
def test_unreadable_payloads_are_payload_errors(data: bytes, message: str) -> None:
    with pytest.raises(PayloadError, match=message):
        codec.read_transaction_request(data, codec.parse_request(_request()))
