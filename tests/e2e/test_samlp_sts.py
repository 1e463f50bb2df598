"""The SAML-P STS (client-quirks refusal #6) over HTTP, with requests signed by xmlsec1.

Requests are laid out as EGK `library-core/Sts/Saml11/Request.cs` writes them (the connector's
legacy template and MDK have the same shape): samlp:Request/@RequestID, an enveloped signature
as first child (Reference #RequestID, [enveloped-signature, exc-c14n], KeyInfo/X509Data), and an
AttributeQuery whose SubjectConfirmation holds the asserted attributes and the holder-of-key
certificate. xmlsec1 signs them and judges the assertion we answer with; the official SAML 1.1
protocol XSD judges the answer's shape.
"""

from __future__ import annotations

import base64
import copy
import subprocess
import tempfile
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import aiohttp
import pytest
from cryptography.hazmat.primitives.serialization import (
    Encoding,
    NoEncryption,
    PrivateFormat,
)
from lxml import etree

from simulator.codecs import tarification as tarification_codec
from simulator.config import SecurityMode
from simulator.scenarios.loader import load_scenario
from simulator.security.pki import (
    Identity,
    TestPki,
    load_keystore,
    parse_subject,
    write_keystore,
)
from simulator.security.wssecurity import sign_envelope_saml, sign_envelope_x509
from simulator.soap.envelope import new_envelope, serialize
from simulator.soap.namespaces import SOA_ERRORS, SOAP11
from simulator.store.base import JournalQuery
from tests.e2e.conftest import PASSWORD, Running
from tests.support.independent import xmlsec1_verify
from tests.support.server import ServerThread, start_server

SAMLP = "urn:oasis:names:tc:SAML:1.0:protocol"
SAML1 = "urn:oasis:names:tc:SAML:1.0:assertion"
DS = "http://www.w3.org/2000/09/xmldsig#"
EXC_C14N = "http://www.w3.org/2001/10/xml-exc-c14n#"
ENVELOPED = "http://www.w3.org/2000/09/xmldsig#enveloped-signature"
RSA_SHA1 = ("http://www.w3.org/2000/09/xmldsig#rsa-sha1", "http://www.w3.org/2000/09/xmldsig#sha1")
RSA_SHA256 = (
    "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256",
    "http://www.w3.org/2001/04/xmlenc#sha256",
)
HOLDER_SSIN = "urn:be:fgov:ehealth:1.0:certificateholder:person:ssin"
PERSON_SSIN = "urn:be:fgov:person:ssin"
IDENTIFICATION = "urn:be:fgov:identification-namespace"
CERTIFIED = "urn:be:fgov:certified-namespace:ehealth"
DOCTOR_NIHII = "urn:be:fgov:person:ssin:ehealth:1.0:doctor:nihii11"
DOCTOR_BOOLEAN = "urn:be:fgov:person:ssin:ehealth:1.0:professional:doctor:boolean"
SAML11_PATH = "/IAM/Saml11TokenService/v1"
LEGACY_PATH = "/IAM/Saml11TokenService/Legacy/v1"
WSTRUST_PATH = "/IAM/SecurityTokenService/v1"
SECURE_TOKEN = "urn:be:fgov:ehealth:sts:protocol:v1:RequestSecureToken"
SECURITY_TOKEN = "urn:be:fgov:ehealth:sts:protocol:v1:RequestSecurityToken"


# -- building and signing requests the way the clients do -----------------------------------------


