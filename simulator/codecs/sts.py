"""WS-Trust 1.3 RequestSecurityToken in, RequestSecurityTokenResponse(Collection) out."""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass
from datetime import datetime

from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding
from lxml import etree

from simulator.domain.sts import HOLDER_SSIN, PERSON_SSIN, Claim

WST = "http://docs.oasis-open.org/ws-sx/ws-trust/200512"
AUTH = "http://docs.oasis-open.org/wsfed/authorization/200706"
WSSE = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd"
WSU = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-utility-1.0.xsd"
DS = "http://www.w3.org/2000/09/xmldsig#"
SAML1 = "urn:oasis:names:tc:SAML:1.0:assertion"

SAML11_TOKEN_TYPE = "http://docs.oasis-open.org/wss/oasis-wss-saml-token-profile-1.1#SAMLV1.1"  # noqa: S105 (a URI, not a password)
ISSUE = "http://docs.oasis-open.org/ws-sx/ws-trust/200512/Issue"
PUBLIC_KEY = "http://docs.oasis-open.org/ws-sx/ws-trust/200512/PublicKey"
CLAIMS_DIALECT = "http://docs.oasis-open.org/wsfed/authorization/200706/authclaims"


class RstError(ValueError):
    """The RequestSecurityToken cannot be served; the message says which element is wrong."""


@dataclass(frozen=True)
class TokenRequest:
    context: str | None
    claims: tuple[Claim, ...]
    use_key: x509.Certificate | None
    lifetime: tuple[str, str] | None


def parse_request(rst: etree._Element) -> TokenRequest:
    token_type = _text(rst, "TokenType")
    if token_type != SAML11_TOKEN_TYPE:
        raise RstError(f"wst:TokenType must be {SAML11_TOKEN_TYPE}, got {token_type!r}")
    request_type = _text(rst, "RequestType")
    if request_type != ISSUE:
        raise RstError(f"wst:RequestType must be {ISSUE}, got {request_type!r}")
    key_type = _text(rst, "KeyType")
    if key_type is not None and key_type != PUBLIC_KEY:
        raise RstError(f"wst:KeyType must be {PUBLIC_KEY} (holder-of-key), got {key_type!r}")
    claims = tuple(
        Claim(
            uri=claim.get("Uri", ""),
            values=tuple((v.text or "").strip() for v in claim.findall(f"{{{AUTH}}}Value")),
        )
        for claim in rst.iterfind(f"{{{WST}}}Claims/{{{AUTH}}}ClaimType")
    )
    if not claims:
        raise RstError("wst:Claims lists no auth:ClaimType: nothing to certify")
    lifetime_el = rst.find(f"{{{WST}}}Lifetime")
    lifetime = None
    if lifetime_el is not None:
        lifetime = (
            lifetime_el.findtext(f"{{{WSU}}}Created", "").strip(),
            lifetime_el.findtext(f"{{{WSU}}}Expires", "").strip(),
        )
    return TokenRequest(
        context=rst.get("Context"), claims=claims, use_key=_use_key(rst), lifetime=lifetime
    )


def _use_key(rst: etree._Element) -> x509.Certificate | None:
    use_key = rst.find(f"{{{WST}}}UseKey")
    if use_key is None:
        return None
    encoded = use_key.findtext(f".//{{{DS}}}X509Certificate")
    if encoded is None:
        encoded = use_key.findtext(f".//{{{WSSE}}}BinarySecurityToken")
    if encoded is None:
        raise RstError("wst:UseKey carries no ds:X509Certificate or wsse:BinarySecurityToken")
    try:
        return x509.load_der_x509_certificate(base64.b64decode(encoded, validate=False))
    except (binascii.Error, ValueError) as error:
        raise RstError(f"wst:UseKey certificate cannot be read: {error}") from None


def build_response(
    assertion: etree._Element, *, context: str | None, created: datetime, expires: datetime
) -> etree._Element:
    collection = etree.Element(
        f"{{{WST}}}RequestSecurityTokenResponseCollection", nsmap={"wst": WST, "wsu": WSU}
    )
    response = etree.SubElement(collection, f"{{{WST}}}RequestSecurityTokenResponse")
    if context:
        response.set("Context", context)
    etree.SubElement(response, f"{{{WST}}}TokenType").text = SAML11_TOKEN_TYPE
    etree.SubElement(response, f"{{{WST}}}RequestedSecurityToken").append(assertion)
    lifetime = etree.SubElement(response, f"{{{WST}}}Lifetime")
    etree.SubElement(lifetime, f"{{{WSU}}}Created").text = _instant(created)
    etree.SubElement(lifetime, f"{{{WSU}}}Expires").text = _instant(expires)
    return collection


def _text(parent: etree._Element, local: str) -> str | None:
    text = parent.findtext(f"{{{WST}}}{local}")
    return text.strip() if text is not None else None


def _instant(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def build_request(
    certificate: x509.Certificate,
    ssin: str,
    designators: tuple[str, ...],
    *,
    context: str,
    created: datetime,
    expires: datetime,
) -> etree._Element:
    """The RequestSecurityToken an eHealth connector sends for a SAML 1.1 HOK token."""
    rst = etree.Element(
        f"{{{WST}}}RequestSecurityToken",
        nsmap={"wst": WST, "auth": AUTH, "wsse": WSSE, "wsu": WSU, "ds": DS},
        Context=context,
    )
    etree.SubElement(rst, f"{{{WST}}}TokenType").text = SAML11_TOKEN_TYPE
    etree.SubElement(rst, f"{{{WST}}}RequestType").text = ISSUE
    claims = etree.SubElement(rst, f"{{{WST}}}Claims", Dialect=CLAIMS_DIALECT)
    for uri in (HOLDER_SSIN, PERSON_SSIN):
        claim = etree.SubElement(claims, f"{{{AUTH}}}ClaimType", Uri=uri)
        etree.SubElement(claim, f"{{{AUTH}}}Value").text = ssin
    for uri in designators:
        etree.SubElement(claims, f"{{{AUTH}}}ClaimType", Uri=uri)
    lifetime = etree.SubElement(rst, f"{{{WST}}}Lifetime")
    etree.SubElement(lifetime, f"{{{WSU}}}Created").text = _instant(created)
    etree.SubElement(lifetime, f"{{{WSU}}}Expires").text = _instant(expires)
    etree.SubElement(rst, f"{{{WST}}}KeyType").text = PUBLIC_KEY
    reference = etree.SubElement(
        etree.SubElement(rst, f"{{{WST}}}UseKey"), f"{{{WSSE}}}SecurityTokenReference"
    )
    x509_data = etree.SubElement(reference, f"{{{DS}}}X509Data")
    etree.SubElement(x509_data, f"{{{DS}}}X509Certificate").text = base64.b64encode(
        certificate.public_bytes(Encoding.DER)
    ).decode()
    return rst


def read_assertion(response: etree._Element) -> etree._Element:
    """The SAML assertion inside an RSTR(C); raises RstError when there is none."""
    assertion = response.find(f".//{{{WST}}}RequestedSecurityToken/{{{SAML1}}}Assertion")
    if assertion is None:
        raise RstError("the STS response holds no saml:Assertion")
    return assertion
