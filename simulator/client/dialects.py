"""How each family of real client software puts a request on the wire.

One `Dialect` per family of `docs/client-quirks.md` (the shared client study): what it sends
as SOAPAction (quoted, bare, or no header at all), how it asks the STS for a token (Context,
KeyType spelling, Lifetime format, claims), how its WS-Security header is laid out, and how
it addresses GenAsync. The project's client speaks `CONNECTOR` by default, since that is what
most vendors embed; tests send every service in every family's dialect.

Each fact carries the family's tag and the code base it was read from (client-quirks §2).
"""

from __future__ import annotations

import base64
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding
from lxml import etree

from simulator.client.wss_layout import (
    HeaderStyle,
    library_core_ids,
    seconds_utc,
)
from simulator.codecs import sts as sts_codec
from simulator.soap.envelope import new_envelope

STS_ACTION = "urn:be:fgov:ehealth:sts:protocol:v1:RequestSecurityToken"  # every client
KEY_TYPE_WSTRUST = "http://docs.oasis-open.org/ws-sx/wstrust/200512/PublicKey"  # sic, CONN
KEY_TYPE_STANDARD = "http://docs.oasis-open.org/ws-sx/ws-trust/200512/PublicKey"
WSA_2004 = "http://schemas.xmlsoap.org/ws/2004/08/addressing"
WSP = "http://schemas.xmlsoap.org/ws/2004/09/policy"
PERSON = "urn:be:fgov:person:ssin"
EHEALTH = "urn:be:fgov:person:ssin:ehealth:1.0"

# The services of the study, as the tests and README name them.
STS, ETAR, MEMBERDATA, EATTEST, MEDIPRIMA, GENASYNC = (
    "sts",
    "etar",
    "memberdata",
    "eattest",
    "mediprima",
    "genasync",
)


def _plus_hours(moment: datetime, hours: int = 1) -> str:
    """`DateUtils.printDateTime` (CONN) and dayjs (KH): local time with a `+01:00` offset."""
    local = moment + timedelta(hours=hours)
    return local.strftime("%Y-%m-%dT%H:%M:%S.") + f"{local.microsecond // 1000:03d}+0{hours}:00"


def _plus_0000(moment: datetime) -> str:
    """EC: Java `DateTimeFormatter "uuuu-MM-dd'T'HH:mm:ssZ"`, offset without a colon."""
    return moment.strftime("%Y-%m-%dT%H:%M:%S+0000")


def _dotnet_o(moment: datetime) -> str:
    """EGK: .NET round-trip format "O", seven fraction digits and Z."""
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond:06d}0Z"


def _designators(*forms: str) -> Callable[[str], tuple[str, ...]]:
    """Designator URIs for a profession word ("doctor"), from `{w}` templates."""
    return lambda word: tuple(form.format(w=word) for form in forms)


