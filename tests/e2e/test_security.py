"""WS-Security over HTTP: the STS token, signed answers, and what strict mode refuses."""

from __future__ import annotations

import copy
from datetime import UTC, datetime, timedelta
from pathlib import Path

import aiohttp
import pytest
from cryptography.hazmat.primitives.serialization import Encoding
from lxml import etree

from simulator.codecs import tarification as tarification_codec
from simulator.config import SecurityMode
from simulator.security.pki import TestPki, write_keystore
from simulator.security.wssecurity import sign_envelope_saml
from simulator.soap.envelope import new_envelope, serialize
from simulator.soap.namespaces import SOA_ERRORS, SOAP11
from simulator.store.base import JournalQuery
from tests.e2e.conftest import PASSWORD, Running
from tests.support.independent import openssl_cms_verify, xmlsec1_sign, xmlsec1_verify
from tests.support.server import start_server

SAML1 = "urn:oasis:names:tc:SAML:1.0:assertion"
WSSE = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd"
TARIFICATION = "/MyCareNet/Tarification/v1"
TARIFICATION_ACTION = "urn:be:fgov:ehealth:mycarenet:tarification:protocol:v1:TarificationConsult"


def _attributes(assertion: etree._Element) -> dict[str, list[str]]:
    return {
        attribute.get("AttributeName", ""): [
            v.text or "" for v in attribute.iter(f"{{{SAML1}}}AttributeValue")
        ]
        for attribute in assertion.iter(f"{{{SAML1}}}Attribute")
    }


async def test_the_sts_certifies_what_the_certificate_says(running: Running) -> None:
    async with running.client() as client:
        assertion = await client.token()
    attributes = _attributes(assertion)
    assert attributes["urn:be:fgov:ehealth:1.0:certificateholder:person:ssin"] == [
        running.provider.ssin
    ]
    assert attributes["urn:be:fgov:person:ssin:ehealth:1.0:doctor:nihii11"] == [
        running.provider.nihii
    ]
    assert attributes["urn:be:fgov:person:ssin:ehealth:1.0:professional:doctor:boolean"] == ["true"]
    conditions = assertion.find(f"{{{SAML1}}}Conditions")
    assert conditions is not None
    start = datetime.fromisoformat(conditions.get("NotBefore", "").replace("Z", "+00:00"))
    end = datetime.fromisoformat(conditions.get("NotOnOrAfter", "").replace("Z", "+00:00"))
    assert end - start == timedelta(hours=24)
    # xmlsec1 agrees that the STS signed it.
    verdict = xmlsec1_verify(
        etree.tostring(assertion),
        key_cert_pem=running.sim.pki.sts.cert.public_bytes(Encoding.PEM),
        id_nodes=(f"{SAML1}:Assertion",),
        id_attribute="AssertionID",
    )
    assert verdict.returncode == 0, verdict.stderr


async def test_answers_are_signed_by_the_insurer_and_xmlsec1_agrees(running: Running) -> None:
    patient = running.population.patients[0]
    async with running.client() as client:
        request = _tarification_request(running, patient.ssin)
        reply = await client.call(TARIFICATION, TARIFICATION_ACTION, request)
    verdict = xmlsec1_verify(
        reply.raw, key_cert_pem=running.sim.pki.insurer_signing.cert.public_bytes(Encoding.PEM)
    )
    assert verdict.returncode == 0, verdict.stderr
    assert "OK" in verdict.stdout + verdict.stderr
    # and a byte changed in the signed Body is caught by the same judge
    tampered = reply.raw.replace(b"ContentEncoding=", b"ContentEncodinG=", 1)
    assert (
        xmlsec1_verify(
            tampered, key_cert_pem=running.sim.pki.insurer_signing.cert.public_bytes(Encoding.PEM)
        ).returncode
        != 0
    )


async def test_the_insurer_etk_is_a_cms_signed_by_the_ca_chain(running: Running) -> None:
    async with running.client() as client:
        etk = await client.insurer_etk()
    verified = openssl_cms_verify(etk, running.sim.pki.ca.cert.public_bytes(Encoding.PEM))
    assert verified.returncode == 0, verified.stderr
    assert verified.stdout == running.sim.pki.insurer_encryption.cert.public_bytes(Encoding.DER)


