"""WS-Security headers laid out the way each real client stack writes them.

The simulator's own signer (`security/wssecurity.py`) writes one fixed layout, fast. Real
clients differ in ways a strict verifier can trip over: id prefixes, Timestamp precision,
reference order, SHA-1 or SHA-256, `ds` as a prefix or the default namespace (WCF), an
InclusiveNamespaces PrefixList (WSS4J 1.6), a SecurityTokenReference with or without
`wsse11:TokenType`, base64 values wrapped every 76 characters (Santuario, the JS eID signer).
This module writes those layouts from a `HeaderStyle`, built directly on lxml's exclusive
c14n, hashlib and `cryptography`: a second code path, independent of the server's signer.
"""

from __future__ import annotations

import base64
import copy
import hashlib
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import cast

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.serialization import Encoding
from lxml import etree

from simulator.security import xmldsig
from simulator.security.xmldsig import SigningKey
from simulator.soap.namespaces import SOAP11

WSSE = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd"
WSSE11 = "http://docs.oasis-open.org/wss/oasis-wss-wssecurity-secext-1.1.xsd"
WSU = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-utility-1.0.xsd"
DS = xmldsig.DS
EXC_C14N = xmldsig.EXC_C14N
X509V3 = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-x509-token-profile-1.0#X509v3"
BASE64_BINARY = (
    "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-soap-message-security-1.0"
    "#Base64Binary"
)
SAML_ASSERTION_ID = (
    "http://docs.oasis-open.org/wss/oasis-wss-saml-token-profile-1.0#SAMLAssertionID"
)
SAML11_TOKEN_TYPE = "http://docs.oasis-open.org/wss/oasis-wss-saml-token-profile-1.1#SAMLV1.1"  # noqa: S105 (a URI)
_WSU_ID = f"{{{WSU}}}Id"


def millis_utc(moment: datetime) -> str:
    """`2026-12-05T08:00:00.123Z`: Java stacks (WSS4J, Santuario), the JS clients."""
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def seconds_utc(moment: datetime) -> str:
    """`2026-12-05T08:00:00Z`: eHI's library-core (`yyyy-MM-ddTHH:mm:ssK`)."""
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def prefixed_ids(*prefixes: str) -> Callable[[str], str]:
    """Ids `<prefix><uuid>`, one prefix per role: ts, bst, sig, ki, str, body."""
    table = dict(zip(("ts", "bst", "sig", "ki", "str", "body"), prefixes, strict=True))

    def new_id(role: str) -> str:
        return f"{table[role]}{uuid.uuid4()}"

    return new_id


# WSS4J's ids: TS-, X509-, SIG-, KI-, STR- and id- with a UUID.
wss4j_ids = prefixed_ids("TS-", "X509-", "SIG-", "KI-", "STR-", "id-")


def library_core_ids(role: str) -> str:
    """eHI's library-core (`Helper/WSS.cs`): `uuid-<bare GUID>`; `_1` for the Body."""
    return "_1" if role == "body" else f"uuid-{uuid.uuid4()}"


@dataclass(frozen=True)
class HeaderStyle:
    new_id: Callable[[str], str] = wss4j_ids
    instant: Callable[[datetime], str] = millis_utc
    ttl: timedelta = timedelta(seconds=60)
    sha1: bool = False  # rsa-sha1 / sha1 (eHI with RSA keys, the connector's SHA1Feature)
    ds_default_namespace: bool = False  # WCF writes <Signature xmlns="...xmldsig#">
    timestamp_first: bool = True  # reference order: Timestamp, Body (eHI) or Body, Timestamp
    str_token_type: bool = True  # wsse11:TokenType on the SAML SecurityTokenReference
    inclusive_prefixes: bool = False  # WSS4J 1.6 BSP mode: InclusiveNamespaces PrefixList
    wrap_base64: bool = False  # Santuario / eID signer: CR LF every 76 characters


def secure_x509(
    envelope: etree._Element,
    key: SigningKey,
    cert: x509.Certificate,
    style: HeaderStyle,
    *,
    now: datetime,
) -> None:
    """Timestamp, BinarySecurityToken and a Signature over Body, Timestamp and token."""
    security, timestamp, body = _security(envelope, style, now)
    token = etree.SubElement(
        security,
        f"{{{WSSE}}}BinarySecurityToken",
        {"EncodingType": BASE64_BINARY, "ValueType": X509V3, _WSU_ID: style.new_id("bst")},
    )
    token.text = _b64(cert.public_bytes(Encoding.DER), style.wrap_base64)
    reference = etree.Element(f"{{{WSSE}}}Reference", URI=f"#{token.get(_WSU_ID)}")
    reference.set("ValueType", X509V3)
    parts = [*_ordered(style, body, timestamp), token]
    _sign(security, key, parts, reference, style)


def secure_saml(
    envelope: etree._Element,
    assertion: etree._Element,
    key: SigningKey,
    style: HeaderStyle,
    *,
    now: datetime,
    sign_body: bool = True,
) -> None:
    """Timestamp, the assertion as issued, and a holder-of-key Signature over Body and
    Timestamp (Timestamp only with `sign_body=False`, as the connector's GenAsync does)."""
    security, timestamp, body = _security(envelope, style, now)
    security.append(_deep_copy(assertion))
    reference = etree.Element(f"{{{WSSE}}}KeyIdentifier", ValueType=SAML_ASSERTION_ID)
    reference.text = assertion.get("AssertionID")
    parts = _ordered(style, body, timestamp) if sign_body else [timestamp]
    _sign(security, key, parts, reference, style, saml=True)