@dataclass(frozen=True)
class Dialect:
    name: str  # as README and the tests name it
    tag: str  # client-quirks' tag: CONN, FHC, EC, EGK, PYC, KH
    services: frozenset[str]  # what the family's code base calls
    no_action: frozenset[str]  # services called with no SOAPAction header at all
    quote_action: bool = True
    soap_prefix: str = "SOAP-ENV"  # SAAJ
    java_declaration: bool = True  # `<?xml ... standalone="no"?>` (JDK transformer)
    header: HeaderStyle = field(default_factory=HeaderStyle)
    # STS request
    key_type: str = KEY_TYPE_WSTRUST
    context: Callable[[], str] = lambda: str(uuid.uuid4())
    lifetime: Callable[[datetime], str] | None = _plus_hours
    ssin_claims: tuple[str, ...] = (
        "urn:be:fgov:ehealth:1.0:certificateholder:person:ssin",
        PERSON,
    )
    designators: Callable[[str], tuple[str, ...]] = lambda word: (
        f"{EHEALTH}:{word}:nihii11",
        f"{EHEALTH}:professional:{word}:boolean",
    )
    template_namespaces: bool = True  # CONN's template declares unused wsa/wsp namespaces
    # GenAsync
    genasync_sign_body: bool = False  # CONN signs the Timestamp only
    genasync_message_id: Callable[[], str] = lambda: str(uuid.uuid4())  # bare UUID (CONN)
    genasync_to_multicast: bool = False  # EC addresses urn:nip:destination:io:MULTICAST
    # eHI's library-core reads an answer only when its wsse:Security holds a lone Timestamp.
    timestamp_only_answers: bool = False

    def soap_action_header(self, path: str, action: str) -> dict[str, str]:
        """The SOAPAction header as this family sends `action` to `path` (maybe none)."""
        if service_of(path) in self.no_action:
            return {}
        return {"SOAPAction": f'"{action}"' if self.quote_action else action}

    def envelope(self, payload: etree._Element, headers: list[etree._Element]) -> etree._Element:
        return new_envelope(payload, headers, prefix=self.soap_prefix)

    def serialize(self, envelope: etree._Element) -> bytes:
        text = etree.tostring(envelope, encoding="UTF-8", xml_declaration=False)
        if self.java_declaration:
            return b'<?xml version="1.0" encoding="UTF-8" standalone="no"?>' + text
        return text

    def token_request(
        self,
        certificate: x509.Certificate,
        ssin: str,
        profession_word: str | None,
        *,
        now: datetime,
    ) -> etree._Element:
        """The family's RequestSecurityToken for a holder-of-key token."""
        nsmap = {"wst": sts_codec.WST, "auth": sts_codec.AUTH}
        if self.template_namespaces:
            nsmap |= {"wsa": WSA_2004, "wsp": WSP, "wsse": sts_codec.WSSE, "ds": sts_codec.DS}
        rst = etree.Element(f"{{{sts_codec.WST}}}RequestSecurityToken", nsmap=nsmap)
        rst.set("Context", self.context())  # unqualified, as SAAJ writes setAttributeNS
        etree.SubElement(rst, f"{{{sts_codec.WST}}}TokenType").text = sts_codec.SAML11_TOKEN_TYPE
        etree.SubElement(rst, f"{{{sts_codec.WST}}}RequestType").text = sts_codec.ISSUE
        claims = etree.SubElement(
            rst, f"{{{sts_codec.WST}}}Claims", Dialect=sts_codec.CLAIMS_DIALECT
        )
        for uri in self.ssin_claims:
            claim = etree.SubElement(claims, f"{{{sts_codec.AUTH}}}ClaimType", Uri=uri)
            etree.SubElement(claim, f"{{{sts_codec.AUTH}}}Value").text = ssin
        for uri in self.designators(profession_word) if profession_word else ():
            etree.SubElement(claims, f"{{{sts_codec.AUTH}}}ClaimType", Uri=uri)
        if self.lifetime is not None:
            lifetime = etree.SubElement(rst, f"{{{sts_codec.WST}}}Lifetime")
            created = etree.SubElement(lifetime, f"{{{sts_codec.WSU}}}Created")
            created.text = self.lifetime(now)
            expires = etree.SubElement(lifetime, f"{{{sts_codec.WSU}}}Expires")
            expires.text = self.lifetime(now + timedelta(hours=24))
        etree.SubElement(rst, f"{{{sts_codec.WST}}}KeyType").text = self.key_type
        use_key = etree.SubElement(rst, f"{{{sts_codec.WST}}}UseKey")
        reference = etree.SubElement(use_key, f"{{{sts_codec.WSSE}}}SecurityTokenReference")
        data = etree.SubElement(reference, f"{{{sts_codec.DS}}}X509Data")
        der = certificate.public_bytes(Encoding.DER)
        encoded = base64.b64encode(der).decode()
        if self.header.wrap_base64:
            encoded = "\r\n".join(encoded[i : i + 76] for i in range(0, len(encoded), 76))
        etree.SubElement(data, f"{{{sts_codec.DS}}}X509Certificate").text = encoded
        return rst


ALL_SERVICES = frozenset({STS, ETAR, MEMBERDATA, EATTEST, MEDIPRIMA, GENASYNC})
_SERVICE_PATHS = (
    ("/IAM/", STS),
    ("/MyCareNet/Tarification", ETAR),
    ("/MyCareNet/MemberData", MEMBERDATA),
    ("/IrisCareNet/MemberData", MEMBERDATA),
    ("/WalCareNet/MemberData", MEMBERDATA),
    ("/MyCareNet/eAttest", EATTEST),
    ("/MediPrima/", MEDIPRIMA),
    ("/mycarenet-ws/async/generic", GENASYNC),
)


def service_of(path: str) -> str | None:
    """The service a path belongs to, as the dialects name them."""
    return next((service for prefix, service in _SERVICE_PATHS if path.startswith(prefix)), None)


# CONN: the eHealth Java connector 4.x (SAAJ + WSS4J 2). No SOAPAction on MemberData and
# GenAsync (it never calls setSoapAction there), Timestamp-only signature on GenAsync.
CONNECTOR = Dialect(
    name="connector",
    tag="CONN",
    services=ALL_SERVICES,
    no_action=frozenset({MEMBERDATA, GENASYNC}),
)

