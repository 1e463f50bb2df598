"""WS-Trust 1.3 as the eHealth STS speaks it: RequestSecurityToken (Issue, Renew) and the
SignChallenge round trip in, RequestSecurityTokenResponse(Collection) out (client-quirks 2.1)."""

from __future__ import annotations

import base64
import binascii
import copy
import re
from dataclasses import dataclass
from datetime import UTC, datetime

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
# Declared, unused, by the connector's template (issue.samlv11.hok.template.xml).
WSP = "http://schemas.xmlsoap.org/ws/2004/09/policy"
WSA_2004 = "http://schemas.xmlsoap.org/ws/2004/08/addressing"

SAML11_TOKEN_TYPE = "http://docs.oasis-open.org/wss/oasis-wss-saml-token-profile-1.1#SAMLV1.1"  # noqa: S105 (a URI, not a password)
ISSUE = "http://docs.oasis-open.org/ws-sx/ws-trust/200512/Issue"
RENEW = "http://docs.oasis-open.org/ws-sx/ws-trust/200512/Renew"
PUBLIC_KEY = "http://docs.oasis-open.org/ws-sx/ws-trust/200512/PublicKey"
# What every real client writes (CONN template, EC, EGK, KH): "wstrust" without the hyphen.
PUBLIC_KEY_CLIENTS = "http://docs.oasis-open.org/ws-sx/wstrust/200512/PublicKey"
PUBLIC_KEY_TYPES = (PUBLIC_KEY, PUBLIC_KEY_CLIENTS)
CLAIMS_DIALECT = "http://docs.oasis-open.org/wsfed/authorization/200706/authclaims"

RESPONSE_SHAPES = ("rstr", "rstrc")  # answer body: RSTR (what EGK and EC parse) or RSTRC


class RstError(ValueError):
    """The RequestSecurityToken cannot be served; the message says which element is wrong."""


@dataclass(frozen=True)
class TokenRequest:
    context: str | None
    claims: tuple[Claim, ...]
    use_key: x509.Certificate | None
    lifetime: tuple[str, str] | None
    renew_target: etree._Element | None = None  # the saml:Assertion to renew (Renew only)

    @property
    def is_renewal(self) -> bool:
        return self.renew_target is not None


@dataclass(frozen=True)
class ChallengeAnswer:
    """RSTR/SignChallengeResponse: the challenge the client echoes, signed with the UseKey key."""

    context: str | None
    challenge: str


def parse_request(rst: etree._Element) -> TokenRequest:
    token_type = _text(rst, "TokenType")
    if token_type != SAML11_TOKEN_TYPE:
        raise RstError(f"wst:TokenType must be {SAML11_TOKEN_TYPE}, got {token_type!r}")
    request_type = _text(rst, "RequestType")
    if request_type not in (ISSUE, RENEW):
        raise RstError(f"wst:RequestType must be {ISSUE} or {RENEW}, got {request_type!r}")
    key_type = _text(rst, "KeyType")
    if key_type is not None and key_type not in PUBLIC_KEY_TYPES:
        raise RstError(
            f"wst:KeyType must be {PUBLIC_KEY_CLIENTS} or {PUBLIC_KEY} (holder-of-key), "
            f"got {key_type!r}"
        )
    claims = tuple(
        Claim(
            uri=(claim.get("Uri") or "").strip(),
            values=tuple((v.text or "").strip() for v in claim.findall(f"{{{AUTH}}}Value")),
        )
        for claim in rst.iterfind(f"{{{WST}}}Claims/{{{AUTH}}}ClaimType")
    )
    renew_target = _renew_target(rst) if request_type == RENEW else None
    if renew_target is None and not claims:
        raise RstError("wst:Claims lists no auth:ClaimType: nothing to certify")
    lifetime_el = rst.find(f"{{{WST}}}Lifetime")
    lifetime = None
    if lifetime_el is not None:
        lifetime = (
            (lifetime_el.findtext(f"{{{WSU}}}Created") or "").strip(),
            (lifetime_el.findtext(f"{{{WSU}}}Expires") or "").strip(),
        )
    return TokenRequest(
        context=rst.get("Context"),
        claims=claims,
        use_key=_use_key(rst),
        lifetime=lifetime,
        renew_target=renew_target,
    )


def _renew_target(rst: etree._Element) -> etree._Element:
    """The assertion in RenewTarget: inside SecurityTokenReference/Embedded (CONN, EGK) or
    directly (WS-Trust allows any token there)."""
    target = rst.find(f"{{{WST}}}RenewTarget")
    if target is None:
        raise RstError("a Renew request needs wst:RenewTarget holding the saml:Assertion")
    for path in (
        f"{{{WSSE}}}SecurityTokenReference/{{{WSSE}}}Embedded/{{{SAML1}}}Assertion",
        f"{{{SAML1}}}Assertion",
    ):
        found = target.findall(path)
        if len(found) == 1:
            return found[0]
        if found:
            raise RstError("wst:RenewTarget holds more than one saml:Assertion")
    raise RstError(
        "wst:RenewTarget must hold wsse:SecurityTokenReference/wsse:Embedded/saml:Assertion "
        "(or the saml:Assertion itself)"
    )


def parse_challenge_answer(rstr: etree._Element) -> ChallengeAnswer:
    """RequestSecurityTokenResponse/SignChallengeResponse/Challenge, as CONN's
    signchallenge.template.xml, EC (no Context) and EGK (the whole RSTR echoed) send it."""
    found = rstr.findall(f"{{{WST}}}SignChallengeResponse/{{{WST}}}Challenge")
    if len(found) != 1:
        raise RstError(
            "the Challenge operation expects wst:RequestSecurityTokenResponse/"
            "wst:SignChallengeResponse/wst:Challenge"
        )
    challenge = (found[0].text or "").strip()
    if not challenge:
        raise RstError("wst:SignChallengeResponse/wst:Challenge is empty")
    context = rstr.get("Context") or rstr.get(f"{{{WST}}}Context")
    return ChallengeAnswer(context=context.strip() if context else None, challenge=challenge)