def _security(
    envelope: etree._Element, style: HeaderStyle, now: datetime
) -> tuple[etree._Element, etree._Element, etree._Element]:
    header = envelope.find(f"{{{SOAP11}}}Header")
    if header is None:
        header = etree.Element(f"{{{SOAP11}}}Header")
        envelope.insert(0, header)
    security = etree.SubElement(
        header,
        f"{{{WSSE}}}Security",
        {f"{{{SOAP11}}}mustUnderstand": "1"},
        nsmap={"wsse": WSSE, "wsu": WSU},
    )
    timestamp = etree.SubElement(security, f"{{{WSU}}}Timestamp", {_WSU_ID: style.new_id("ts")})
    etree.SubElement(timestamp, f"{{{WSU}}}Created").text = style.instant(now)
    etree.SubElement(timestamp, f"{{{WSU}}}Expires").text = style.instant(now + style.ttl)
    body = envelope.find(f"{{{SOAP11}}}Body")
    if body is None:
        raise ValueError("the envelope has no soap:Body")
    if body.get(_WSU_ID) is None:
        body.set(_WSU_ID, style.new_id("body"))
    return security, timestamp, body


def _ordered(
    style: HeaderStyle, body: etree._Element, timestamp: etree._Element
) -> list[etree._Element]:
    return [timestamp, body] if style.timestamp_first else [body, timestamp]


def _sign(
    security: etree._Element,
    key: SigningKey,
    parts: Sequence[etree._Element],
    token_reference: etree._Element,
    style: HeaderStyle,
    *,
    saml: bool = False,
) -> None:
    rsa_key = isinstance(key, rsa.RSAPrivateKey)
    if style.sha1:
        method = xmldsig.RSA_SHA1 if rsa_key else xmldsig.ECDSA_SHA1
        digest_uri, digest = xmldsig.SHA1, hashlib.sha1
    else:
        method = xmldsig.RSA_SHA256 if rsa_key else xmldsig.ECDSA_SHA256
        digest_uri, digest = xmldsig.SHA256, hashlib.sha256
    ds = f"{{{DS}}}"
    # lxml takes None for the default namespace; its stubs only know prefixes.
    nsmap = cast(dict[str, str], {None: DS} if style.ds_default_namespace else {"ds": DS})
    signature = etree.SubElement(
        security, f"{ds}Signature", {"Id": style.new_id("sig")}, nsmap=nsmap
    )
    signed_info = etree.SubElement(signature, f"{ds}SignedInfo")
    c14n_method = etree.SubElement(signed_info, f"{ds}CanonicalizationMethod", Algorithm=EXC_C14N)
    info_prefixes = _inclusive(c14n_method, ["soap"] if style.inclusive_prefixes else [])
    etree.SubElement(signed_info, f"{ds}SignatureMethod", Algorithm=method)
    for part in parts:
        reference = etree.SubElement(
            signed_info, f"{ds}Reference", URI=f"#{part.get(_WSU_ID) or part.get('Id')}"
        )
        transform = etree.SubElement(
            etree.SubElement(reference, f"{ds}Transforms"), f"{ds}Transform", Algorithm=EXC_C14N
        )
        listed = _visible_prefixes(part) if style.inclusive_prefixes else []
        prefixes = _inclusive(transform, listed)
        etree.SubElement(reference, f"{ds}DigestMethod", Algorithm=digest_uri)
        value = digest(xmldsig.c14n(part, prefixes)).digest()
        etree.SubElement(reference, f"{ds}DigestValue").text = _b64(value, False)
    value_element = etree.SubElement(signature, f"{ds}SignatureValue")
    key_info = etree.SubElement(signature, f"{ds}KeyInfo", Id=style.new_id("ki"))
    reference_holder = etree.SubElement(
        key_info, f"{{{WSSE}}}SecurityTokenReference", {_WSU_ID: style.new_id("str")}
    )
    if saml and style.str_token_type:
        reference_holder.set(f"{{{WSSE11}}}TokenType", SAML11_TOKEN_TYPE)
    reference_holder.append(token_reference)
    raw = xmldsig.sign_bytes(key, method, xmldsig.c14n(signed_info, info_prefixes))
    value_element.text = _b64(raw, style.wrap_base64)


def _inclusive(parent: etree._Element, prefixes: list[str]) -> list[str]:
    """Add an InclusiveNamespaces PrefixList (WSS4J 1.6) when there is something to list."""
    if prefixes:
        etree.SubElement(
            parent, f"{{{EXC_C14N}}}InclusiveNamespaces", PrefixList=" ".join(prefixes)
        )
    return prefixes


def _visible_prefixes(element: etree._Element) -> list[str]:
    """The in-scope prefixes exclusive c14n would leave out: what WSS4J 1.6 lists."""
    return sorted(p for p in element.nsmap if p and element.nsmap[p] != WSU)


def _deep_copy(element: etree._Element) -> etree._Element:
    return copy.deepcopy(element)  # the assertion goes out exactly as the STS issued it


def _b64(data: bytes, wrap: bool) -> str:
    text = base64.b64encode(data).decode()
    if not wrap:
        return text
    return "\r\n".join(text[i : i + 76] for i in range(0, len(text), 76))
