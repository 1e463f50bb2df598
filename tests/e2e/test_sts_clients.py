"""The STS against requests written exactly as real clients write them (client-quirks 2.1).

Every request here is laid out by hand in the wire shape of one client family (CONN's
templates, e-Contract's JAX-WS, eHI's .NET serializer, Kine-Helper's strings) and signed by
xmlsec1, not by the project's own WS-Security code; the issued assertions are checked by
xmlsec1 too.
"""

from __future__ import annotations

import base64
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import aiohttp
import pytest
from cryptography.hazmat.primitives.serialization import Encoding, NoEncryption, PrivateFormat
from lxml import etree

from simulator.domain.population import Provider
from simulator.security.pki import Identity
from simulator.security.saml import SamlAttribute, build_assertion
from simulator.soap.namespaces import SOA_ERRORS, SOAP11
from tests.security.test_pki import resign_with_patched_subject
from tests.support.independent import WSSE, WSU, xmlsec1_sign, xmlsec1_verify
from tests.support.server import ServerThread, start_server

PATH = "/IAM/SecurityTokenService/v1"
WST = "http://docs.oasis-open.org/ws-sx/ws-trust/200512"
AUTH = "http://docs.oasis-open.org/wsfed/authorization/200706"
DS = "http://www.w3.org/2000/09/xmldsig#"
SAML1 = "urn:oasis:names:tc:SAML:1.0:assertion"
RST_ACTION = "urn:be:fgov:ehealth:sts:protocol:v1:RequestSecurityToken"
CHALLENGE_ACTION = "urn:be:fgov:ehealth:sts:protocol:v1:Challenge"
SAML11 = "http://docs.oasis-open.org/wss/oasis-wss-saml-token-profile-1.1#SAMLV1.1"
ISSUE = "http://docs.oasis-open.org/ws-sx/ws-trust/200512/Issue"
RENEW = "http://docs.oasis-open.org/ws-sx/ws-trust/200512/Renew"
KEY_WSTRUST = "http://docs.oasis-open.org/ws-sx/wstrust/200512/PublicKey"  # every client
KEY_STANDARD = "http://docs.oasis-open.org/ws-sx/ws-trust/200512/PublicKey"
X509V3 = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-x509-token-profile-1.0#X509v3"
B64 = (
    "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-soap-message-security-1.0#Base64Binary"
)
EXC = "http://www.w3.org/2001/10/xml-exc-c14n#"
PERSON = "urn:be:fgov:person:ssin"
HOLDER = "urn:be:fgov:ehealth:1.0:certificateholder:person:ssin"
EH = "urn:be:fgov:person:ssin:ehealth:1.0:"
ORG = "urn:be:fgov:ehealth:1.0:"
PASSWORD_FREE = NoEncryption()


# -- the running simulator and its identities --------------------------------------------------


@dataclass
class World:
    server: ServerThread
    doctor: Provider
    doctor_p12: Identity  # the doctor's eHealth keystore (NIHII-PHYSICIAN=...)
    doctor_eid: Identity  # the same person's eID authentication certificate
    hospital: Identity

    @property
    def pki(self):  # type: ignore[no-untyped-def]
        assert self.server.sim is not None
        return self.server.sim.pki


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    server = start_server(tmp_path_factory.mktemp("sts"))
    assert server.sim is not None
    pki = server.sim.pki
    doctor = next(p for p in server.sim.population.providers if p.kind == "GP")
    name = f"{doctor.first_name} {doctor.last_name}"
    world = World(
        server=server,
        doctor=doctor,
        doctor_p12=pki.issue_provider(doctor.nihii, doctor.ssin, name),
        doctor_eid=pki.issue_eid(doctor.ssin, doctor.first_name, doctor.last_name),
        hospital=pki.issue_organisation("hospital", "71022212", "AZ Test"),
    )
    yield world
    server.stop()


# -- an independent X.509 WS-Security signer: text template + xmlsec1 ---------------------------


def _b64(identity: Identity, *, wrap76: bool = False) -> str:
    text = base64.b64encode(identity.cert.public_bytes(Encoding.DER)).decode()
    if wrap76:  # KH eid_reader insert_cr_every_76_chars
        text = "&#xD;\n".join(text[i : i + 76] for i in range(0, len(text), 76))
    return text