# dateTimes as clients write them: ...Z, ...+01:00, Java "Z" pattern's +0000, .NET's 7-digit
# fraction. Only read for the journal: the STS sets the validity itself.
_INSTANT = re.compile(
    r"^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(?::\d{2})?)(?:\.(\d+))?(Z|[+-]\d{2}:?\d{2})?$"
)


def parse_instant(text: str | None) -> datetime | None:
    """A client's dateTime, read leniently; None when it is no recognisable instant."""
    match = _INSTANT.match((text or "").strip())
    if match is None:
        return None
    base, fraction, zone = match.groups()
    micro = f".{(fraction or '0')[:6].ljust(6, '0')}"
    offset = "+00:00" if zone in (None, "Z") else f"{zone[:3]}:{zone[-2:]}"
    try:
        moment = datetime.fromisoformat(base + micro + offset)
    except ValueError:
        return None
    return moment.astimezone(UTC)


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
    assertion: etree._Element,
    *,
    context: str | None,
    created: datetime,
    expires: datetime,
    shape: str = "rstr",
) -> etree._Element:
    """The token answer: RSTR (what EGK and EC parse; CONN reads either) or RSTRC."""
    if shape not in RESPONSE_SHAPES:
        raise ValueError(f"STS response shape must be one of {RESPONSE_SHAPES}, not {shape!r}")
    response = _rstr(context)
    etree.SubElement(response, f"{{{WST}}}TokenType").text = SAML11_TOKEN_TYPE
    etree.SubElement(response, f"{{{WST}}}RequestedSecurityToken").append(assertion)
    lifetime = etree.SubElement(response, f"{{{WST}}}Lifetime")
    etree.SubElement(lifetime, f"{{{WSU}}}Created").text = _instant(created)
    etree.SubElement(lifetime, f"{{{WSU}}}Expires").text = _instant(expires)
    if shape == "rstr":
        return response
    collection = etree.Element(
        f"{{{WST}}}RequestSecurityTokenResponseCollection", nsmap={"wst": WST, "wsu": WSU}
    )
    collection.append(response)
    return collection


def build_sign_challenge(*, context: str | None, challenge: str) -> etree._Element:
    """RSTR/SignChallenge/Challenge: sign this challenge with the UseKey certificate's key.

    Always an RSTR whatever the token answer shape: CONN reads the Context from the body's
    root element and EGK maps RequestSecurityTokenResponse.SignChallenge."""
    response = _rstr(context)
    sign = etree.SubElement(response, f"{{{WST}}}SignChallenge")
    etree.SubElement(sign, f"{{{WST}}}Challenge").text = challenge
    return response


def _rstr(context: str | None) -> etree._Element:
    response = etree.Element(
        f"{{{WST}}}RequestSecurityTokenResponse", nsmap={"wst": WST, "wsu": WSU}
    )
    if context:
        response.set("Context", context)
    return response


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
    rst = _rst(context)
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
    etree.SubElement(rst, f"{{{WST}}}KeyType").text = PUBLIC_KEY_CLIENTS
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


def _rst(context: str) -> etree._Element:
    # The connector template's namespace declarations, wsp and wsa included though unused.
    nsmap = {"wst": WST, "auth": AUTH, "wsp": WSP, "wsa": WSA_2004, "wsu": WSU, "wsse": WSSE}
    rst = etree.Element(f"{{{WST}}}RequestSecurityToken", nsmap={**nsmap, "ds": DS})
    rst.set("Context", context)  # unqualified, as SAAJ writes setAttributeNS(WST, "Context")
    return rst


def build_renew_request(assertion: etree._Element, *, context: str) -> etree._Element:
    """CONN's renew.samlv11.template.xml: RenewTarget/STR/Embedded(wsu:Id)/saml:Assertion."""
    rst = _rst(context)
    etree.SubElement(rst, f"{{{WST}}}TokenType").text = SAML11_TOKEN_TYPE
    etree.SubElement(rst, f"{{{WST}}}RequestType").text = RENEW
    reference = etree.SubElement(
        etree.SubElement(rst, f"{{{WST}}}RenewTarget"), f"{{{WSSE}}}SecurityTokenReference"
    )
    embedded = etree.SubElement(
        reference, f"{{{WSSE}}}Embedded", {f"{{{WSU}}}Id": f"token-{context}"}
    )
    embedded.append(copy.deepcopy(assertion))
    return rst


def build_challenge_answer(*, context: str | None, challenge: str) -> etree._Element:
    """CONN's signchallenge.template.xml: RSTR(Context)/SignChallengeResponse/Challenge."""
    response = etree.Element(f"{{{WST}}}RequestSecurityTokenResponse", nsmap={"wst": WST})
    if context:
        response.set("Context", context)
    answer = etree.SubElement(response, f"{{{WST}}}SignChallengeResponse")
    etree.SubElement(answer, f"{{{WST}}}Challenge").text = challenge
    return response


def read_challenge(response: etree._Element) -> ChallengeAnswer | None:
    """The SignChallenge of an STS answer (RSTR or RSTRC), None when it carries a token."""
    for rstr in response.iter(f"{{{WST}}}RequestSecurityTokenResponse"):
        challenge = rstr.findtext(f"{{{WST}}}SignChallenge/{{{WST}}}Challenge")
        if challenge is not None:
            return ChallengeAnswer(context=rstr.get("Context"), challenge=challenge.strip())
    return None