def _request(
    holder: Identity,
    *,
    designators: tuple[tuple[str, str], ...] | None = None,
    ssin: str | None = None,
    request_id: str | None = None,
    hours: int = 24,
) -> etree._Element:
    """An EGK-shaped samlp:Request (unsigned)."""
    now = datetime.now(UTC).replace(microsecond=0)
    stamp = now.strftime("%Y-%m-%dT%H:%M:%SZ")
    holder_ssin = ssin or _ssin_of(holder)
    request = etree.Element(
        f"{{{SAMLP}}}Request",
        nsmap={"samlp": SAMLP},
        RequestID=request_id or f"uuid-{uuid.uuid4()}",
        MajorVersion="1",
        MinorVersion="1",
        IssueInstant=stamp,
    )
    query = etree.SubElement(request, f"{{{SAMLP}}}AttributeQuery")
    subject = etree.SubElement(query, f"{{{SAML1}}}Subject", nsmap={"saml": SAML1})
    name = holder.cert.subject.rfc4514_string()
    issuer = holder.cert.issuer.rfc4514_string()
    etree.SubElement(
        subject,
        f"{{{SAML1}}}NameIdentifier",
        Format="urn:oasis:names:tc:SAML:1.1:nameid-format:X509SubjectName",
        NameQualifier=issuer,
    ).text = name
    confirmation = etree.SubElement(subject, f"{{{SAML1}}}SubjectConfirmation")
    etree.SubElement(
        confirmation, f"{{{SAML1}}}ConfirmationMethod"
    ).text = "urn:oasis:names:tc:SAML:1.0:cm:holder-of-key"
    data = etree.SubElement(confirmation, f"{{{SAML1}}}SubjectConfirmationData")
    assertion = etree.SubElement(
        data,
        f"{{{SAML1}}}Assertion",
        MajorVersion="1",
        MinorVersion="1",
        IssueInstant=stamp,
        Issuer="mycarenet-sim-tests",
        AssertionID=f"id-{uuid.uuid4()}",
    )
    end = (now + timedelta(hours=hours)).strftime("%Y-%m-%dT%H:%M:%SZ")
    etree.SubElement(assertion, f"{{{SAML1}}}Conditions", NotBefore=stamp, NotOnOrAfter=end)
    statement = etree.SubElement(assertion, f"{{{SAML1}}}AttributeStatement")
    inner = etree.SubElement(statement, f"{{{SAML1}}}Subject")
    etree.SubElement(
        inner,
        f"{{{SAML1}}}NameIdentifier",
        Format="urn:oasis:names:tc:SAML:1.1:nameid-format:X509SubjectName",
        NameQualifier=issuer,
    ).text = name
    for attribute_name in (HOLDER_SSIN, PERSON_SSIN):
        attribute = etree.SubElement(
            statement,
            f"{{{SAML1}}}Attribute",
            AttributeNamespace=IDENTIFICATION,
            AttributeName=attribute_name,
        )
        etree.SubElement(attribute, f"{{{SAML1}}}AttributeValue").text = holder_ssin
    key_info = etree.SubElement(confirmation, f"{{{DS}}}KeyInfo", nsmap={"ds": DS})
    etree.SubElement(
        etree.SubElement(key_info, f"{{{DS}}}X509Data"), f"{{{DS}}}X509Certificate"
    ).text = base64.b64encode(holder.cert.public_bytes(Encoding.DER)).decode()
    asked = designators or (
        (IDENTIFICATION, HOLDER_SSIN),
        (IDENTIFICATION, PERSON_SSIN),
        (CERTIFIED, DOCTOR_NIHII),
        (CERTIFIED, DOCTOR_BOOLEAN),
    )
    for namespace, attribute_name in asked:
        etree.SubElement(
            query,
            f"{{{SAML1}}}AttributeDesignator",
            AttributeNamespace=namespace,
            AttributeName=attribute_name,
        )
    return request


def _ssin_of(identity: Identity) -> str:
    ssin = parse_subject(identity.cert).ssin
    assert ssin is not None
    return ssin