def _stamp(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def signed(payload: str, signer: Identity, *, prefix: str = "SOAP-ENV") -> bytes:
    """A WSS4J-shaped X.509 token request (BST, Timestamp, Signature over Body, Timestamp and
    BST, KeyInfo/STR/Reference to the BST), its signature computed by xmlsec1."""
    now = datetime.now(UTC)
    bst, ts, body = (f"{kind}-{uuid.uuid4()}" for kind in ("X509", "TS", "id"))
    references = "".join(
        f'<ds:Reference URI="#{ref}"><ds:Transforms><ds:Transform Algorithm="{EXC}"/>'
        '</ds:Transforms><ds:DigestMethod Algorithm="http://www.w3.org/2001/04/xmlenc#sha256"/>'
        "<ds:DigestValue/></ds:Reference>"
        for ref in (body, ts, bst)
    )
    p = prefix
    template = (
        f'<{p}:Envelope xmlns:{p}="{SOAP11}"><{p}:Header>'
        f'<wsse:Security xmlns:wsse="{WSSE}" xmlns:wsu="{WSU}" {p}:mustUnderstand="1">'
        f'<wsse:BinarySecurityToken EncodingType="{B64}" ValueType="{X509V3}" wsu:Id="{bst}">'
        f"{_b64(signer)}</wsse:BinarySecurityToken>"
        f'<wsu:Timestamp wsu:Id="{ts}"><wsu:Created>{_stamp(now)}</wsu:Created>'
        f"<wsu:Expires>{_stamp(now + timedelta(seconds=60))}</wsu:Expires></wsu:Timestamp>"
        f'<ds:Signature xmlns:ds="{DS}" Id="SIG-{uuid.uuid4()}"><ds:SignedInfo>'
        f'<ds:CanonicalizationMethod Algorithm="{EXC}"/>'
        '<ds:SignatureMethod Algorithm="http://www.w3.org/2001/04/xmldsig-more#rsa-sha256"/>'
        f"{references}</ds:SignedInfo><ds:SignatureValue/>"
        f'<ds:KeyInfo Id="KI-{uuid.uuid4()}"><wsse:SecurityTokenReference wsu:Id="STR-{uuid.uuid4()}">'
        f'<wsse:Reference URI="#{bst}" ValueType="{X509V3}"/></wsse:SecurityTokenReference>'
        f"</ds:KeyInfo></ds:Signature></wsse:Security></{p}:Header>"
        f'<{p}:Body xmlns:wsu="{WSU}" wsu:Id="{body}">{payload}</{p}:Body></{p}:Envelope>'
    )
    key_pem = signer.key.private_bytes(Encoding.PEM, PrivateFormat.PKCS8, PASSWORD_FREE)
    return xmlsec1_sign(
        template.encode(),
        private_key_pem=key_pem,
        node_xpath="/*[local-name()='Envelope']/*[local-name()='Header']"
        "/*[local-name()='Security']/*[local-name()='Signature']",
    )


@dataclass
class Answer:
    status: int
    root: etree._Element

    @property
    def payload(self) -> etree._Element:
        body = self.root.find(f"{{{SOAP11}}}Body")
        assert body is not None
        return body[0]

    @property
    def fault(self) -> tuple[str, str | None, str] | None:
        fault = self.root.find(f"{{{SOAP11}}}Body/{{{SOAP11}}}Fault")
        if fault is None:
            return None
        code = fault.findtext(f"detail/{{{SOA_ERRORS}}}BusinessError/Code") or fault.findtext(
            f"detail/{{{SOA_ERRORS}}}SystemError/Code"
        )
        return fault.findtext("faultcode") or "", code, fault.findtext("faultstring") or ""

    @property
    def assertion(self) -> etree._Element:
        assert self.fault is None, self.fault
        found = self.payload.find(f".//{{{WST}}}RequestedSecurityToken/{{{SAML1}}}Assertion")
        assert found is not None, etree.tostring(self.payload)
        return found

    @property
    def challenge(self) -> tuple[str | None, str]:
        assert self.fault is None, self.fault
        assert self.payload.tag == f"{{{WST}}}RequestSecurityTokenResponse"
        text = self.payload.findtext(f"{{{WST}}}SignChallenge/{{{WST}}}Challenge")
        assert text, etree.tostring(self.payload)
        return self.payload.get("Context"), text


async def post(world: World, body: bytes, action: str | None) -> Answer:
    headers = {"Content-Type": "text/xml; charset=utf-8"}
    if action is not None:
        headers["SOAPAction"] = action
    async with (
        aiohttp.ClientSession() as session,
        session.post(world.server.base_url + PATH, data=body, headers=headers) as response,
    ):
        return Answer(response.status, etree.fromstring(await response.read()))


def attributes(assertion: etree._Element) -> dict[str, list[str]]:
    return {
        a.get("AttributeName", ""): [v.text or "" for v in a.iter(f"{{{SAML1}}}AttributeValue")]
        for a in assertion.iter(f"{{{SAML1}}}Attribute")
    }


def holder_of_key(assertion: etree._Element) -> bytes:
    text = assertion.findtext(
        f"{{{SAML1}}}AuthenticationStatement/{{{SAML1}}}Subject/{{{SAML1}}}SubjectConfirmation"
        f"/{{{DS}}}KeyInfo/{{{DS}}}X509Data/{{{DS}}}X509Certificate"
    )
    return base64.b64decode(text or "")


def assert_sts_signed(world: World, assertion: etree._Element) -> None:
    verdict = xmlsec1_verify(
        etree.tostring(assertion),
        key_cert_pem=world.pki.sts.cert_pem,
        id_nodes=(f"{SAML1}:Assertion",),
        id_attribute="AssertionID",
    )
    assert verdict.returncode == 0, verdict.stderr


# -- the requests, as each client family writes them --------------------------------------------


def claims_xml(prefix: str, claims: list[tuple[str, str | None]]) -> str:
    return "".join(
        f'<{prefix}:ClaimType Uri="{uri}">'
        + (f"<{prefix}:Value>{value}</{prefix}:Value>" if value is not None else "")
        + f"</{prefix}:ClaimType>"
        for uri, value in claims
    )


def conn_rst(
    use_key: Identity,
    claims: list[tuple[str, str | None]],
    *,
    context: str | None = None,
    key_type: str = KEY_WSTRUST,
    created: str | None = None,
    expires: str | None = None,
) -> str:
    """CONN issue.samlv11.hok.template.xml, flattened, Context set unqualified (SAAJ),
    Lifetime from DateUtils.printDateTime (local time, +01:00)."""
    now = datetime.now(UTC) + timedelta(hours=1)
    local = now.strftime("%Y-%m-%dT%H:%M:%S.") + f"{now.microsecond // 1000:03d}+01:00"
    later = (now + timedelta(hours=24)).strftime("%Y-%m-%dT%H:%M:%S.000+01:00")
    return (
        f'<wst:RequestSecurityToken xmlns:wst="{WST}" xmlns:auth="{AUTH}" '
        'xmlns:wsp="http://schemas.xmlsoap.org/ws/2004/09/policy" '
        'xmlns:wsa="http://schemas.xmlsoap.org/ws/2004/08/addressing" '
        f'xmlns:wsu="{WSU}" xmlns:wsse="{WSSE}" xmlns:ds="{DS}" '
        f'Context="{context or uuid.uuid4()}">'
        f"<wst:TokenType>{SAML11}</wst:TokenType><wst:RequestType>{ISSUE}</wst:RequestType>"
        '<wst:Claims Dialect="http://docs.oasis-open.org/wsfed/authorization/200706/authclaims">'
        f"{claims_xml('auth', claims)}</wst:Claims>"
        f"<wst:Lifetime><wsu:Created>{created or local}</wsu:Created>"
        f"<wsu:Expires>{expires or later}</wsu:Expires></wst:Lifetime>"
        f"<wst:KeyType>{key_type}</wst:KeyType>"
        "<wst:UseKey><wsse:SecurityTokenReference><ds:X509Data>"
        f"<ds:X509Certificate>{_b64(use_key)}</ds:X509Certificate>"
        "</ds:X509Data></wsse:SecurityTokenReference></wst:UseKey></wst:RequestSecurityToken>"
    )


def ec_rst(use_key: Identity, claims: list[tuple[str, str | None]], context: str) -> str:
    """e-Contract EHealthWSTrustSTSClient (JAX-WS RI, JAXB prefixes), Lifetime formatted
    "uuuu-MM-dd'T'HH:mm:ssZ": +0000."""
    now = datetime.now(UTC)
    return (
        f'<ns2:RequestSecurityToken xmlns:ns2="{WST}" xmlns:ns3="{AUTH}" xmlns:ns4="{WSU}" '
        f'xmlns:ns5="{WSSE}" xmlns:ns6="{DS}" Context="{context}">'
        f"<ns2:TokenType>{SAML11}</ns2:TokenType><ns2:RequestType>{ISSUE}</ns2:RequestType>"
        '<ns2:Claims Dialect="http://docs.oasis-open.org/wsfed/authorization/200706/authclaims">'
        f"{claims_xml('ns3', claims)}</ns2:Claims>"
        f"<ns2:Lifetime><ns4:Created>{now:%Y-%m-%dT%H:%M:%S+0000}</ns4:Created>"
        f"<ns4:Expires>{now + timedelta(hours=24):%Y-%m-%dT%H:%M:%S+0000}</ns4:Expires>"
        f"</ns2:Lifetime><ns2:KeyType>{KEY_WSTRUST}</ns2:KeyType>"
        "<ns2:UseKey><ns5:SecurityTokenReference><ns6:X509Data>"
        f"<ns6:X509Certificate>{_b64(use_key)}</ns6:X509Certificate>"
        "</ns6:X509Data></ns5:SecurityTokenReference></ns2:UseKey></ns2:RequestSecurityToken>"
    )


def egk_rst(use_key: Identity, claims: list[tuple[str, str | None]], context: str) -> str:
    """eHI WsTrustClient (XmlSerializer: default namespace), Lifetime ToString("O")."""
    now = datetime.now(UTC)
    o = now.strftime("%Y-%m-%dT%H:%M:%S.") + f"{now.microsecond:06d}0Z"
    later = (now + timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%S.0000000Z")
    return (
        f'<RequestSecurityToken xmlns="{WST}" Context="{context}">'
        f"<TokenType>{SAML11}</TokenType><RequestType>{ISSUE}</RequestType>"
        '<Claims Dialect="http://docs.oasis-open.org/wsfed/authorization/200706/authclaims">'
        + "".join(
            f'<ClaimType xmlns="{AUTH}" Uri="{uri}">'
            + (f"<Value>{value}</Value>" if value is not None else "")
            + "</ClaimType>"
            for uri, value in claims
        )
        + "</Claims>"
        f'<Lifetime><Created xmlns="{WSU}">{o}</Created><Expires xmlns="{WSU}">{later}</Expires>'
        f"</Lifetime><KeyType>{KEY_WSTRUST}</KeyType>"
        f'<UseKey><SecurityTokenReference xmlns="{WSSE}"><X509Data xmlns="{DS}">'
        f"<X509Certificate>{_b64(use_key)}</X509Certificate></X509Data>"
        "</SecurityTokenReference></UseKey></RequestSecurityToken>"
    )


def kh_rst(use_key: Identity, claims: list[tuple[str, str | None]]) -> str:
    """Kine-Helper: the CONN template by hand, dayjs +01:00, certificate wrapped every 76."""
    now = datetime.now(UTC) + timedelta(hours=1)
    return (
        f'<wst:RequestSecurityToken xmlns:wst="{WST}" xmlns:auth="{AUTH}" '
        f'xmlns:wsu="{WSU}" xmlns:wsse="{WSSE}" xmlns:ds="{DS}" Context="{uuid.uuid4()}">'
        f"<wst:TokenType>{SAML11}</wst:TokenType><wst:RequestType>{ISSUE}</wst:RequestType>"
        '<wst:Claims Dialect="http://docs.oasis-open.org/wsfed/authorization/200706/authclaims">'
        f"{claims_xml('auth', claims)}</wst:Claims>"
        f"<wst:Lifetime><wsu:Created>{now:%Y-%m-%dT%H:%M:%S.000+01:00}</wsu:Created>"
        f"<wsu:Expires>{now + timedelta(hours=1):%Y-%m-%dT%H:%M:%S.000+01:00}</wsu:Expires>"
        f"</wst:Lifetime><wst:KeyType>{KEY_WSTRUST}</wst:KeyType>"
        "<wst:UseKey><wsse:SecurityTokenReference><ds:X509Data>"
        f"<ds:X509Certificate>{_b64(use_key, wrap76=True)}</ds:X509Certificate>"
        "</ds:X509Data></wsse:SecurityTokenReference></wst:UseKey></wst:RequestSecurityToken>"
    )


def conn_challenge(context: str | None, challenge: str) -> str:
    """CONN signchallenge.template.xml, flattened."""
    return (
        f'<wst:RequestSecurityTokenResponse Context="{context}" xmlns:wst="{WST}">'
        f"<wst:SignChallengeResponse><wst:Challenge>{challenge}</wst:Challenge>"
        "</wst:SignChallengeResponse></wst:RequestSecurityTokenResponse>"
    )


def ec_challenge(challenge: str) -> str:
    """e-Contract: a fresh RSTR with only SignChallengeResponse, no Context."""
    return (
        f'<ns2:RequestSecurityTokenResponse xmlns:ns2="{WST}" xmlns:ns3="{AUTH}">'
        f"<ns2:SignChallengeResponse><ns2:Challenge>{challenge}</ns2:Challenge>"
        "</ns2:SignChallengeResponse></ns2:RequestSecurityTokenResponse>"
    )


def egk_challenge(context: str | None, challenge: str) -> str:
    """eHI: the RSTR it got back, SignChallenge renamed SignChallengeResponse."""
    return (
        f'<RequestSecurityTokenResponse xmlns="{WST}" Context="{context}">'
        f"<SignChallengeResponse><Challenge>{challenge}</Challenge></SignChallengeResponse>"
        "</RequestSecurityTokenResponse>"
    )


def conn_renew(assertion: etree._Element, *, embedded: bool = True) -> str:
    """CONN renew.samlv11.template.xml (not flattened: its whitespace stays), the token in
    RenewTarget/STR/Embedded with a wsu:Id."""
    token = etree.tostring(assertion).decode()
    if embedded:
        token = (
            "<wsse:SecurityTokenReference>\n      "
            f'<wsse:Embedded wsu:Id="token-{uuid.uuid4()}">\n\n      {token}</wsse:Embedded>\n    '
            "</wsse:SecurityTokenReference>"
        )
    return (
        f'<wst:RequestSecurityToken xmlns:wst="{WST}" xmlns:auth="{AUTH}" '
        'xmlns:wsp="http://schemas.xmlsoap.org/ws/2004/09/policy" '
        f'xmlns:wsa="http://www.w3.org/2005/08/addressing"\n  xmlns:wsu="{WSU}" '
        f'xmlns:wsse="{WSSE}" xmlns:ds="{DS}" Context="{uuid.uuid4()}">\n  '
        f"<wst:TokenType>{SAML11}</wst:TokenType>\n  <wst:RequestType>{RENEW}</wst:RequestType>\n  "
        f"<wst:RenewTarget>\n    {token}\n  </wst:RenewTarget>\n</wst:RequestSecurityToken>"
    )


def doctor_claims(world: World) -> list[tuple[str, str | None]]:
    """FHC/IFHC STSServiceImpl.kt, quality "doctor"."""
    ssin = world.doctor.ssin
    return [
        (HOLDER, ssin),
        (PERSON, ssin),
        (f"{PERSON}:doctor:boolean", None),
        (f"{EH}doctor:nihii11", None),
        (f"{EH}givenname", None),
        (f"{EH}surname", None),
        (f"{EH}fpsph:doctor:boolean", None),
    ]


# -- 1. SOAPAction, KeyType, designators, Lifetime ------------------------------------------------


@pytest.mark.parametrize(
    "action",
    [
        f'"{RST_ACTION}"',  # CONN SoapActionHandler, WS-I quoted
        RST_ACTION,  # bare
        None,  # no header at all
        '""',
        "",
        "http://docs.oasis-open.org/ws-sx/ws-trust/200512/RST/Issue",
    ],
)
async def test_every_soap_action_real_clients_send(world: World, action: str | None) -> None:
    body = signed(conn_rst(world.doctor_p12, doctor_claims(world)), world.doctor_p12)
    answer = await post(world, body, action)
    assert answer.status == 200, answer.fault
    assert attributes(answer.assertion)[f"{PERSON}:doctor:boolean"] == ["true"]


async def test_a_soap_action_of_another_operation_is_still_refused(world: World) -> None:
    body = signed(conn_rst(world.doctor_p12, doctor_claims(world)), world.doctor_p12)
    answer = await post(world, body, f'"{CHALLENGE_ACTION}"')
    assert answer.fault is not None and answer.fault[1] == "SOA-03005"


@pytest.mark.parametrize("key_type", [KEY_WSTRUST, KEY_STANDARD])
async def test_both_key_type_spellings(world: World, key_type: str) -> None:
    body = signed(
        conn_rst(world.doctor_p12, doctor_claims(world), key_type=key_type), world.doctor_p12
    )
    assert (await post(world, body, f'"{RST_ACTION}"')).status == 200


async def test_an_unknown_key_type_is_named(world: World) -> None:
    rst = conn_rst(world.doctor_p12, doctor_claims(world), key_type=KEY_WSTRUST + "x")
    answer = await post(world, signed(rst, world.doctor_p12), RST_ACTION)
    assert answer.fault is not None
    assert answer.fault[1] == "SOA-03007" and "wst:KeyType" in answer.fault[2]


async def test_the_fhc_doctor_set_is_certified_from_the_certificate(world: World) -> None:
    answer = await post(
        world, signed(conn_rst(world.doctor_p12, doctor_claims(world)), world.doctor_p12), None
    )
    got = attributes(answer.assertion)
    doctor = world.doctor
    assert got[HOLDER] == got[PERSON] == [doctor.ssin]
    assert got[f"{EH}doctor:nihii11"] == [doctor.nihii]
    assert got[f"{EH}givenname"] == [doctor.first_name.split(" ")[0]]
    assert got[f"{PERSON}:doctor:boolean"] == got[f"{EH}fpsph:doctor:boolean"] == ["true"]
    assert holder_of_key(answer.assertion) == world.doctor_p12.cert_der
    assert_sts_signed(world, answer.assertion)


async def test_another_professions_designator_is_still_refused(world: World) -> None:
    claims = [(HOLDER, world.doctor.ssin), (f"{PERSON}:nurse:boolean", None)]
    answer = await post(world, signed(conn_rst(world.doctor_p12, claims), world.doctor_p12), None)
    assert answer.fault is not None and answer.fault[1] == "SOA-01002"
    assert "holder is doctor" in answer.fault[2]


@pytest.mark.parametrize("word", ["nurse", "logopedist", "clinicalpsychologist", "podologist"])
async def test_other_professions_with_their_own_keystores(world: World, word: str) -> None:
    profession = {"clinicalpsychologist": "CLINICAL_PSYCHOLOGIST"}.get(word, word.upper())
    nihii = {"nurse": "41234567001", "logopedist": "51234567001"}.get(word, "91234567001")
    identity = world.pki.issue_provider(nihii, "85073003328", "An Janssens", profession=profession)
    claims = [
        (HOLDER, "85073003328"),
        (f"{PERSON}:{word}:boolean", None),
        (f"{EH}nihii:{word}:nihii11", None),
        (f"{EH}professional:{word}:boolean", None),
        (f"{EH}surname", None),
        ("urn:be:fgov:ehealth:1.0:certificateholder:person:ssin:usersession:boolean", None),
    ]
    answer = await post(world, signed(conn_rst(identity, claims), identity), RST_ACTION)
    got = attributes(answer.assertion)
    assert got[f"{EH}nihii:{word}:nihii11"] == [nihii]
    assert got[f"{EH}surname"] == ["Janssens"]


@pytest.mark.parametrize(
    ("created", "expires"),
    [
        ("2026-12-05T08:00:00+0000", "2026-12-06T08:00:00+0000"),  # EC
        ("2026-12-05T08:00:00.1234567Z", "2026-12-05T09:00:00.1234567Z"),  # EGK "O"
        ("2026-12-05T09:00:00.123+01:00", "2026-12-06T09:00:00.123+01:00"),  # CONN
        ("not a date", ""),  # whatever it is: the STS sets the validity itself
    ],
)
async def test_any_lifetime_format(world: World, created: str, expires: str) -> None:
    rst = conn_rst(world.doctor_p12, doctor_claims(world), created=created, expires=expires)
    answer = await post(world, signed(rst, world.doctor_p12), RST_ACTION)
    assert answer.status == 200, answer.fault


async def test_ec_request_shape(world: World) -> None:
    context = f"context-{uuid.uuid4()}"
    claims = [(HOLDER, world.doctor.ssin), (f"{PERSON}:doctor:boolean", None)]
    answer = await post(
        world,
        signed(ec_rst(world.doctor_p12, claims, context), world.doctor_p12),
        f'"{RST_ACTION}"',
    )
    assert answer.payload.tag == f"{{{WST}}}RequestSecurityTokenResponse"  # what EC's WSDL maps
    assert answer.payload.get("Context") == context
    assert attributes(answer.assertion)[f"{PERSON}:doctor:boolean"] == ["true"]


# -- 2. SignChallenge: eID signs, the eHealth keystore holds the key --------------------------------


async def test_conn_sign_challenge_flow(world: World) -> None:
    context = str(uuid.uuid4())
    rst = conn_rst(world.doctor_p12, doctor_claims(world), context=context)
    first = await post(world, signed(rst, world.doctor_eid), f'"{RST_ACTION}"')
    got_context, challenge = first.challenge
    assert got_context == context
    # CONN answers with the UseKey (eHealth) credential, SOAPAction ...:Challenge.
    second = await post(
        world,
        signed(conn_challenge(got_context, challenge), world.doctor_p12),
        f'"{CHALLENGE_ACTION}"',
    )
    assert second.payload.tag == f"{{{WST}}}RequestSecurityTokenResponse"
    assertion = second.assertion
    assert holder_of_key(assertion) == world.doctor_p12.cert_der
    assert attributes(assertion)[f"{EH}doctor:nihii11"] == [world.doctor.nihii]
    # the eID's GN/SN give the names
    assert attributes(assertion)[f"{EH}surname"] == [world.doctor.last_name]
    assert_sts_signed(world, assertion)
    # A challenge is answered once.
    again = await post(
        world, signed(conn_challenge(got_context, challenge), world.doctor_p12), CHALLENGE_ACTION
    )
    assert again.fault is not None and again.fault[1] == "SOA-01001"
    assert "unknown or expired" in again.fault[2]


async def test_ec_and_egk_challenge_shapes(world: World) -> None:
    claims = [(HOLDER, world.doctor.ssin), (f"{PERSON}:doctor:boolean", None)]
    ec = await post(
        world,
        signed(ec_rst(world.doctor_p12, claims, f"context-{uuid.uuid4()}"), world.doctor_eid),
        RST_ACTION,
    )
    _, challenge = ec.challenge
    answer = await post(
        world, signed(ec_challenge(challenge), world.doctor_p12), f'"{CHALLENGE_ACTION}"'
    )
    assert holder_of_key(answer.assertion) == world.doctor_p12.cert_der

    context = f"urn:uuid:{uuid.uuid4()}"
    egk = await post(
        world,
        signed(egk_rst(world.doctor_p12, claims, context), world.doctor_eid, prefix="s"),
        RST_ACTION,
    )
    got_context, challenge = egk.challenge
    answer = await post(
        world,
        signed(egk_challenge(got_context, challenge), world.doctor_p12, prefix="s"),
        CHALLENGE_ACTION,
    )
    assert holder_of_key(answer.assertion) == world.doctor_p12.cert_der
    assert answer.payload.get("Context") == context


async def test_the_challenge_must_be_signed_with_the_use_key(world: World) -> None:
    rst = conn_rst(world.doctor_p12, doctor_claims(world))
    context, challenge = (await post(world, signed(rst, world.doctor_eid), RST_ACTION)).challenge
    wrong = await post(
        world, signed(conn_challenge(context, challenge), world.doctor_eid), CHALLENGE_ACTION
    )
    assert wrong.fault is not None and wrong.fault[1] == "SOA-01001"
    assert "UseKey" in wrong.fault[2]
    other_context = await post(
        world, signed(conn_challenge("elsewhere", challenge), world.doctor_p12), CHALLENGE_ACTION
    )
    assert other_context.fault is not None and "does not match" in other_context.fault[2]
    # still pending: the right answer gets the token
    right = await post(world, signed(conn_challenge(context, challenge), world.doctor_p12), None)
    assert holder_of_key(right.assertion) == world.doctor_p12.cert_der


async def test_a_use_key_of_another_person_is_refused(world: World) -> None:
    stranger = world.pki.issue_eid("17073003384", "Eva", "Stranger")
    answer = await post(
        world, signed(conn_rst(world.doctor_p12, doctor_claims(world)), stranger), RST_ACTION
    )
    assert answer.fault is not None and answer.fault[1] == "SOA-01001"
    assert "different people" in answer.fault[2]


# -- 3. eID alone (Kine-Helper, CONN createSessionEidOnly) -----------------------------------------


async def test_eid_only_session_binds_the_eid_and_finds_the_profession(world: World) -> None:
    physio = next(p for p in world.server.sim.population.providers if p.kind == "PHYSIOTHERAPIST")  # type: ignore[union-attr]
    eid = world.pki.issue_eid(physio.ssin, physio.first_name, physio.last_name)
    claims = [
        (HOLDER, physio.ssin),
        (PERSON, physio.ssin),
        (f"{EH}nihii:physiotherapist:nihii11", None),
        (f"{EH}professional:physiotherapist:boolean", None),
        (f"{EH}givenname", None),
    ]
    answer = await post(world, signed(kh_rst(eid, claims), eid), f'"{RST_ACTION}"')
    assertion = answer.assertion
    assert holder_of_key(assertion) == eid.cert_der
    got = attributes(assertion)
    assert got[f"{EH}nihii:physiotherapist:nihii11"] == [physio.nihii]  # from the registry
    assert got[f"{EH}givenname"] == [physio.first_name]


async def test_a_token_bound_to_an_eid_calls_a_service(world: World) -> None:
    from simulator.codecs import tarification as tarification_codec
    from simulator.security.wssecurity import sign_envelope_saml
    from simulator.soap.envelope import new_envelope, serialize
    from tests.e2e.test_security import TARIFICATION, TARIFICATION_ACTION

    answer = await post(
        world,
        signed(conn_rst(world.doctor_eid, doctor_claims(world)), world.doctor_eid),
        RST_ACTION,
    )
    sim = world.server.sim
    assert sim is not None
    now = datetime.now(UTC)
    request = tarification_codec.build_request(
        provider_nihii=world.doctor.nihii,
        provider_ssin=world.doctor.ssin,
        provider_type="persphysician",
        patient_ssin=sim.population.patients[0].ssin,
        encounter_date=sim.clock.today(),
        codes=["101032"],
        gmd_manager=None,
        input_reference=now.strftime("%Y%m%d%H%M%S%f")[:17],
        issue_instant=now,
    )
    envelope = new_envelope(request)
    sign_envelope_saml(envelope, answer.assertion, world.doctor_eid.key, now=now)
    async with (
        aiohttp.ClientSession() as session,
        session.post(
            world.server.base_url + TARIFICATION,
            data=serialize(envelope),
            headers={"Content-Type": "text/xml", "SOAPAction": f'"{TARIFICATION_ACTION}"'},
        ) as response,
    ):
        assert response.status == 200, await response.text()


# -- 4. Renew ----------------------------------------------------------------------------------------


async def test_conn_renew_gives_a_new_token_with_the_same_attributes(world: World) -> None:
    first = await post(
        world,
        signed(conn_rst(world.doctor_p12, doctor_claims(world)), world.doctor_p12),
        RST_ACTION,
    )
    old = first.assertion
    renewed = await post(world, signed(conn_renew(old), world.doctor_p12), f'"{RST_ACTION}"')
    new = renewed.assertion
    assert new.get("AssertionID") != old.get("AssertionID")
    assert attributes(new) == attributes(old)
    assert holder_of_key(new) == world.doctor_p12.cert_der
    assert_sts_signed(world, new)
    # the token may also sit in RenewTarget directly
    direct = await post(world, signed(conn_renew(old, embedded=False), world.doctor_p12), None)
    assert attributes(direct.assertion) == attributes(old)


async def test_renew_signed_with_the_eid_goes_through_the_challenge(world: World) -> None:
    old = (
        await post(
            world, signed(conn_rst(world.doctor_p12, doctor_claims(world)), world.doctor_p12), None
        )
    ).assertion
    first = await post(world, signed(conn_renew(old), world.doctor_eid), RST_ACTION)
    context, challenge = first.challenge
    second = await post(
        world, signed(conn_challenge(context, challenge), world.doctor_p12), CHALLENGE_ACTION
    )
    assert attributes(second.assertion) == attributes(old)


def _sts_assertion(world: World, *, ends: datetime) -> etree._Element:
    return build_assertion(
        subject_cert=world.doctor_p12.cert,
        subject_name="CN=test",
        attributes=[
            SamlAttribute(HOLDER, "urn:be:fgov:identification-namespace", (world.doctor.ssin,))
        ],
        issue_instant=ends - timedelta(hours=24),
        not_before=ends - timedelta(hours=24),
        not_on_or_after=ends,
        signer_key=world.pki.sts.key,
        signer_cert=world.pki.sts.cert,
    )


async def test_renew_accepts_a_recently_expired_token_only(world: World) -> None:
    now = datetime.now(UTC)
    recent = _sts_assertion(world, ends=now - timedelta(hours=2))
    answer = await post(world, signed(conn_renew(recent), world.doctor_p12), RST_ACTION)
    assert attributes(answer.assertion)[HOLDER] == [world.doctor.ssin]
    stale = _sts_assertion(world, ends=now - timedelta(days=2))
    answer = await post(world, signed(conn_renew(stale), world.doctor_p12), RST_ACTION)
    assert answer.fault is not None and answer.fault[1] == "SOA-01001"
    assert "too long ago" in answer.fault[2]


async def test_renew_refuses_a_modified_or_foreign_token(world: World) -> None:
    old = (
        await post(
            world, signed(conn_rst(world.doctor_p12, doctor_claims(world)), world.doctor_p12), None
        )
    ).assertion
    value = next(old.iter(f"{{{SAML1}}}AttributeValue"))
    value.text = "17073003384"  # someone else's SSIN
    answer = await post(world, signed(conn_renew(old), world.doctor_p12), RST_ACTION)
    assert answer.fault is not None and answer.fault[1] == "SOA-01001"
    assert "RenewTarget" in answer.fault[2]


async def test_renew_signed_by_someone_else_is_refused(world: World) -> None:
    old = (
        await post(
            world, signed(conn_rst(world.doctor_p12, doctor_claims(world)), world.doctor_p12), None
        )
    ).assertion
    stranger = world.pki.issue_eid("17073003384", "Eva", "Stranger")
    answer = await post(world, signed(conn_renew(old), stranger), RST_ACTION)
    assert answer.fault is not None and "another holder" in answer.fault[2]


# -- 5. Organisations ---------------------------------------------------------------------------------


async def test_a_hospital_as_egk_asks(world: World) -> None:
    claims = [
        (f"{ORG}hospital:nihii-number", "71022212"),
        (f"{ORG}certificateholder:hospital:nihii-number", "71022212"),
        (f"{ORG}certificateholder:hospital:nihii-number:recognisedhospital:boolean", None),
        (f"{ORG}hospital:nihii-number:recognisedhospital:nihii11", None),
    ]
    rst = egk_rst(world.hospital, claims, f"urn:uuid:{uuid.uuid4()}")
    answer = await post(world, signed(rst, world.hospital, prefix="s"), RST_ACTION)
    got = attributes(answer.assertion)
    assert got[f"{ORG}hospital:nihii-number"] == ["71022212"]
    assert got[f"{ORG}hospital:nihii-number:recognisedhospital:nihii11"] == ["71022212000"]
    wrong = [(f"{ORG}hospital:nihii-number", "71099999")]
    refused = await post(world, signed(egk_rst(world.hospital, wrong, "x"), world.hospital), None)
    assert refused.fault is not None and refused.fault[1] == "SOA-01002"


async def test_a_medical_house_as_fhc_asks(world: World) -> None:
    house = world.pki.issue_organisation("medicalhouse", "94123456", "MM Test")
    claims = [
        (f"{ORG}medicalhouse:nihii-number", "94123456000"),
        (f"{ORG}certificateholder:medicalhouse:nihii-number", "94123456000"),
        (f"{ORG}medicalhouse:nihii-number:recognisedmedicalhouse:nihii11", None),
        (f"{ORG}medicalhouse:nihii-number:recognisedmedicalhouse:boolean", None),
        (f"{ORG}certificateholder:recognisedorganization:boolean", None),
    ]
    answer = await post(world, signed(conn_rst(house, claims), house), f'"{RST_ACTION}"')
    got = attributes(answer.assertion)
    assert got[f"{ORG}medicalhouse:nihii-number:recognisedmedicalhouse:nihii11"] == ["94123456000"]
    person = await post(world, signed(conn_rst(house, [(PERSON, "85073003328")]), house), None)
    assert person.fault is not None and person.fault[1] == "SOA-01002"


# -- 6. Malformed certificates, answer shape ------------------------------------------------------------


async def test_an_undecodable_certificate_subject_is_a_clear_refusal(world: World) -> None:
    base = world.pki.issue_provider(world.doctor.nihii, world.doctor.ssin, "QQQQQQQQ")
    broken = Identity(
        base.key, resign_with_patched_subject(base, world.pki.ca, b"QQQQQQQQ", b"\xff\xfe" * 4)
    )
    answer = await post(world, signed(conn_rst(broken, doctor_claims(world)), broken), RST_ACTION)
    assert answer.fault is not None
    _, code, reason = answer.fault
    assert code == "SOA-01001" and "cannot be decoded" in reason, answer.fault


async def test_rstrc_answers_when_configured(tmp_path: Path) -> None:
    server = start_server(tmp_path / "rstrc", sts_response="rstrc")
    try:
        assert server.sim is not None
        doctor = next(p for p in server.sim.population.providers if p.kind == "GP")
        p12 = server.sim.pki.issue_provider(doctor.nihii, doctor.ssin, "Dr Test")
        eid = server.sim.pki.issue_eid(doctor.ssin, "Dr", "Test")
        other = World(server, doctor, p12, eid, p12)
        answer = await post(other, signed(conn_rst(p12, [(HOLDER, doctor.ssin)]), p12), None)
        assert answer.payload.tag == f"{{{WST}}}RequestSecurityTokenResponseCollection"
        assert answer.assertion is not None
        # a SignChallenge stays an RSTR: CONN reads its Context from the body's root
        challenge = await post(other, signed(conn_rst(p12, [(HOLDER, doctor.ssin)]), eid), None)
        assert challenge.challenge[1]
    finally:
        server.stop()


async def test_an_organisation_token_names_its_nihii_to_the_services(world: World) -> None:
    # Only the nihii-number attributes (no ...:nihii11 designator): the pipeline still finds
    # the caller's NIHII, padded to 11 as MyCareNet writes institution numbers.
    from simulator.codecs import tarification as tarification_codec
    from simulator.security.wssecurity import sign_envelope_saml
    from simulator.soap.envelope import new_envelope, serialize
    from simulator.store.base import JournalQuery
    from tests.e2e.test_security import TARIFICATION, TARIFICATION_ACTION

    claims = [
        (f"{ORG}hospital:nihii-number", "71022212"),
        (f"{ORG}certificateholder:hospital:nihii-number", "71022212"),
    ]
    answer = await post(world, signed(conn_rst(world.hospital, claims), world.hospital), None)
    sim = world.server.sim
    assert sim is not None
    now = datetime.now(UTC)
    patient = sim.population.patients[5]
    request = tarification_codec.build_request(
        provider_nihii="71022212000",
        provider_ssin=None,
        provider_type="hospital",
        patient_ssin=patient.ssin,
        encounter_date=sim.clock.today(),
        codes=["101032"],
        gmd_manager=None,
        input_reference=now.strftime("%Y%m%d%H%M%S%f")[:17],
        issue_instant=now,
    )
    envelope = new_envelope(request)
    sign_envelope_saml(envelope, answer.assertion, world.hospital.key, now=now)
    async with (
        aiohttp.ClientSession() as session,
        session.post(
            world.server.base_url + TARIFICATION,
            data=serialize(envelope),
            headers={"Content-Type": "text/xml", "SOAPAction": f'"{TARIFICATION_ACTION}"'},
        ) as response,
    ):
        await response.read()
    (entry,) = sim.store.journal(JournalQuery(service="etar", patient_ssin=patient.ssin))
    assert entry.security["verdict"] == "valid"
    assert entry.security["caller"]["nihii"] == "71022212000"
