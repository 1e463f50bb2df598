"""eAttest v2 and v1 (client-quirks refusal #11) over HTTP: the v3 rules in the older shape.

The schemas are in the reference bundle (`ehealth-mycarenet-attest/XSD/mycarenet-attest-
protocol-2_0.xsd` and `-1_0.xsd`, both over commons protocol 3.0): v2 has Send and Cancel, v1
only Send. The connector's attestv2 sends no SOAPAction (wire-formats 1.2). Envelopes here are
signed by xmlsec1 from a SAML holder-of-key template; the answers are judged by the official
XSD, openssl (the seal) and the records the v3 service keeps.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.serialization import Encoding, NoEncryption, PrivateFormat
from lxml import etree

from simulator.client import ConnectorClient
from simulator.client import eattest as client_eattest
from simulator.codecs import eattest as codec
from simulator.codecs.encrypted_content import (
    KnownContent,
    build_known_content,
    parse_known_content,
)
from simulator.codecs.mycarenet_commons import CommonInput
from simulator.domain.eattest import is_valid_invoicing_number
from simulator.domain.population import Patient
from simulator.security.etk import parse_etk
from simulator.security.sealing import seal
from simulator.security.xades import sign_enveloped
from simulator.services.eattest import ATTESTATIONS
from simulator.soap.namespaces import SOA_ERRORS, SOAP11
from simulator.soap.parser import parse_xml
from tests.e2e.conftest import Running
from tests.support.independent import openssl_unseal, xmlsec1_sign
from tests.support.patients import FreshPatients

V2_PATH = "/MyCareNet/eAttest/v2"
V1_PATH = "/MyCareNet/eAttest/v1"
CONSULTATION = "101032"
DS = "http://www.w3.org/2000/09/xmldsig#"
WSSE = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd"
WSSE11 = "http://docs.oasis-open.org/wss/oasis-wss-wssecurity-secext-1.1.xsd"
WSU = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-utility-1.0.xsd"
EXC_C14N = "http://www.w3.org/2001/10/xml-exc-c14n#"
_fresh = FreshPatients(pool=100)


def _fresh_patient(running: Running) -> Patient:
    return _fresh.next_for(running.population, running.sim.clock.today())


def _author(running: Running) -> codec.Author:
    provider = running.provider
    return codec.Author(
        nihii=provider.nihii,
        ssin=provider.ssin,
        kind="persphysician",
        first_name=provider.first_name,
        last_name=provider.last_name,
    )


async def _sealed(client: ConnectorClient, kmehr: bytes) -> bytes:
    """EncryptedKnownContent{Reply-to-Etk, BusinessContent, Xades}, sealed for MyCareNet."""
    known = build_known_content(
        KnownContent(
            business_content=kmehr,
            reply_to_etk=await client.own_etk(),
            xades=None,
            content_id=f"_{uuid.uuid4()}",
        )
    )
    document = parse_xml(known)
    sign_enveloped(
        document, key=client.identity.key, cert=client.identity.cert, signing_time=datetime.now(UTC)
    )
    signed = etree.tostring(document, xml_declaration=True, encoding="UTF-8")
    return seal(signed, sender=client.identity, recipients=[parse_etk(await client.insurer_etk())])


def _xmlsec1_envelope(payload: etree._Element, assertion: etree._Element, key_pem: bytes) -> bytes:
    """A SAML holder-of-key envelope laid out like WSS4J writes it, signed by xmlsec1."""

    def sub(parent: etree._Element, ns: str, tag: str, **attributes: str) -> etree._Element:
        return etree.SubElement(parent, f"{{{ns}}}{tag}", attrib=attributes)

    now = datetime.now(UTC).replace(microsecond=0)
    envelope = etree.Element(
        f"{{{SOAP11}}}Envelope", nsmap={"soapenv": SOAP11, "wsse": WSSE, "wsu": WSU, "ds": DS}
    )
    security = sub(sub(envelope, SOAP11, "Header"), WSSE, "Security")
    security.set(f"{{{SOAP11}}}mustUnderstand", "1")
    timestamp = sub(security, WSU, "Timestamp", **{f"{{{WSU}}}Id": "TS-1"})
    sub(timestamp, WSU, "Created").text = now.strftime("%Y-%m-%dT%H:%M:%SZ")
    expires = now + timedelta(minutes=1)
    sub(timestamp, WSU, "Expires").text = expires.strftime("%Y-%m-%dT%H:%M:%SZ")
    security.append(assertion)
    signature = sub(security, DS, "Signature")
    signed_info = sub(signature, DS, "SignedInfo")
    sub(signed_info, DS, "CanonicalizationMethod", Algorithm=EXC_C14N)
    sub(signed_info, DS, "SignatureMethod", Algorithm="http://www.w3.org/2000/09/xmldsig#rsa-sha1")
    for uri in ("#TS-1", "#id-body-1"):
        reference = sub(signed_info, DS, "Reference", URI=uri)
        sub(sub(reference, DS, "Transforms"), DS, "Transform", Algorithm=EXC_C14N)
        sub(reference, DS, "DigestMethod", Algorithm="http://www.w3.org/2000/09/xmldsig#sha1")
        sub(reference, DS, "DigestValue")
    sub(signature, DS, "SignatureValue")
    token_reference = sub(
        sub(signature, DS, "KeyInfo"),
        WSSE,
        "SecurityTokenReference",
        **{
            f"{{{WSSE11}}}TokenType": (
                "http://docs.oasis-open.org/wss/oasis-wss-saml-token-profile-1.1#SAMLV1.1"
            )
        },
    )
    sub(
        token_reference,
        WSSE,
        "KeyIdentifier",
        ValueType="http://docs.oasis-open.org/wss/oasis-wss-saml-token-profile-1.0#SAMLAssertionID",
    ).text = assertion.get("AssertionID")
    sub(envelope, SOAP11, "Body", **{f"{{{WSU}}}Id": "id-body-1"}).append(payload)
    return xmlsec1_sign(
        etree.tostring(envelope),
        private_key_pem=key_pem,
        node_xpath="//*[local-name()='Security']/*[local-name()='Signature']",
    )


async def _call(
    running: Running,
    path: str,
    operation: str,
    kmehr: bytes,
    patient: Patient,
    *,
    version: codec.AttestVersion,
    action: str | None = None,
    mutate: Callable[[etree._Element], None] | None = None,
) -> tuple[int, etree._Element, etree._Element, ConnectorClient]:
    """Post one request; returns (status, request payload, answer envelope, client)."""
    async with running.client() as client:
        assertion = await client.token()
        now = datetime.now(UTC)
        common = CommonInput(
            is_test=True,
            input_reference=now.strftime("%Y%m%d%H%M%S%f")[:17],
            package_name="eattest-v2 test",
            provider_quality="doctor",
            provider_nihii=running.provider.nihii,
            provider_ssin=running.provider.ssin,
        )
        request = codec.build_request(
            operation,
            common,
            await _sealed(client, kmehr),
            attempt=1,
            patient_ssin=patient.ssin,
            reference_date=now.date(),
            content_encryption="encryptedForKnownBED",
            request_id=f"_{uuid.uuid4().hex}",
            now=now,
            version=version,
        )
        if mutate is not None:
            mutate(request)
        key_pem = client.identity.key.private_bytes(
            Encoding.PEM, PrivateFormat.PKCS8, NoEncryption()
        )
        body = _xmlsec1_envelope(request, assertion, key_pem)
        status, raw = await client.post_raw(path, body, action)
    return status, etree.fromstring(body), etree.fromstring(raw), client


def _answer(envelope: etree._Element) -> etree._Element:
    body = envelope.find(f"{{{SOAP11}}}Body")
    assert body is not None and len(body), etree.tostring(envelope)
    return body[0]


def _result(
    client: ConnectorClient, answer: etree._Element, version: codec.AttestVersion
) -> tuple[codec.AttestResult, bytes]:
    detail = codec.parse_response_detail(answer, version)
    assert detail.content_encryption is not None
    known = openssl_unseal(
        detail.content,
        cert_pem=client.identity.cert.public_bytes(Encoding.PEM),
        key_pem=client.identity.key.private_bytes(
            Encoding.PEM, PrivateFormat.PKCS8, NoEncryption()
        ),
        ca_pem=client.ca_cert.public_bytes(Encoding.PEM),
    )
    business = parse_known_content(known).business_content
    return codec.read_transaction_response(business), known


@pytest.fixture(scope="module")
def official(shared_reference: Path) -> dict[str, etree.XMLSchema]:
    folder = shared_reference / "xsd/ehealth-mycarenet-attest/XSD"
    return {
        label: etree.XMLSchema(etree.parse(str(folder / f"mycarenet-attest-protocol-{n}_0.xsd")))
        for label, n in (("v1", 1), ("v2", 2))
    }


def _send_kmehr(running: Running, patient: Patient) -> bytes:
    line = codec.ServiceLine(CONSULTATION, running.sim.clock.today(), Decimal("30.00"))
    return codec.build_send_transaction(
        _author(running),
        patient,
        [line],
        now=datetime.now(UTC),
        receiving_party=client_eattest.DEFAULT_RECEIVING_PARTY,
    )


def _cancel_kmehr(running: Running, patient: Patient, number: str, reason: str = "B") -> bytes:
    return codec.build_cancel_transaction(
        _author(running), patient, number, reason, now=datetime.now(UTC)
    )


# -- v2 -------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "action", [None, "urn:be:fgov:ehealth:mycarenet:attest:protocol:v2:SendAttestation"]
)
async def test_v2_send_is_attested_in_the_v2_shape(
    running: Running, official: dict[str, etree.XMLSchema], action: str | None
) -> None:
    patient = _fresh_patient(running)
    status, sent, envelope, client = await _call(
        running,
        V2_PATH,
        codec.SEND,
        _send_kmehr(running, patient),
        patient,
        version=codec.ATTEST_V2,
        action=action,
    )
    assert status == 200, etree.tostring(envelope)
    # What we sent and what we got are both what the official v2 schema describes.
    sent_payload = _answer(sent)
    assert official["v2"].validate(sent_payload), official["v2"].error_log
    answer = _answer(envelope)
    assert answer.tag == codec.ATTEST_V2.tag(codec.SEND, "Response")
    assert official["v2"].validate(answer), official["v2"].error_log
    assert answer.get("InResponseTo") == sent_payload.get("Id")
    result, _ = _result(client, answer, codec.ATTEST_V2)
    assert (result.complete, result.codes) == (True, ())
    number = result.invoicing_number or ""
    assert is_valid_invoicing_number(number) and number.startswith(f"{patient.insurer}-")
    assert result.fees == ((CONSULTATION, Decimal("30.00")),)
    stored = running.sim.records.get(ATTESTATIONS, number)
    assert stored is not None and stored["patient"] == patient.ssin


async def test_v2_cancel_and_the_v3_rules_and_records_apply(
    running: Running, official: dict[str, etree.XMLSchema]
) -> None:
    patient = _fresh_patient(running)
    _, _, envelope, client = await _call(
        running,
        V2_PATH,
        codec.SEND,
        _send_kmehr(running, patient),
        patient,
        version=codec.ATTEST_V2,
    )
    number = _result(client, _answer(envelope), codec.ATTEST_V2)[0].invoicing_number or ""
    # The same consultation again, now at v3: the v2 attestation counts (duplicate, 190).
    async with running.client() as v3_client:
        line = codec.ServiceLine(CONSULTATION, running.sim.clock.today(), Decimal("30.00"))
        again = await client_eattest.send_attestation(v3_client, patient, [line])
    assert again.result.codes == ("190",)
    # Cancelled over v2, then the cancellation cannot be repeated.
    status, _, envelope, client = await _call(
        running,
        V2_PATH,
        codec.CANCEL,
        _cancel_kmehr(running, patient, number),
        patient,
        version=codec.ATTEST_V2,
    )
    assert status == 200
    answer = _answer(envelope)
    assert answer.tag == codec.ATTEST_V2.tag(codec.CANCEL, "Response")
    assert official["v2"].validate(answer), official["v2"].error_log
    cancelled = _result(client, answer, codec.ATTEST_V2)[0]
    assert (cancelled.complete, cancelled.invoicing_number, cancelled.cancellation_reason) == (
        True,
        number,
        "B",
    )
    _, _, envelope, client = await _call(
        running,
        V2_PATH,
        codec.CANCEL,
        _cancel_kmehr(running, patient, number),
        patient,
        version=codec.ATTEST_V2,
    )
    assert _result(client, _answer(envelope), codec.ATTEST_V2)[0].codes == ("240",)


async def test_a_v3_request_at_v2_is_not_an_operation(running: Running) -> None:
    patient = _fresh_patient(running)
    status, _, envelope, _ = await _call(
        running,
        V2_PATH,
        codec.SEND,
        _send_kmehr(running, patient),
        patient,
        version=codec.ATTEST_V3,
    )
    assert status == 500
    fault = envelope.find(f"{{{SOAP11}}}Body/{{{SOAP11}}}Fault")
    assert fault is not None
    assert fault.findtext(f"detail/{{{SOA_ERRORS}}}BusinessError/Code") == "SOA-03005"


async def test_a_commons_v4_element_in_a_v2_request_is_refused_by_the_schema(
    running: Running,
) -> None:
    """Commons core v3 has no CommonInput/Attribute (attemptNbr came with v4)."""

    def add_attempt(request: etree._Element) -> None:
        common = request.find(codec.ATTEST_V2.commons.p("CommonInput"))
        assert common is not None
        attribute = etree.SubElement(
            common, codec.ATTEST_V2.commons.c("Attribute"), Key=codec.ATTEMPT_KEY
        )
        etree.SubElement(attribute, codec.ATTEST_V2.commons.c("Value")).text = "1"

    patient = _fresh_patient(running)
    status, _, envelope, _ = await _call(
        running,
        V2_PATH,
        codec.SEND,
        _send_kmehr(running, patient),
        patient,
        version=codec.ATTEST_V2,
        mutate=add_attempt,
    )
    assert status == 500
    fault = envelope.find(f"{{{SOAP11}}}Body/{{{SOAP11}}}Fault")
    assert fault is not None
    assert fault.findtext(f"detail/{{{SOA_ERRORS}}}BusinessError/Code") == "SOA-03006"


async def test_the_v3_soap_action_at_v2_is_refused(running: Running) -> None:
    patient = _fresh_patient(running)
    status, _, envelope, _ = await _call(
        running,
        V2_PATH,
        codec.SEND,
        _send_kmehr(running, patient),
        patient,
        version=codec.ATTEST_V2,
        action="urn:be:fgov:ehealth:mycarenet:attest:protocol:v3:SendAttestation",
    )
    assert status == 500
    faultstring = envelope.findtext(f"{{{SOAP11}}}Body/{{{SOAP11}}}Fault/faultstring") or ""
    assert faultstring.startswith("SOA-03005")


# -- v1 -------------------------------------------------------------------------------------------


async def test_v1_send_is_attested_in_the_v1_shape(
    running: Running, official: dict[str, etree.XMLSchema]
) -> None:
    patient = _fresh_patient(running)
    status, sent, envelope, client = await _call(
        running,
        V1_PATH,
        codec.SEND,
        _send_kmehr(running, patient),
        patient,
        version=codec.ATTEST_V1,
    )
    assert status == 200, etree.tostring(envelope)
    assert official["v1"].validate(_answer(sent)), official["v1"].error_log
    answer = _answer(envelope)
    assert answer.tag == codec.ATTEST_V1.tag(codec.SEND, "Response")
    assert official["v1"].validate(answer), official["v1"].error_log
    result, _ = _result(client, answer, codec.ATTEST_V1)
    assert result.complete and is_valid_invoicing_number(result.invoicing_number or "")


async def test_v1_has_no_cancellation(running: Running) -> None:
    patient = _fresh_patient(running)
    status, _, envelope, _ = await _call(
        running,
        V1_PATH,
        codec.CANCEL,
        _cancel_kmehr(running, patient, "100-1-260101-0000001-00"),
        patient,
        version=codec.ATTEST_V2,
    )
    assert status == 500
    faultstring = envelope.findtext(f"{{{SOAP11}}}Body/{{{SOAP11}}}Fault/faultstring") or ""
    assert faultstring.startswith("SOA-03005") and "CancelAttestationRequest" in faultstring