def _signature_template(request: etree._Element, algorithms: tuple[str, str]) -> None:
    """An unfilled enveloped ds:Signature as the request's first child, as EGK inserts it."""
    method, digest = algorithms
    signature = etree.Element(f"{{{DS}}}Signature", nsmap={"ds": DS})
    signed_info = etree.SubElement(signature, f"{{{DS}}}SignedInfo")
    etree.SubElement(signed_info, f"{{{DS}}}CanonicalizationMethod", Algorithm=EXC_C14N)
    etree.SubElement(signed_info, f"{{{DS}}}SignatureMethod", Algorithm=method)
    reference = etree.SubElement(
        signed_info, f"{{{DS}}}Reference", URI=f"#{request.get('RequestID')}"
    )
    transforms = etree.SubElement(reference, f"{{{DS}}}Transforms")
    etree.SubElement(transforms, f"{{{DS}}}Transform", Algorithm=ENVELOPED)
    etree.SubElement(transforms, f"{{{DS}}}Transform", Algorithm=EXC_C14N)
    etree.SubElement(reference, f"{{{DS}}}DigestMethod", Algorithm=digest)
    etree.SubElement(reference, f"{{{DS}}}DigestValue")
    etree.SubElement(signature, f"{{{DS}}}SignatureValue")
    etree.SubElement(etree.SubElement(signature, f"{{{DS}}}KeyInfo"), f"{{{DS}}}X509Data")
    request.insert(0, signature)


def _xmlsec1_sign(document: bytes, signer: Identity) -> bytes:
    """xmlsec1 fills the template: digest, value and the signer's certificate."""
    with tempfile.TemporaryDirectory() as work:
        folder = Path(work)
        (folder / "key.pem").write_bytes(
            signer.key.private_bytes(Encoding.PEM, PrivateFormat.PKCS8, NoEncryption())
        )
        (folder / "cert.pem").write_bytes(signer.cert.public_bytes(Encoding.PEM))
        (folder / "in.xml").write_bytes(document)
        command = [
            "xmlsec1",
            "--sign",
            "--privkey-pem",
            f"{folder / 'key.pem'},{folder / 'cert.pem'}",
            "--id-attr:RequestID",
            f"{SAMLP}:Request",
            "--node-xpath",
            "//*[local-name()='Request']/*[local-name()='Signature']",
            "--output",
            str(folder / "out.xml"),
            str(folder / "in.xml"),
        ]
        done = subprocess.run(command, capture_output=True, text=True, timeout=60)
        assert done.returncode == 0, done.stderr
        return (folder / "out.xml").read_bytes()


def _signed_envelope(
    request: etree._Element, signer: Identity, algorithms: tuple[str, str] = RSA_SHA1
) -> bytes:
    _signature_template(request, algorithms)
    return _xmlsec1_sign(serialize(new_envelope(request)), signer)


# -- posting and reading ---------------------------------------------------------------------------


async def _post(
    server: ServerThread, path: str, body: bytes, action: str | None
) -> tuple[int, etree._Element]:
    headers = {"Content-Type": "text/xml; charset=utf-8"}
    if action is not None:
        headers["SOAPAction"] = action
    async with (
        aiohttp.ClientSession() as session,
        session.post(server.base_url + path, data=body, headers=headers) as answer,
    ):
        return answer.status, etree.fromstring(await answer.read())


def _response(root: etree._Element) -> etree._Element:
    response = root.find(f"{{{SOAP11}}}Body/{{{SAMLP}}}Response")
    assert response is not None, etree.tostring(root)
    return response


def _status(response: etree._Element) -> tuple[list[str], str | None]:
    codes = [c.get("Value", "") for c in response.iter(f"{{{SAMLP}}}StatusCode")]
    return codes, response.findtext(f"{{{SAMLP}}}Status/{{{SAMLP}}}StatusMessage")


def _attributes(assertion: etree._Element) -> dict[str, list[str]]:
    return {
        a.get("AttributeName", ""): [v.text or "" for v in a.iter(f"{{{SAML1}}}AttributeValue")]
        for a in assertion.iter(f"{{{SAML1}}}Attribute")
    }


@pytest.fixture(scope="module")
def gp(running: Running) -> Identity:
    return load_keystore(running.keystore, PASSWORD)


@pytest.fixture(scope="module")
def lenient(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerThread]:
    server = start_server(tmp_path_factory.mktemp("lenient"), security_mode=SecurityMode.LENIENT)
    yield server
    server.stop()