# FHC/IFHC: freehealth-connector (Kotlin on a fork of the connector): the connector's
# transport, richer claims (doctor:boolean, givenname, surname, fpsph, nihii forms).
FREEHEALTH = Dialect(
    name="freehealth",
    tag="FHC",
    services=ALL_SERVICES,
    no_action=frozenset({MEMBERDATA, GENASYNC}),
    designators=_designators(
        PERSON + ":{w}:boolean",
        EHEALTH + ":givenname",
        EHEALTH + ":surname",
        EHEALTH + ":fpsph:{w}:boolean",
        EHEALTH + ":nihii:{w}:nihii11",
        EHEALTH + ":{w}:nihii11",
    ),
)

# EC: e-Contract's client (JAX-WS RI with the WSDLs + WSS4J handlers): SOAPAction from the
# WSDL everywhere, `context-<uuid>`, Lifetime `+0000`, GenAsync signed Body + Timestamp and
# addressed to MULTICAST, `uuid:` MessageIDs.
E_CONTRACT = Dialect(
    name="e-contract",
    tag="EC",
    services=frozenset({STS, ETAR, MEMBERDATA, GENASYNC}),
    no_action=frozenset(),
    soap_prefix="S",
    java_declaration=False,
    context=lambda: f"context-{uuid.uuid4()}",
    lifetime=_plus_0000,
    designators=_designators(PERSON + ":{w}:boolean", EHEALTH + ":{w}:nihii11"),
    template_namespaces=False,
    header=HeaderStyle(inclusive_prefixes=True),
    genasync_sign_body=True,
    genasync_message_id=lambda: f"uuid:{uuid.uuid4()}",
    genasync_to_multicast=True,
)

# EGK: Egelke's eHI (.NET library-core WS-Trust, hand-written WS-Security): `urn:uuid:`
# Context, seven-digit Lifetime fractions, Timestamp to the second, `uuid-` ids, references
# Timestamp then Body, rsa-sha1 with RSA keys, `ds` as the default namespace, no TokenType on
# the SAML reference (old WCF stack); asks for the SSIN alone with doctor:boolean and
# doctor:nihii11 designators (`genIns-test/genIns.config`, `chapterIV-test/ConsultExample.cs`).
EHI = Dialect(
    name="ehi",
    tag="EGK",
    services=frozenset({STS, GENASYNC}),
    no_action=frozenset(),
    soap_prefix="s",
    java_declaration=False,
    context=lambda: f"urn:uuid:{uuid.uuid4()}",
    lifetime=_dotnet_o,
    ssin_claims=(PERSON,),
    designators=_designators(PERSON + ":{w}:boolean", EHEALTH + ":{w}:nihii11"),
    template_namespaces=False,
    header=HeaderStyle(
        new_id=library_core_ids,
        instant=seconds_utc,
        ttl=timedelta(minutes=5),
        sha1=True,
        ds_default_namespace=True,
        timestamp_first=True,
        str_token_type=False,
    ),
    genasync_sign_body=True,
    genasync_message_id=lambda: f"urn:uuid:{uuid.uuid4()}",
    timestamp_only_answers=True,
)

# PYC: ehealth-pyconnector (Python over py4j on the connector's jars, plus a copy of its STS
# client): the connector's wire, physiotherapist-style claims with givenname/surname.
PYCONNECTOR = Dialect(
    name="pyconnector",
    tag="PYC",
    services=frozenset({STS, MEMBERDATA, EATTEST, GENASYNC}),
    no_action=frozenset({MEMBERDATA, GENASYNC}),
    designators=_designators(
        EHEALTH + ":{w}:nihii11",
        EHEALTH + ":professional:{w}:boolean",
        EHEALTH + ":givenname",
        EHEALTH + ":surname",
    ),
)

# KH: Kine-Helper (JS/Tauri, strings built by hand after WSS4J's layout): SOAPAction on
# MemberData, dayjs `+01:00` Lifetime, 1-minute Timestamps, certificates wrapped with CR LF
# every 76 characters.
JS = Dialect(
    name="js",
    tag="KH",
    services=frozenset({STS, MEMBERDATA}),
    no_action=frozenset(),
    soap_prefix="soapenv",
    java_declaration=False,
    header=HeaderStyle(wrap_base64=True),
)

DIALECTS = (CONNECTOR, FREEHEALTH, E_CONTRACT, EHI, PYCONNECTOR, JS)
BY_NAME = {dialect.name: dialect for dialect in DIALECTS}
