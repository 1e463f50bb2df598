"""SAML 1.1 protocol (SAML-P) STS messages: `samlp:Request` in, `samlp:Response` out.

Request, as the clients write it (EGK `library-core/Sts/Saml11/Request.cs`, MDK
`Medikit.EHealth/SAML/SessionService.cs`, CONN `legacy/issue.samlv11.hok.template.xml`):

    samlp:Request @RequestID @MajorVersion=1 @MinorVersion=1 @IssueInstant
      ds:Signature?                       enveloped, Reference #RequestID
      samlp:AttributeQuery
        saml:Subject
          saml:NameIdentifier             the authentication certificate's subject
          saml:SubjectConfirmation
            saml:ConfirmationMethod       urn:oasis:names:tc:SAML:1.0:cm:holder-of-key
            saml:SubjectConfirmationData/saml:Assertion   the asserted attributes (with values)
            ds:KeyInfo/ds:X509Data/ds:X509Certificate     the holder-of-key certificate
        saml:AttributeDesignator*         the attributes asked for (no values)

Response: `samlp:Response @ResponseID @InResponseTo @MajorVersion @MinorVersion @IssueInstant`
with `samlp:Status/samlp:StatusCode@Value` (a QName: samlp:Success, samlp:Requester, ...) and,
on success, the STS's `saml:Assertion`.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime

from cryptography import x509
from lxml import etree

from simulator.domain.sts import Claim
from simulator.security.enveloped import load_certificate
from simulator.security.xmldsig import DS, SecurityError

SAMLP = "urn:oasis:names:tc:SAML:1.0:protocol"
SAML1 = "urn:oasis:names:tc:SAML:1.0:assertion"
HOLDER_OF_KEY = "urn:oasis:names:tc:SAML:1.0:cm:holder-of-key"
REQUEST_TAG = f"{{{SAMLP}}}Request"

# Status codes (SAML 1.1 core 3.4.3.1), written as samlp: QNames.
SUCCESS = "Success"
REQUESTER = "Requester"
RESPONDER = "Responder"
VERSION_MISMATCH = "VersionMismatch"
REQUEST_DENIED = "RequestDenied"  # second-level code under Requester/Responder

_P = f"{{{SAMLP}}}"
_S = f"{{{SAML1}}}"
_D = f"{{{DS}}}"


class SamlpError(ValueError):
    """The request cannot be served; `status` is the top-level StatusCode to answer with."""

    def __init__(self, message: str, status: str = REQUESTER) -> None:
        super().__init__(message)
        self.status = status


@dataclass(frozen=True)
class SamlpRequest:
    request_id: str
    claims: tuple[Claim, ...]  # designators (with asserted values) and asserted attributes
    holder_cert: x509.Certificate | None  # SubjectConfirmation/ds:KeyInfo certificate
    not_on_or_after: datetime | None  # the asserted Conditions' end: the validity asked for


def parse_request(request: etree._Element) -> SamlpRequest:
    if request.tag != REQUEST_TAG:
        raise SamlpError(f"expected samlp:Request, got {request.tag}")
    request_id = request.get("RequestID")
    if not request_id:
        raise SamlpError("samlp:Request has no RequestID")
    version = (request.get("MajorVersion"), request.get("MinorVersion"))
    if version[0] != "1":
        raise SamlpError(
            f"samlp:Request MajorVersion {version[0]!r}: this STS speaks SAML 1.1",
            VERSION_MISMATCH,
        )
    queries = request.findall(f"{_P}AttributeQuery")
    if len(queries) != 1:
        raise SamlpError(f"samlp:Request needs one samlp:AttributeQuery, found {len(queries)}")
    query = queries[0]
    confirmation = query.find(f"{_S}Subject/{_S}SubjectConfirmation")
    methods = [] if confirmation is None else confirmation.findall(f"{_S}ConfirmationMethod")
    if HOLDER_OF_KEY not in [(m.text or "").strip() for m in methods]:
        raise SamlpError(
            "samlp:AttributeQuery/saml:Subject/saml:SubjectConfirmation must ask for "
            f"ConfirmationMethod {HOLDER_OF_KEY}"
        )
    assert confirmation is not None
    asserted = confirmation.find(f"{_S}SubjectConfirmationData/{_S}Assertion")
    values = _asserted_values(asserted)
    claims = [
        Claim(name, values.get(name, ()))
        for name in _unique(
            d.get("AttributeName", "") for d in query.findall(f"{_S}AttributeDesignator")
        )
    ]
    if any(not claim.uri for claim in claims):
        raise SamlpError("a saml:AttributeDesignator has no AttributeName")
    asked = {claim.uri for claim in claims}
    claims += [Claim(name, held) for name, held in values.items() if name not in asked]
    if not claims:
        raise SamlpError("samlp:AttributeQuery asks for no attribute: nothing to certify")
    return SamlpRequest(
        request_id=request_id,
        claims=tuple(claims),
        holder_cert=_holder_cert(confirmation),
        not_on_or_after=_not_on_or_after(asserted),
    )


def _asserted_values(asserted: etree._Element | None) -> dict[str, tuple[str, ...]]:
    values: dict[str, tuple[str, ...]] = {}
    if asserted is None:
        return values
    for attribute in asserted.iterfind(f"{_S}AttributeStatement/{_S}Attribute"):
        name = attribute.get("AttributeName", "")
        if not name:
            raise SamlpError("an asserted saml:Attribute has no AttributeName")
        found = tuple((v.text or "").strip() for v in attribute.findall(f"{_S}AttributeValue"))
        values[name] = values.get(name, ()) + found
    return values


def _holder_cert(confirmation: etree._Element) -> x509.Certificate | None:
    encoded = confirmation.findtext(f"{_D}KeyInfo/{_D}X509Data/{_D}X509Certificate")
    if not encoded:
        return None
    try:
        return load_certificate(encoded, "SubjectConfirmation/ds:KeyInfo/ds:X509Certificate")
    except SecurityError as error:
        raise SamlpError(error.reason) from None


def _not_on_or_after(asserted: etree._Element | None) -> datetime | None:
    conditions = None if asserted is None else asserted.find(f"{_S}Conditions")
    text = None if conditions is None else conditions.get("NotOnOrAfter")
    if not text:
        return None
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        raise SamlpError(f"saml:Conditions/@NotOnOrAfter {text!r} is not an xsd:dateTime") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _unique(names: Iterable[str]) -> list[str]:
    seen: dict[str, None] = {}
    for name in names:
        seen.setdefault(name.strip(), None)
    return list(seen)


# -- answers ------------------------------------------------------------------------------------


def build_response(
    *,
    in_response_to: str,
    now: datetime,
    assertion: etree._Element | None = None,
    status: str = SUCCESS,
    second_status: str | None = None,
    message: str | None = None,
) -> etree._Element:
    """A samlp:Response: Success with the assertion, or a status with its message."""
    response = etree.Element(
        f"{_P}Response",
        nsmap={"samlp": SAMLP, "saml": SAML1},
        ResponseID=f"_{uuid.uuid4().hex}",
        InResponseTo=in_response_to,
        MajorVersion="1",
        MinorVersion="1",
        IssueInstant=_instant(now),
    )
    status_element = etree.SubElement(response, f"{_P}Status")
    code = etree.SubElement(status_element, f"{_P}StatusCode", Value=f"samlp:{status}")
    if second_status:
        etree.SubElement(code, f"{_P}StatusCode", Value=f"samlp:{second_status}")
    if message:
        etree.SubElement(status_element, f"{_P}StatusMessage").text = message
    if assertion is not None:
        response.append(assertion)
    return response


def read_status(response: etree._Element) -> tuple[str, str | None]:
    """(top-level StatusCode local name, StatusMessage) of a samlp:Response."""
    code = response.find(f"{_P}Status/{_P}StatusCode")
    value = "" if code is None else code.get("Value", "")
    return value.rpartition(":")[2], response.findtext(f"{_P}Status/{_P}StatusMessage")


def _instant(moment: datetime) -> str:
    moment = moment.astimezone(UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"