# -- what real clients send gets a token ---------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "action", "algorithms"),
    [
        (SAML11_PATH, f'"{SECURITY_TOKEN}"', RSA_SHA1),  # EGK: quoted by WCF, rsa-sha1
        (LEGACY_PATH, SECURE_TOKEN, RSA_SHA1),  # CONN legacy, MDK
        (SAML11_PATH, f'"{SECURE_TOKEN}"', RSA_SHA256),
        (WSTRUST_PATH, None, RSA_SHA256),  # beside WS-Trust, no SOAPAction header
        (WSTRUST_PATH, SECURITY_TOKEN, RSA_SHA1),
    ],
)
async def test_a_signed_attribute_query_gets_a_holder_of_key_token(
    running: Running,
    gp: Identity,
    shared_reference: Path,
    path: str,
    action: str | None,
    algorithms: tuple[str, str],
) -> None:
    request = _request(gp)
    request_id = request.get("RequestID")
    status, root = await _post(
        running.server, path, _signed_envelope(request, gp, algorithms), action
    )
    assert status == 200, etree.tostring(root)
    response = _response(root)
    assert _status(response) == (["samlp:Success"], None)
    assert response.get("InResponseTo") == request_id
    assertion = response.find(f"{{{SAML1}}}Assertion")
    assert assertion is not None
    attributes = _attributes(assertion)
    assert attributes[HOLDER_SSIN] == [running.provider.ssin]
    assert attributes[PERSON_SSIN] == [running.provider.ssin]
    assert attributes[DOCTOR_NIHII] == [running.provider.nihii]
    assert attributes[DOCTOR_BOOLEAN] == ["true"]
    # The token binds the holder-of-key certificate the request named.
    bound = assertion.findtext(
        f"{{{SAML1}}}AuthenticationStatement/{{{SAML1}}}Subject/{{{SAML1}}}SubjectConfirmation"
        f"/{{{DS}}}KeyInfo/{{{DS}}}X509Data/{{{DS}}}X509Certificate"
    )
    assert bound == base64.b64encode(gp.cert.public_bytes(Encoding.DER)).decode()
    # xmlsec1 agrees that the STS signed the assertion.
    verdict = xmlsec1_verify(
        etree.tostring(assertion),
        key_cert_pem=running.sim.pki.sts.cert.public_bytes(Encoding.PEM),
        id_nodes=(f"{SAML1}:Assertion",),
        id_attribute="AssertionID",
    )
    assert verdict.returncode == 0, verdict.stderr
    # The SOAP answer itself is signed by the STS too, not by the insurer (xmlsec1 again).
    envelope = xmlsec1_verify(
        etree.tostring(root),
        key_cert_pem=running.sim.pki.sts.cert.public_bytes(Encoding.PEM),
        node_xpath="//*[local-name()='Security']/*[local-name()='Signature']",
    )
    assert envelope.returncode == 0, envelope.stderr
    # and the official SAML 1.1 protocol schema accepts the answer.
    schema = etree.XMLSchema(
        etree.parse(
            str(shared_reference / "xsd/external/XSD/oasis-sstc-saml-schema-protocol-1.1.xsd")
        )
    )
    assert schema.validate(response), schema.error_log


async def test_the_request_we_send_is_valid_saml_1_1(gp: Identity, shared_reference: Path) -> None:
    """Our test requests follow the official schema, so the shapes above are the real ones."""
    signed = etree.fromstring(_signed_envelope(_request(gp), gp))
    request = signed.find(f"{{{SOAP11}}}Body/{{{SAMLP}}}Request")
    assert request is not None
    schema = etree.XMLSchema(
        etree.parse(
            str(shared_reference / "xsd/external/XSD/oasis-sstc-saml-schema-protocol-1.1.xsd")
        )
    )
    assert schema.validate(request), schema.error_log