async def test_an_ec_keystore_logs_in_and_calls(running: Running) -> None:
    keystore = running.keystore_for(running.provider, "gp-ec", key_type="ec")
    patient = running.population.patients[1]
    async with running.client(keystore) as client:
        result = await client.tarification(patient.ssin, ["101032"], running.sim.clock.today())
    assert result.raw is not None


def _tarification_request(running: Running, ssin: str) -> etree._Element:
    now = datetime.now(UTC)
    return tarification_codec.build_request(
        provider_nihii=running.provider.nihii,
        provider_ssin=running.provider.ssin,
        provider_type="persphysician",
        patient_ssin=ssin,
        encounter_date=running.sim.clock.today(),
        codes=["101032"],
        gmd_manager=None,
        input_reference=now.strftime("%Y%m%d%H%M%S%f")[:17],
        issue_instant=now,
    )


async def _signed_call(
    running: Running, mutate: object = None, *, signed_at: datetime | None = None
) -> tuple[int, str | None, str, str | None]:
    """Sign a tarification request like a connector, let `mutate` spoil it, post it."""
    async with running.client() as client:
        assertion = await client.token()
        envelope = new_envelope(_tarification_request(running, running.population.patients[2].ssin))
        sign_envelope_saml(
            envelope, assertion, client.identity.key, now=signed_at or datetime.now(UTC)
        )
        if callable(mutate):
            mutate(envelope)
        status, raw = await client.post_raw(TARIFICATION, serialize(envelope), TARIFICATION_ACTION)
    root = etree.fromstring(raw)
    fault = root.find(f"{{{SOAP11}}}Body/{{{SOAP11}}}Fault")
    if fault is None:
        return status, None, "", None
    code = fault.findtext(f"detail/{{{SOA_ERRORS}}}BusinessError/Code")
    faultcode = fault.findtext("faultcode") or ""
    return status, code, faultcode, fault.findtext("faultstring")


def _body(envelope: etree._Element) -> etree._Element:
    body = envelope.find(f"{{{SOAP11}}}Body")
    assert body is not None
    return body


def _spoil(body: etree._Element) -> None:
    """Change one digit of the request's InputReference: still valid, no longer what was signed."""
    reference = next(e for e in body.iter() if etree.QName(e).localname == "InputReference")
    text = reference.text or "0"
    reference.text = text[:-1] + ("1" if text[-1] != "1" else "2")


async def test_a_correctly_signed_call_passes(running: Running) -> None:
    status, code, _, _ = await _signed_call(running)
    assert (status, code) == (200, None)


async def test_a_tampered_body_is_refused(running: Running) -> None:
    def tamper(envelope: etree._Element) -> None:
        _spoil(_body(envelope))

    status, code, faultcode, _ = await _signed_call(running, tamper)
    assert (status, code) == (500, "SOA-01001")
    assert faultcode.endswith("FailedCheck")


@pytest.mark.parametrize(
    ("forged_id", "code", "fault"),
    [
        # two elements with the signed id: refused as a duplicate id (the schemas read xs:ID
        # as xs:NCName, see soap/validation.py `_without_id_types`, so security says it)
        ("copied", "SOA-01001", "wsse:InvalidSecurity"),
        # ids only on the wrapped original: the real Body is unsigned
        ("removed", "SOA-01001", "wsse:FailedCheck"),
    ],
)
async def test_a_wrapped_body_is_refused(
    running: Running, forged_id: str, code: str, fault: str
) -> None:
    def wrap(envelope: etree._Element) -> None:
        # The attacker keeps the signed Body in a header and puts his own Body in its place.
        header = envelope.find(f"{{{SOAP11}}}Header")
        assert header is not None
        body = _body(envelope)
        wrapper = etree.SubElement(header, "{urn:attacker}Wrapper")
        forged = copy.deepcopy(body)
        if forged_id == "removed":
            for element in forged.iter():
                element.attrib.pop(f"{{{WSU}}}Id", None)
                element.attrib.pop("Id", None)
        envelope.replace(body, forged)
        wrapper.append(body)
        _spoil(forged)

    status, got, faultcode, reason = await _signed_call(running, wrap)
    assert (status, got) == (500, code), reason
    assert faultcode == fault, (faultcode, reason)


