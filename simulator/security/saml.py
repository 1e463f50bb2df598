"""SAML 1.1 holder-of-key assertions as the eHealth STS issues them (wire-formats 1.9).

`build_assertion` is the STS side; `parse_and_verify_assertion` the service side, with an
`AssertionCache` so the STS signature is checked once per token rather than once per call.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import uuid
from collections import OrderedDict
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding
from lxml import etree

from simulator.security import xmldsig
from simulator.security.xmldsig import DS, SecurityError, SigningKey
from simulator.soap.text import find_text, text_value

SAML1 = "urn:oasis:names:tc:SAML:1.0:assertion"
STS_ISSUER = "urn:be:fgov:ehealth:sts:1_0"
X509_PKI = "urn:oasis:names:tc:SAML:1.0:am:X509-PKI"
X509_SUBJECT_NAME = "urn:oasis:names:tc:SAML:1.1:nameid-format:X509SubjectName"
HOLDER_OF_KEY = "urn:oasis:names:tc:SAML:1.0:cm:holder-of-key"
CLOCK_SKEW = timedelta(minutes=5)

_S = f"{{{SAML1}}}"
_D = f"{{{DS}}}"


@dataclass(frozen=True)
class SamlAttribute:
    name: str
    namespace: str
    values: tuple[str, ...]


@dataclass(frozen=True)
class VerifiedAssertion:
    assertion_id: str
    holder_cert: x509.Certificate
    not_before: datetime
    not_on_or_after: datetime
    attributes: tuple[tuple[str, tuple[str, ...]], ...]  # (AttributeName, values)


# -- issuing (STS) ----------------------------------------------------------------------------


def build_assertion(
    *,
    subject_cert: x509.Certificate,
    subject_name: str,
    attributes: list[SamlAttribute],
    issue_instant: datetime,
    not_before: datetime,
    not_on_or_after: datetime,
    signer_key: SigningKey,
    signer_cert: x509.Certificate,
) -> etree._Element:
    """A signed saml:Assertion binding `subject_cert` (holder-of-key) to `attributes`."""
    assertion_id = f"_{uuid.uuid4().hex}"
    assertion = etree.Element(
        f"{_S}Assertion",
        nsmap={"saml": SAML1},
        AssertionID=assertion_id,
        IssueInstant=_instant(issue_instant),
        Issuer=STS_ISSUER,
        MajorVersion="1",
        MinorVersion="1",
    )
    etree.SubElement(
        assertion,
        f"{_S}Conditions",
        NotBefore=_instant(not_before),
        NotOnOrAfter=_instant(not_on_or_after),
    )
    holder_der = subject_cert.public_bytes(Encoding.DER)
    statement = etree.SubElement(
        assertion,
        f"{_S}AuthenticationStatement",
        AuthenticationInstant=_instant(issue_instant),
        AuthenticationMethod=X509_PKI,
    )
    _subject(statement, subject_name, subject_cert, holder_der)
    attribute_statement = etree.SubElement(assertion, f"{_S}AttributeStatement")
    _subject(attribute_statement, subject_name, subject_cert, holder_der)
    for attribute in attributes:
        element = etree.SubElement(
            attribute_statement,
            f"{_S}Attribute",
            AttributeName=attribute.name,
            AttributeNamespace=attribute.namespace,
        )
        for value in attribute.values:
            etree.SubElement(element, f"{_S}AttributeValue").text = value
    xmldsig.sign(
        assertion,
        signer_key,
        [(assertion_id, assertion)],
        key_info=xmldsig.x509_key_info(signer_cert.public_bytes(Encoding.DER)),
    )
    return assertion


def _subject(parent: etree._Element, name: str, cert: x509.Certificate, der: bytes) -> None:
    subject = etree.SubElement(parent, f"{_S}Subject")
    etree.SubElement(
        subject,
        f"{_S}NameIdentifier",
        Format=X509_SUBJECT_NAME,
        NameQualifier=cert.issuer.rfc4514_string(),
    ).text = name
    confirmation = etree.SubElement(subject, f"{_S}SubjectConfirmation")
    etree.SubElement(confirmation, f"{_S}ConfirmationMethod").text = HOLDER_OF_KEY
    confirmation.append(xmldsig.x509_key_info(der))


def _instant(moment: datetime) -> str:
    moment = moment.astimezone(UTC) if moment.tzinfo else moment.replace(tzinfo=UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


# -- verifying (services) ---------------------------------------------------------------------


class AssertionCache:
    """Assertions whose STS signature already verified, keyed by (AssertionID, content digest).

    The digest covers the whole assertion as serialized, signature included, so a modified copy
    of a known token misses the cache and is verified in full. Bounded, least recently used
    evicted.
    """

    def __init__(self, max_size: int = 10_000) -> None:
        self._max_size = max_size
        self._entries: OrderedDict[tuple[str, bytes], tuple[VerifiedAssertion, x509.Certificate]]
        self._entries = OrderedDict()

    def get(self, key: tuple[str, bytes], sts_cert: x509.Certificate) -> VerifiedAssertion | None:
        entry = self._entries.get(key)
        if entry is None or not (entry[1] is sts_cert or entry[1] == sts_cert):
            return None
        self._entries.move_to_end(key)
        return entry[0]

    def put(
        self, key: tuple[str, bytes], verified: VerifiedAssertion, sts_cert: x509.Certificate
    ) -> None:
        self._entries[key] = (verified, sts_cert)
        self._entries.move_to_end(key)
        while len(self._entries) > self._max_size:
            self._entries.popitem(last=False)

    def __len__(self) -> int:
        return len(self._entries)


def parse_and_verify_assertion(
    element: etree._Element,
    *,
    sts_cert: x509.Certificate,
    now: datetime,
    cache: AssertionCache | None,
) -> VerifiedAssertion:
    """Check the STS signature, shape and validity period of a SAML 1.1 HOK assertion.

    Raises SecurityError: InvalidSecurityToken for a bad, foreign or expired token
    (InvalidSecurity for a disallowed algorithm).
    """
    if element.tag != f"{_S}Assertion":
        raise _bad(f"expected saml:Assertion, got {element.tag}")
    assertion_id = element.get("AssertionID")
    if not assertion_id:
        raise _bad("saml:Assertion has no AssertionID")
    key = None
    verified = None
    if cache is not None:
        key = (assertion_id, _content_digest(element))
        verified = cache.get(key, sts_cert)
    if verified is None:
        verified = _verify(element, assertion_id, sts_cert)
        if cache is not None and key is not None:
            cache.put(key, verified, sts_cert)
    _check_period(verified, now)
    return verified


def _content_digest(element: etree._Element) -> bytes:
    """SHA-256 of the assertion serialized as it stands in the message.

    Not keyed on the SignatureValue: an attacker can keep that while editing the attributes.
    Plain serialization is a third cheaper than c14n and at least as discriminating: it keeps
    comments, prefixes, attribute order and every in-scope namespace declaration (exclusive
    c14n drops unused ones), so any change c14n would see changes this digest too.
    """
    # Serialized to str then encoded: lxml writes str a third faster than ASCII bytes (which
    # it escapes character by character); the digest sees the same markup either way.
    text = etree.tostring(element, with_tail=False, encoding="unicode")
    return hashlib.sha256(text.encode("utf-8")).digest()


def _verify(
    element: etree._Element, assertion_id: str, sts_cert: x509.Certificate
) -> VerifiedAssertion:
    if (element.get("MajorVersion"), element.get("MinorVersion")) != ("1", "1"):
        raise _bad(f"assertion {assertion_id} is not SAML 1.1 (MajorVersion/MinorVersion)")
    signatures = element.findall(f"{_D}Signature")
    if len(signatures) != 1:
        raise _bad(f"assertion {assertion_id} must carry exactly one ds:Signature")
    public_key = xmldsig.public_key_of(sts_cert, "the STS certificate")
    try:
        checked = xmldsig.verify(signatures[0], public_key, xmldsig.index_ids(element))
    except SecurityError as error:
        if error.fault == "FailedCheck":
            raise _bad(
                f"assertion {assertion_id} is not signed by the trusted STS or was modified "
                f"({error.reason})"
            ) from None
        raise
    if len(checked.covered) != 1 or checked.covered[0] is not element:
        raise _bad(f"the signature of assertion {assertion_id} does not cover the assertion")

    conditions = element.find(f"{_S}Conditions")
    if conditions is None:
        raise _bad(f"assertion {assertion_id} has no saml:Conditions")
    not_before = _parse_instant(conditions.get("NotBefore"), "Conditions/@NotBefore")
    not_on_or_after = _parse_instant(conditions.get("NotOnOrAfter"), "Conditions/@NotOnOrAfter")
    return VerifiedAssertion(
        assertion_id=assertion_id,
        holder_cert=_holder_cert(element, assertion_id),
        not_before=not_before,
        not_on_or_after=not_on_or_after,
        attributes=tuple(
            (
                attribute.get("AttributeName", ""),
                # As signed: a comment inside a value must not shorten or empty it.
                tuple(text_value(v) or "" for v in attribute.findall(f"{_S}AttributeValue")),
            )
            for attribute in element.iterfind(f"{_S}AttributeStatement/{_S}Attribute")
        ),
    )


def _holder_cert(element: etree._Element, assertion_id: str) -> x509.Certificate:
    confirmation = element.find(f"{_S}AuthenticationStatement/{_S}Subject/{_S}SubjectConfirmation")
    if confirmation is None:
        raise _bad(f"assertion {assertion_id} has no AuthenticationStatement SubjectConfirmation")
    methods = [text_value(m) for m in confirmation.findall(f"{_S}ConfirmationMethod")]
    if HOLDER_OF_KEY not in methods:
        raise _bad(f"assertion {assertion_id} is not holder-of-key (ConfirmationMethod {methods})")
    encoded = find_text(confirmation, f"{_D}KeyInfo/{_D}X509Data/{_D}X509Certificate")
    if not encoded:
        raise _bad(f"assertion {assertion_id} has no holder-of-key X509Certificate")
    try:
        return x509.load_der_x509_certificate(base64.b64decode("".join(encoded.split())))
    except (binascii.Error, ValueError):
        raise _bad(f"assertion {assertion_id}: holder-of-key certificate unreadable") from None


def _check_period(verified: VerifiedAssertion, now: datetime) -> None:
    if now.tzinfo is None:
        now = now.replace(tzinfo=UTC)
    if now + CLOCK_SKEW < verified.not_before:
        raise _bad(
            f"assertion {verified.assertion_id} not valid before {_instant(verified.not_before)}"
        )
    if now - CLOCK_SKEW >= verified.not_on_or_after:
        raise _bad(
            f"assertion {verified.assertion_id} expired at {_instant(verified.not_on_or_after)}"
        )


def _parse_instant(value: str | None, where: str) -> datetime:
    if not value:
        raise _bad(f"{where} is missing")
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise _bad(f"{where} {value!r} is not an xsd:dateTime") from None
    if moment.tzinfo is None:
        raise _bad(f"{where} {value!r} has no time zone")
    return moment


def _bad(reason: str) -> SecurityError:
    return SecurityError("InvalidSecurityToken", reason)