async def test_token_validity_is_wire_time_not_the_business_clock(
    running: Running, gp: Identity
) -> None:
    clock = running.sim.clock
    clock.set(datetime(2031, 3, 4, 10, 0, tzinfo=UTC))
    try:
        _, root = await _post(
            running.server, SAML11_PATH, _signed_envelope(_request(gp, hours=8), gp), SECURE_TOKEN
        )
    finally:
        clock.unfreeze()
    assertion = _response(root).find(f"{{{SAML1}}}Assertion")
    assert assertion is not None
    conditions = assertion.find(f"{{{SAML1}}}Conditions")
    assert conditions is not None
    start = datetime.fromisoformat(conditions.get("NotBefore", "").replace("Z", "+00:00"))
    end = datetime.fromisoformat(conditions.get("NotOnOrAfter", "").replace("Z", "+00:00"))
    assert abs(start - datetime.now(UTC)) < timedelta(minutes=2)
    # The 8 hours the client asked for (its asserted Conditions), not the STS's 24.
    assert timedelta(hours=7, minutes=58) < end - start <= timedelta(hours=8)


async def test_the_token_works_at_a_mycarenet_service(running: Running, gp: Identity) -> None:
    """The SAML-P token is the same token: eTar accepts it for a holder-of-key call."""
    _, root = await _post(running.server, SAML11_PATH, _signed_envelope(_request(gp), gp), None)
    assertion = _response(root).find(f"{{{SAML1}}}Assertion")
    assert assertion is not None
    now = datetime.now(UTC)
    request = tarification_codec.build_request(
        provider_nihii=running.provider.nihii,
        provider_ssin=running.provider.ssin,
        provider_type="persphysician",
        patient_ssin=running.population.patients[3].ssin,
        encounter_date=running.sim.clock.today(),
        codes=["101032"],
        gmd_manager=None,
        input_reference=now.strftime("%Y%m%d%H%M%S%f")[:17],
        issue_instant=now,
    )
    envelope = new_envelope(request)
    sign_envelope_saml(envelope, assertion, gp.key, now=now)
    status, answer = await _post(
        running.server,
        "/MyCareNet/Tarification/v1",
        serialize(envelope),
        "urn:be:fgov:ehealth:mycarenet:tarification:protocol:v1:TarificationConsult",
    )
    assert status == 200, etree.tostring(answer)
    assert answer.find(f"{{{SOAP11}}}Body/{{{SOAP11}}}Fault") is None


async def test_connector_same_certificate_unsigned_request_with_x509_header(
    running: Running, gp: Identity
) -> None:
    """CONN legacy leaves the request unsigned when header and holder certificates are equal,
    and signs the envelope with an X.509 BinarySecurityToken instead."""
    envelope = new_envelope(_request(gp))
    sign_envelope_x509(envelope, gp.key, gp.cert, now=datetime.now(UTC))
    status, root = await _post(running.server, LEGACY_PATH, serialize(envelope), SECURE_TOKEN)
    assert status == 200
    assert _status(_response(root))[0] == ["samlp:Success"]


# -- what the real STS refuses ---------------------------------------------------------------------


async def _refusal(running: Running, body: bytes) -> tuple[list[str], str | None]:
    status, root = await _post(running.server, SAML11_PATH, body, SECURE_TOKEN)
    assert status == 200, etree.tostring(root)
    response = _response(root)
    assert response.find(f"{{{SAML1}}}Assertion") is None
    return _status(response)


def _tamper(body: bytes, edit: Callable[[etree._Element], None]) -> bytes:
    root = etree.fromstring(body)
    edit(root)
    return etree.tostring(root)


def _request_of(root: etree._Element) -> etree._Element:
    request = root.find(f"{{{SOAP11}}}Body/{{{SAMLP}}}Request")
    assert request is not None
    return request


def _ask_more(root: etree._Element) -> None:
    """Add a designator after signing: the signed request no longer says this."""
    query = _request_of(root).find(f"{{{SAMLP}}}AttributeQuery")
    assert query is not None
    etree.SubElement(
        query,
        f"{{{SAML1}}}AttributeDesignator",
        AttributeNamespace=CERTIFIED,
        AttributeName="urn:be:fgov:person:ssin:ehealth:1.0:nihii:dentist:nihii11",
    )