async def test_an_expired_timestamp_is_refused(running: Running) -> None:
    status, code, faultcode, _ = await _signed_call(
        running, signed_at=datetime.now(UTC) - timedelta(hours=1)
    )
    assert (status, code) == (500, "SOA-01001")
    assert faultcode.endswith("MessageExpired")


async def test_a_certificate_from_another_ca_gets_no_token(
    running: Running, tmp_path: Path
) -> None:
    stranger = TestPki.load_or_create(tmp_path / "elsewhere").issue_provider(
        running.provider.nihii, running.provider.ssin, "Dr Stranger"
    )
    keystore = tmp_path / "stranger.p12"
    write_keystore(keystore, stranger, PASSWORD)
    async with running.client(keystore) as client:
        status, raw = await _post_token_request(client)
    assert status == 500
    assert b"SOA-01001" in raw


async def _post_token_request(client: object) -> tuple[int, bytes]:
    from simulator.codecs import sts as sts_codec
    from simulator.domain.sts import designators_for
    from simulator.security.wssecurity import sign_envelope_x509

    now = datetime.now(UTC)
    identity = client.identity  # type: ignore[attr-defined]
    subject = client.subject  # type: ignore[attr-defined]
    rst = sts_codec.build_request(
        identity.cert,
        subject.ssin,
        designators_for(subject.profession),
        context="RC-1",
        created=now,
        expires=now + timedelta(hours=1),
    )
    envelope = new_envelope(rst)
    sign_envelope_x509(envelope, identity.key, identity.cert, now=now)
    return await client.post_raw("/IAM/SecurityTokenService/v1", serialize(envelope), "")  # type: ignore[attr-defined,no-any-return]


async def test_lenient_mode_answers_but_journals_the_verdict(tmp_path: Path) -> None:
    server = start_server(tmp_path / "lenient", security_mode=SecurityMode.LENIENT)
    try:
        assert server.sim is not None
        gp = next(p for p in server.sim.population.providers if p.kind == "GP")
        lenient = Running(server, Path(), gp)
        lenient.keystore = lenient.keystore_for(gp, "gp")

        def tamper(envelope: etree._Element) -> None:
            _spoil(_body(envelope))

        status, code, _, _ = await _signed_call(lenient, tamper)
        assert (status, code) == (200, None)
        (entry,) = server.sim.store.journal(JournalQuery(service="etar"))
        assert entry.security["verdict"] == "rejected"
        assert entry.security["fault"] == "FailedCheck"
    finally:
        server.stop()


async def test_health_reports_the_mode(running: Running) -> None:
    async with (
        aiohttp.ClientSession() as session,
        session.get(running.server.base_url + "/__admin/health") as response,
    ):
        health = await response.json()
    assert health["security_mode"] == "strict"
    assert TARIFICATION in health["endpoints"]


DS = "http://www.w3.org/2000/09/xmldsig#"
WSU = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-utility-1.0.xsd"
WSSE11 = "http://docs.oasis-open.org/wss/oasis-wss-wssecurity-secext-1.1.xsd"
EXC_C14N = "http://www.w3.org/2001/10/xml-exc-c14n#"