def _wrap_in_header(root: etree._Element) -> None:
    """Signature wrapping: the signed original moves to a header, a forged copy takes its place
    with the same RequestID and the original's signature."""
    original = _request_of(root)
    forged = copy.deepcopy(original)
    for inner in forged.iter(f"{{{SAML1}}}Assertion"):  # only RequestID is left shared
        inner.set("AssertionID", f"id-{uuid.uuid4()}")
    header = root.find(f"{{{SOAP11}}}Header")
    if header is None:
        header = etree.Element(f"{{{SOAP11}}}Header")
        root.insert(0, header)
    original.getparent().replace(original, forged)  # type: ignore[union-attr]
    etree.SubElement(header, "{urn:attacker}Wrapper").append(original)
    _ask_more(root)


def _point_elsewhere(root: etree._Element) -> None:
    """The reference is re-pointed at a forged element carrying an Id of its own."""
    request = _request_of(root)
    reference = request.find(f"{{{DS}}}Signature/{{{DS}}}SignedInfo/{{{DS}}}Reference")
    assert reference is not None
    reference.set("URI", "#elsewhere")
    query = request.find(f"{{{SAMLP}}}AttributeQuery")
    assert query is not None
    query.set("Id", "elsewhere")


@pytest.mark.parametrize(
    ("edit", "reason"),
    [
        (_ask_more, "does not match"),
        (_wrap_in_header, "also carried by"),
        (_point_elsewhere, "points to no element"),
    ],
)
async def test_tampering_and_wrapping_are_refused_the_saml_p_way(
    running: Running, gp: Identity, edit: Callable[[etree._Element], None], reason: str
) -> None:
    body = _tamper(_signed_envelope(_request(gp), gp), edit)
    codes, message = await _refusal(running, body)
    assert codes == ["samlp:Requester", "samlp:RequestDenied"]
    assert message is not None and reason in message


async def test_a_signer_outside_the_test_ca_is_refused(running: Running, tmp_path: Path) -> None:
    stranger_pki = TestPki.load_or_create(tmp_path / "other")
    stranger = stranger_pki.issue_provider(
        running.provider.nihii, running.provider.ssin, "Mallory", "rsa"
    )
    write_keystore(tmp_path / "m.p12", stranger, PASSWORD)
    codes, message = await _refusal(running, _signed_envelope(_request(stranger), stranger))
    assert codes == ["samlp:Requester", "samlp:RequestDenied"]
    assert message is not None and "not issued by the trusted CA" in message


async def test_a_request_signed_by_another_key_than_the_holder_is_refused(
    running: Running, gp: Identity
) -> None:
    other = next(p for p in running.population.providers if p.nihii != running.provider.nihii)
    colleague = load_keystore(running.keystore_for(other, "colleague"), PASSWORD)
    # The holder-of-key certificate is the GP's, the signature the colleague's.
    codes, message = await _refusal(running, _signed_envelope(_request(gp), colleague))
    assert codes == ["samlp:Requester", "samlp:RequestDenied"]
    assert message is not None and "did not sign" in message


async def test_a_disallowed_algorithm_is_refused(running: Running, gp: Identity) -> None:
    def to_hmac(root: etree._Element) -> None:
        method = _request_of(root).find(
            f"{{{DS}}}Signature/{{{DS}}}SignedInfo/{{{DS}}}SignatureMethod"
        )
        assert method is not None
        method.set("Algorithm", "http://www.w3.org/2000/09/xmldsig#hmac-sha1")

    body = _tamper(_signed_envelope(_request(gp), gp), to_hmac)
    codes, message = await _refusal(running, body)
    assert codes == ["samlp:Requester", "samlp:RequestDenied"]
    assert message is not None and "hmac-sha1" in message


async def test_an_unsigned_request_without_header_is_refused(
    running: Running, gp: Identity
) -> None:
    codes, message = await _refusal(running, serialize(new_envelope(_request(gp))))
    assert codes == ["samlp:Requester", "samlp:RequestDenied"]
    assert message is not None and "not signed" in message


async def test_an_attribute_the_holder_does_not_have_is_refused_by_the_responder(
    running: Running, gp: Identity
) -> None:
    asked = ((CERTIFIED, "urn:be:fgov:person:ssin:ehealth:1.0:nihii:dentist:nihii11"),)
    codes, message = await _refusal(running, _signed_envelope(_request(gp, designators=asked), gp))
    assert codes == ["samlp:Responder"]
    assert message is not None and "dentist" in message


async def test_an_asserted_ssin_that_is_not_the_holders_is_refused(
    running: Running, gp: Identity
) -> None:
    codes, message = await _refusal(running, _signed_envelope(_request(gp, ssin="00010100199"), gp))
    assert codes == ["samlp:Responder"]
    assert message is not None and "00010100199" in message


async def test_a_saml_2_request_is_a_version_mismatch(running: Running, gp: Identity) -> None:
    request = _request(gp)
    request.set("MajorVersion", "2")
    codes, _ = await _refusal(running, _signed_envelope(request, gp))
    assert codes == ["samlp:VersionMismatch"]


async def test_a_bad_x509_header_is_a_soap_fault(running: Running, gp: Identity) -> None:
    envelope = new_envelope(_request(gp))
    sign_envelope_x509(envelope, gp.key, gp.cert, now=datetime.now(UTC) - timedelta(hours=2))
    status, root = await _post(running.server, LEGACY_PATH, serialize(envelope), SECURE_TOKEN)
    assert status == 500
    fault = root.find(f"{{{SOAP11}}}Body/{{{SOAP11}}}Fault")
    assert fault is not None
    assert fault.findtext(f"detail/{{{SOA_ERRORS}}}BusinessError/Code") == "SOA-01001"


async def test_an_unknown_soap_action_is_refused(running: Running, gp: Identity) -> None:
    status, root = await _post(
        running.server, SAML11_PATH, _signed_envelope(_request(gp), gp), "urn:wrong"
    )
    assert status == 500
    assert root.find(f"{{{SOAP11}}}Body/{{{SOAP11}}}Fault") is not None


# -- security modes --------------------------------------------------------------------------------


async def test_lenient_mode_answers_and_journals_the_failure(
    lenient: ServerThread, tmp_path: Path
) -> None:
    sim = lenient.sim
    assert sim is not None
    provider = next(p for p in sim.population.providers if p.kind == "GP")
    identity = sim.pki.issue_provider(provider.nihii, provider.ssin, "GP", "rsa")
    unsigned = serialize(new_envelope(_request(identity)))
    status, root = await _post(lenient, SAML11_PATH, unsigned, SECURE_TOKEN)
    assert status == 200
    assert _status(_response(root))[0] == ["samlp:Success"]
    entry = sim.store.journal(JournalQuery(service="sts", limit=1))[0]
    assert entry.operation == "RequestSecureToken"
    assert entry.security["verdict"] == "rejected"
    assert "not signed" in entry.security["reason"]


# -- more client shapes and bad input ----------------------------------------------------------


async def test_an_ec_key_signs_with_ecdsa_sha256(running: Running) -> None:
    identity = load_keystore(running.keystore_for(running.provider, "gp-ec", "ec"), PASSWORD)
    ecdsa = (
        "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha256",
        "http://www.w3.org/2001/04/xmlenc#sha256",
    )
    body = _signed_envelope(_request(identity), identity, ecdsa)
    _, root = await _post(running.server, SAML11_PATH, body, SECURE_TOKEN)
    assert _status(_response(root))[0] == ["samlp:Success"]