def _xmlsec1_template(payload: etree._Element, assertion: etree._Element, now: datetime) -> bytes:
    """A connector-shaped envelope whose ds:Signature is left for xmlsec1 to compute."""
    E = lambda ns, tag, parent, **attrs: etree.SubElement(parent, f"{{{ns}}}{tag}", **attrs)  # noqa: E731
    envelope = etree.Element(
        f"{{{SOAP11}}}Envelope",
        nsmap={"soap": SOAP11, "wsse": WSSE, "wsu": WSU, "ds": DS, "wsse11": WSSE11},
    )
    header = E(SOAP11, "Header", envelope)
    security = E(WSSE, "Security", header, **{f"{{{SOAP11}}}mustUnderstand": "1"})
    timestamp = E(WSU, "Timestamp", security, **{f"{{{WSU}}}Id": "TS-xmlsec1"})
    E(WSU, "Created", timestamp).text = now.strftime("%Y-%m-%dT%H:%M:%S.000Z")
    E(WSU, "Expires", timestamp).text = (now + timedelta(minutes=5)).strftime(
        "%Y-%m-%dT%H:%M:%S.000Z"
    )
    security.append(copy.deepcopy(assertion))
    signature = E(DS, "Signature", security)
    signed_info = E(DS, "SignedInfo", signature)
    E(DS, "CanonicalizationMethod", signed_info, Algorithm=EXC_C14N)
    E(
        DS,
        "SignatureMethod",
        signed_info,
        Algorithm="http://www.w3.org/2001/04/xmldsig-more#rsa-sha256",
    )
    for uri in ("#id-body-xmlsec1", "#TS-xmlsec1"):
        reference = E(DS, "Reference", signed_info, URI=uri)
        E(DS, "Transform", E(DS, "Transforms", reference), Algorithm=EXC_C14N)
        E(DS, "DigestMethod", reference, Algorithm="http://www.w3.org/2001/04/xmlenc#sha256")
        E(DS, "DigestValue", reference)
    E(DS, "SignatureValue", signature)
    reference = E(
        WSSE,
        "SecurityTokenReference",
        E(DS, "KeyInfo", signature),
        **{
            f"{{{WSSE11}}}TokenType": "http://docs.oasis-open.org/wss/oasis-wss-saml-token-profile-1.1#SAMLV1.1"
        },
    )
    E(
        WSSE,
        "KeyIdentifier",
        reference,
        ValueType="http://docs.oasis-open.org/wss/oasis-wss-saml-token-profile-1.0#SAMLAssertionID",
    ).text = assertion.get("AssertionID")
    body = E(SOAP11, "Body", envelope, **{f"{{{WSU}}}Id": "id-body-xmlsec1"})
    body.append(payload)
    return etree.tostring(envelope)


async def test_a_request_signed_by_xmlsec1_is_accepted(running: Running) -> None:
    from cryptography.hazmat.primitives.serialization import NoEncryption, PrivateFormat

    patient = running.population.patients[3]
    async with running.client() as client:
        assertion = await client.token()
        template = _xmlsec1_template(
            _tarification_request(running, patient.ssin), assertion, datetime.now(UTC)
        )
        key_pem = client.identity.key.private_bytes(
            Encoding.PEM, PrivateFormat.PKCS8, NoEncryption()
        )
        signed = xmlsec1_sign(
            template,
            private_key_pem=key_pem,
            node_xpath="/*[local-name()='Envelope']/*[local-name()='Header']"
            "/*[local-name()='Security']/*[local-name()='Signature']",
        )
        status, raw = await client.post_raw(TARIFICATION, signed, TARIFICATION_ACTION)
    assert status == 200, raw[:2000]
    (entry,) = running.sim.store.journal(JournalQuery(patient_ssin=patient.ssin, limit=1))
    assert entry.security["verdict"] == "valid"


async def test_tls_with_the_simulators_own_ca(tmp_path: Path) -> None:
    server = start_server(tmp_path / "tls", tls=True)
    try:
        assert server.sim is not None and server.base_url.startswith("https://")
        gp = next(p for p in server.sim.population.providers if p.kind == "GP")
        secure = Running(server, Path(), gp)
        secure.keystore = secure.keystore_for(gp, "gp")
        async with secure.client() as client:
            etk = await client.insurer_etk()
        assert etk
        # A client that trusts only the system roots refuses the simulator's certificate.
        async with aiohttp.ClientSession() as session:
            try:
                await session.get(server.base_url + "/__admin/health")
            except aiohttp.ClientConnectorCertificateError:
                pass
            else:
                raise AssertionError("the TLS certificate must not be trusted without the CA")
    finally:
        server.stop()