async def test_mdk_header_and_request_signed_by_two_certificates_of_one_holder(
    running: Running, gp: Identity
) -> None:
    """MDK signs the envelope with one certificate (X.509 BST) and the request with the
    holder-of-key one; both name the same person."""
    second = load_keystore(running.keystore_for(running.provider, "gp-second"), PASSWORD)
    # The request is signed first, then the envelope around it (MDK's order).
    envelope = etree.fromstring(_signed_envelope(_request(second), second))
    sign_envelope_x509(envelope, gp.key, gp.cert, now=datetime.now(UTC))
    body = serialize(envelope)
    status, root = await _post(running.server, SAML11_PATH, body, SECURE_TOKEN)
    assert status == 200
    response = _response(root)
    assert _status(response)[0] == ["samlp:Success"]
    bound = response.findtext(
        f".//{{{SAML1}}}SubjectConfirmation/{{{DS}}}KeyInfo//{{{DS}}}X509Certificate"
    )
    assert bound == base64.b64encode(second.cert.public_bytes(Encoding.DER)).decode()


async def test_a_header_signer_who_is_someone_else_is_refused(
    running: Running, gp: Identity
) -> None:
    other = next(p for p in running.population.providers if p.ssin != running.provider.ssin)
    stranger = load_keystore(running.keystore_for(other, "other-header"), PASSWORD)
    envelope = etree.fromstring(_signed_envelope(_request(gp), gp))
    sign_envelope_x509(envelope, stranger.key, stranger.cert, now=datetime.now(UTC))
    codes, message = await _refusal(running, serialize(envelope))
    assert codes == ["samlp:Requester", "samlp:RequestDenied"]
    assert message is not None and "is not the holder-of-key" in message


def _drop(path: str) -> Callable[[etree._Element], None]:
    def edit(root: etree._Element) -> None:
        for found in _request_of(root).findall(path):
            parent = found.getparent()
            assert parent is not None
            parent.remove(found)

    return edit


def _garble_holder(root: etree._Element) -> None:
    holder = _request_of(root).find(
        f".//{{{SAML1}}}SubjectConfirmation/{{{DS}}}KeyInfo//{{{DS}}}X509Certificate"
    )
    assert holder is not None
    holder.text = "bm90IGEgY2VydGlmaWNhdGU="


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (_drop(f"{{{SAMLP}}}AttributeQuery"), "needs one samlp:AttributeQuery"),
        (
            _drop(f".//{{{SAML1}}}ConfirmationMethod"),
            "ConfirmationMethod urn:oasis:names:tc:SAML:1.0:cm:holder-of-key",
        ),
        (_garble_holder, "is not a DER certificate"),
        (_drop(f".//{{{SAML1}}}AttributeDesignator"), None),  # the asserted ones still ask
    ],
)
async def test_bad_requests_get_a_requester_status_not_a_traceback(
    running: Running,
    gp: Identity,
    edit: Callable[[etree._Element], None],
    message: str | None,
) -> None:
    envelope = etree.fromstring(serialize(new_envelope(_request(gp))))
    edit(envelope)
    request = _request_of(envelope)
    _signature_template(request, RSA_SHA256)
    body = _xmlsec1_sign(etree.tostring(envelope), gp)
    status, root = await _post(running.server, SAML11_PATH, body, SECURE_TOKEN)
    assert status == 200
    codes, text = _status(_response(root))
    if message is None:
        assert codes == ["samlp:Success"]
    else:
        assert codes[0] == "samlp:Requester" and text is not None and message in text, text


async def test_a_scenario_can_make_the_saml_p_token_expired(running: Running, gp: Identity) -> None:
    sim = running.sim
    before = sim.scenarios.scenario
    rules = (
        "name: t\nrules:\n  - id: old-token\n"
        "    match: {service: sts, operation: RequestSecureToken}\n"
        "    action: {type: expired_token}\n"
    )
    sim.replace_scenario(
        load_scenario(rules, source="t", operations=sim.registry.operation_names())
    )
    try:
        _, root = await _post(
            running.server, SAML11_PATH, _signed_envelope(_request(gp), gp), SECURE_TOKEN
        )
    finally:
        sim.replace_scenario(before)
    conditions = _response(root).find(f"{{{SAML1}}}Assertion/{{{SAML1}}}Conditions")
    assert conditions is not None
    end = datetime.fromisoformat(conditions.get("NotOnOrAfter", "").replace("Z", "+00:00"))
    assert end < datetime.now(UTC)
