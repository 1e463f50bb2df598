"""WS-Security 1.0 headers: verify requests (X.509 BST or SAML 1.1 HOK) and sign messages.

Fault choice: InvalidSecurity for header shape, algorithms and duplicate ids; FailedCheck when
a signature or digest fails or does not cover the real Body/Timestamp; FailedAuthentication
for a certificate that does not chain to the CA; InvalidSecurityToken for a bad token or
assertion; SecurityTokenUnavailable when the referenced token is missing; MessageExpired for
the Timestamp.
"""

from __future__ import annotations

import base64
import binascii
import copy
import functools
import hashlib
import re
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.serialization import Encoding
from lxml import etree

from simulator.config import ResponseSecurity
from simulator.security import xmldsig
from simulator.security.by_identity import cache_by_identity
from simulator.security.saml import (
    SAML1,
    AssertionCache,
    VerifiedAssertion,
    parse_and_verify_assertion,
)
from simulator.security.xmldsig import DS, WSU, SecurityError, SigningKey
from simulator.soap.namespaces import SOAP11
from simulator.soap.parser import parse_xml

__all__ = [
    "SecurityError",
    "Verdict",
    "add_timestamp",
    "response_profile_for",
    "sign_envelope_saml",
    "sign_envelope_x509",
    "sign_response",
    "verify_request",
]

WSSE = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd"
WSSE11 = "http://docs.oasis-open.org/wss/oasis-wss-wssecurity-secext-1.1.xsd"
X509V3 = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-x509-token-profile-1.0#X509v3"
BASE64_BINARY = (
    "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-soap-message-security-1.0#Base64Binary"
)
SAML11_TOKEN_TYPE = "http://docs.oasis-open.org/wss/oasis-wss-saml-token-profile-1.1#SAMLV1.1"  # noqa: S105
SAML_ASSERTION_ID = (
    "http://docs.oasis-open.org/wss/oasis-wss-saml-token-profile-1.0#SAMLAssertionID"
)
CLOCK_SKEW = timedelta(minutes=5)
DEFAULT_TTL = timedelta(minutes=5)

_WSU_ID = f"{{{WSU}}}Id"
_SECURITY = f"{{{WSSE}}}Security"
_TIMESTAMP = f"{{{WSU}}}Timestamp"
_BST = f"{{{WSSE}}}BinarySecurityToken"
_STR = f"{{{WSSE}}}SecurityTokenReference"


@dataclass(frozen=True)
class Verdict:
    token_type: str  # "x509" | "saml"
    signer_cert: x509.Certificate
    assertion: VerifiedAssertion | None
    signed_ids: tuple[str, ...]
    algorithm: str


# -- verification -----------------------------------------------------------------------------


def verify_request(
    root: etree._Element,
    *,
    ca_cert: x509.Certificate | tuple[x509.Certificate, ...],  # several: any may issue
    sts_cert: x509.Certificate | None,
    now: datetime,
    require: str,
    body_must_be_signed: bool = True,
    cache: AssertionCache | None = None,
) -> Verdict:
    """Verify the wsse:Security header of `root` (a soap:Envelope); raise SecurityError."""
    if require not in ("x509", "saml"):
        raise ValueError(f"require must be 'x509' or 'saml', not {require!r}")
    if now.tzinfo is None:
        now = now.replace(tzinfo=UTC)
    body, security = _parts(root)
    ids = xmldsig.index_ids(root)  # whole envelope: a duplicate anywhere is refused
    timestamp = _timestamp(security, now)
    signature = _only_child(security, f"{{{DS}}}Signature", "ds:Signature")
    reference = _token_reference(signature)

    assertion: VerifiedAssertion | None = None
    if require == "x509":
        signer = _bst_certificate(reference, security, ids)
    else:
        if sts_cert is None:
            raise ValueError("sts_cert is required to verify SAML tokens")
        assertion = _assertion(reference, security, ids, sts_cert, now, cache)
        signer = assertion.holder_cert
    _check_chain(signer, ca_cert, now)

    checked = xmldsig.verify(signature, xmldsig.public_key_of(signer, "the signer"), ids)
    if not any(e is timestamp for e in checked.covered):
        raise SecurityError("FailedCheck", "the signature does not cover this wsu:Timestamp")
    if body_must_be_signed and not any(e is body for e in checked.covered):
        raise SecurityError("FailedCheck", "the signature does not cover the soap:Body")
    return Verdict(
        token_type=require,
        signer_cert=signer,
        assertion=assertion,
        signed_ids=tuple(uri.lstrip("#") for uri in checked.ids),
        algorithm=checked.algorithm,
    )


def _parts(root: etree._Element) -> tuple[etree._Element, etree._Element]:
    if root.tag != f"{{{SOAP11}}}Envelope":
        raise SecurityError("InvalidSecurity", "the message is not a SOAP 1.1 Envelope")
    bodies = root.findall(f"{{{SOAP11}}}Body")
    headers = root.findall(f"{{{SOAP11}}}Header")
    if len(bodies) != 1 or len(headers) > 1:
        raise SecurityError("InvalidSecurity", "the Envelope needs one Body and at most one Header")
    if not headers:
        raise SecurityError("InvalidSecurity", "no soap:Header, hence no wsse:Security header")
    securities = headers[0].findall(_SECURITY)
    if len(securities) != 1:
        raise SecurityError(
            "InvalidSecurity", f"expected one wsse:Security header, found {len(securities)}"
        )
    if securities[0].get(f"{{{SOAP11}}}actor") is not None:
        raise SecurityError("InvalidSecurity", "wsse:Security must not target an actor")
    return bodies[0], securities[0]


def _only_child(parent: etree._Element, tag: str, name: str) -> etree._Element:
    found = parent.findall(tag)
    if not found:
        raise SecurityError("InvalidSecurity", f"wsse:Security has no {name}")
    if len(found) > 1:
        raise SecurityError("InvalidSecurity", f"wsse:Security has {len(found)} {name}")
    return found[0]


def _timestamp(security: etree._Element, now: datetime) -> etree._Element:
    timestamp = _only_child(security, _TIMESTAMP, "wsu:Timestamp")
    created = _instant(timestamp.findtext(f"{{{WSU}}}Created"), "Timestamp/Created")
    expires = _instant(timestamp.findtext(f"{{{WSU}}}Expires"), "Timestamp/Expires")
    if created > now + CLOCK_SKEW:
        raise SecurityError("MessageExpired", f"Timestamp created in the future ({created})")
    if expires <= now - CLOCK_SKEW:
        raise SecurityError("MessageExpired", f"Timestamp expired at {expires}")
    return timestamp


def _instant(text: str | None, where: str) -> datetime:
    if not text:
        raise SecurityError("InvalidSecurity", f"wsu:{where} is missing")
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        raise SecurityError("InvalidSecurity", f"wsu:{where} {text!r} is not a dateTime") from None
    if moment.tzinfo is None:
        raise SecurityError("InvalidSecurity", f"wsu:{where} {text!r} has no time zone")
    return moment


def _token_reference(signature: etree._Element) -> etree._Element:
    found = signature.findall(f"{{{DS}}}KeyInfo/{_STR}")
    if len(found) != 1:
        raise SecurityError(
            "InvalidSecurity", "ds:KeyInfo must hold one wsse:SecurityTokenReference"
        )
    return found[0]


def _bst_certificate(
    reference: etree._Element, security: etree._Element, ids: dict[str, etree._Element]
) -> x509.Certificate:
    direct = reference.findall(f"{{{WSSE}}}Reference")
    if len(direct) != 1:
        raise SecurityError(
            "InvalidSecurityToken", "KeyInfo must directly reference the BinarySecurityToken"
        )
    uri = direct[0].get("URI", "")
    token = ids.get(uri[1:]) if uri.startswith("#") else None
    if token is None or token.tag != _BST or token.getparent() is not security:
        raise SecurityError(
            "SecurityTokenUnavailable", f"{uri!r} is not a BinarySecurityToken of this header"
        )
    if token.get("ValueType") != X509V3:
        raise SecurityError("InvalidSecurityToken", "BinarySecurityToken ValueType is not X509v3")
    if token.get("EncodingType", BASE64_BINARY) != BASE64_BINARY:
        raise SecurityError("InvalidSecurityToken", "BinarySecurityToken is not Base64Binary")
    try:
        return _load_certificate(base64.b64decode("".join((token.text or "").split())))
    except (binascii.Error, ValueError):
        raise SecurityError(
            "InvalidSecurityToken", "BinarySecurityToken is not a DER X.509 certificate"
        ) from None


@functools.lru_cache(maxsize=1024)
def _load_certificate(der: bytes) -> x509.Certificate:
    # Clients resend the same certificate with every call: parse it once.
    return x509.load_der_x509_certificate(der)


def _assertion(
    reference: etree._Element,
    security: etree._Element,
    ids: dict[str, etree._Element],
    sts_cert: x509.Certificate,
    now: datetime,
    cache: AssertionCache | None,
) -> VerifiedAssertion:
    identifiers = reference.findall(f"{{{WSSE}}}KeyIdentifier")
    if len(identifiers) != 1 or identifiers[0].get("ValueType") != SAML_ASSERTION_ID:
        raise SecurityError(
            "InvalidSecurityToken", "KeyInfo must hold a SAMLAssertionID wsse:KeyIdentifier"
        )
    assertion_id = (identifiers[0].text or "").strip()
    element = ids.get(assertion_id)
    if (
        element is None
        or element.tag != f"{{{SAML1}}}Assertion"
        or element.get("AssertionID") != assertion_id
        or element.getparent() is not security
    ):
        raise SecurityError(
            "SecurityTokenUnavailable", f"no saml:Assertion {assertion_id!r} in wsse:Security"
        )
    return parse_and_verify_assertion(element, sts_cert=sts_cert, now=now, cache=cache)


def _check_chain(
    cert: x509.Certificate,
    ca_cert: x509.Certificate | tuple[x509.Certificate, ...],
    now: datetime,
) -> None:
    roots = ca_cert if isinstance(ca_cert, tuple) else (ca_cert,)
    facts = [_chain_facts(cert, root) for root in roots]
    issued = [f for f in facts if f[0]]
    if not issued:
        raise SecurityError(
            "FailedAuthentication",
            f"certificate {_subject_text(cert)!r} is not issued by a trusted CA",
        )
    _, not_before, not_after = issued[0]
    if not not_before <= now <= not_after:
        raise SecurityError(
            "FailedAuthentication",
            f"certificate {_subject_text(cert)!r} is valid "
            f"{cert.not_valid_before_utc} to {cert.not_valid_after_utc}, not at {now}",
        )


def _subject_text(cert: x509.Certificate) -> str:
    try:
        return cert.subject.rfc4514_string()
    except ValueError:  # an undecodable subject must still give its fault, not a crash
        return f"serial {cert.serial_number:x} (unreadable subject)"


@cache_by_identity(maxsize=4096)
def _chain_facts(
    cert: x509.Certificate, ca_cert: x509.Certificate
) -> tuple[bool, datetime, datetime]:
    """(issued by ca_cert, not before, not after): fixed facts of a certificate, read once.

    The CA signature never changes, and each validity property builds a new datetime.
    """
    try:
        cert.verify_directly_issued_by(ca_cert)
        issued = True
    except (ValueError, TypeError, InvalidSignature):
        issued = False
    return issued, cert.not_valid_before_utc, cert.not_valid_after_utc


# -- signing ----------------------------------------------------------------------------------


def sign_envelope_x509(
    envelope: etree._Element,
    key: SigningKey,
    cert: x509.Certificate,
    *,
    now: datetime,
    ttl: timedelta = DEFAULT_TTL,
) -> None:
    """Add wsse:Security with Timestamp, BinarySecurityToken and a Signature over Body,
    Timestamp and BST (the X.509 token profile used towards the STS).

    Every answer is signed this way, so the header is written from a per-certificate text
    template (`_X509Header`): only the ids, instants, two digests and the value change per
    message, and their canonical forms are filled in as text instead of built and
    canonicalised element by element.
    """
    header = _header_for_security(envelope)
    body_id = _body_id(envelope)
    body = envelope.find(f"{{{SOAP11}}}Body")
    assert body is not None
    method = xmldsig.method_for(key)
    template = _x509_header(cert, envelope.prefix, method)
    values = {
        "ts-id": f"TS-{uuid.uuid4().hex}",
        "created": _xsd_instant(now),
        "expires": _xsd_instant(now + ttl),
        "body-id": _attribute_text(body_id),
    }
    values["ts-digest"] = _digest(template.timestamp_c14n.fill(values).encode())
    values["body-digest"] = _digest(xmldsig.c14n(body))
    signed_info = template.signed_info_c14n.fill(values).encode()
    values["signature-value"] = _b64(xmldsig.sign_bytes(key, method, signed_info))
    header.append(parse_xml(template.security.fill(values).encode()))


def sign_envelope_saml(
    envelope: etree._Element,
    assertion: etree._Element,
    key: SigningKey,
    *,
    now: datetime,
    ttl: timedelta = DEFAULT_TTL,
    sign_body: bool = True,
) -> None:
    """Add wsse:Security with Timestamp, the assertion (unchanged) and a holder-of-key
    Signature over Body and Timestamp, referencing the assertion by its AssertionID.

    `sign_body=False` signs the Timestamp only, as the connector's GenAsync handler does."""
    security, timestamp, body_id = _new_security(envelope, now, ttl)
    security.append(_copy(assertion))
    key_info, reference = _key_info()
    reference.set(f"{{{WSSE11}}}TokenType", SAML11_TOKEN_TYPE)
    etree.SubElement(
        reference, f"{{{WSSE}}}KeyIdentifier", ValueType=SAML_ASSERTION_ID
    ).text = assertion.get("AssertionID")
    body = envelope.find(f"{{{SOAP11}}}Body")
    assert body is not None
    signed = [(body_id, body)] if sign_body else []
    signed.append((timestamp.get(_WSU_ID, ""), timestamp))
    xmldsig.sign(security, key, signed, key_info=key_info)


def sign_response(
    root: etree._Element,
    key: SigningKey,
    cert: x509.Certificate,
    *,
    now: datetime,
    ttl: timedelta,
    profile: ResponseSecurity = ResponseSecurity.FULL,
) -> None:
    """Secure an answer for the client's reader. FULL: signed the way clients check it
    (`verify_request(require="x509")`); TIMESTAMP_ONLY: a wsse:Security holding nothing but
    a fresh wsu:Timestamp, what eHI's library-core can read."""
    if profile is ResponseSecurity.TIMESTAMP_ONLY:
        add_timestamp(root, now=now, ttl=ttl)
        return
    sign_envelope_x509(root, key, cert, now=now, ttl=ttl)


def add_timestamp(envelope: etree._Element, *, now: datetime, ttl: timedelta) -> None:
    """wsse:Security with a wsu:Timestamp and nothing else."""
    _new_security(envelope, now, ttl)


# eHI's library-core (`Helper/WSS.cs ApplyOnRequest`) names its Timestamp "uuid-" + a bare
# GUID and writes Created as yyyy-MM-ddTHH:mm:ssK, without fraction. WCF (eHI's older stack)
# suffixes its ids ("uuid-<guid>-1", "_0") and Java stacks write milliseconds: this pair
# marks library-core alone.
_LIBRARY_CORE_TS_ID = re.compile(
    r"uuid-[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"
)
_SECONDS_UTC = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ")


def response_profile_for(
    request: etree._Element | None, configured: ResponseSecurity
) -> ResponseSecurity:
    """The answer's profile: the configured one, except that a request made by eHI's
    library-core gets TIMESTAMP_ONLY, since `WSS.VerifyResponse` throws NotSupportedException
    for any other child of the answer's wsse:Security. Its integration tests pass against
    eHealth, so the real answers it reads carry no more than a Timestamp."""
    if configured is ResponseSecurity.TIMESTAMP_ONLY or request is None:
        return configured
    # iterchildren filters in C; find() parses its path in Python (every answer asks).
    header = next(request.iterchildren(f"{{{SOAP11}}}Header"), None)
    security = next(header.iterchildren(_SECURITY), None) if header is not None else None
    timestamp = next(security.iterchildren(_TIMESTAMP), None) if security is not None else None
    if timestamp is None:
        return configured
    created_element = next(timestamp.iterchildren(f"{{{WSU}}}Created"), None)
    created = (created_element.text if created_element is not None else None) or ""
    if _LIBRARY_CORE_TS_ID.fullmatch(timestamp.get(_WSU_ID, "")) and _SECONDS_UTC.fullmatch(
        created.strip()
    ):
        return ResponseSecurity.TIMESTAMP_ONLY
    return configured


def _header_for_security(envelope: etree._Element) -> etree._Element:
    """The envelope's soap:Header (created if absent), which must not hold wsse:Security."""
    if envelope.tag != f"{{{SOAP11}}}Envelope":
        raise ValueError(f"expected a SOAP 1.1 Envelope, got {envelope.tag}")
    header = envelope.find(f"{{{SOAP11}}}Header")
    if header is None:
        header = etree.Element(f"{{{SOAP11}}}Header", nsmap={envelope.prefix: SOAP11})
        envelope.insert(0, header)
    elif header.find(_SECURITY) is not None:
        raise ValueError("the envelope is already signed (it has a wsse:Security header)")
    return header


def _new_security(
    envelope: etree._Element, now: datetime, ttl: timedelta
) -> tuple[etree._Element, etree._Element, str]:
    header = _header_for_security(envelope)
    security = etree.SubElement(
        header,
        _SECURITY,
        {f"{{{SOAP11}}}mustUnderstand": "1"},
        nsmap={"wsse": WSSE, "wsu": WSU},
    )
    timestamp = _copy(_timestamp_template())
    security.append(timestamp)
    timestamp.set(_WSU_ID, f"TS-{uuid.uuid4().hex}")
    timestamp[0].text = _xsd_instant(now)  # Created
    timestamp[1].text = _xsd_instant(now + ttl)  # Expires
    return security, timestamp, _body_id(envelope)


# Templates: the parts every signed message repeats, built once and deep-copied per message
# (copying is several times cheaper than creating namespaced elements one by one, and the
# appended copy serializes exactly like a fresh build). Never handed out uncopied.


@functools.lru_cache(maxsize=1)
def _timestamp_template() -> etree._Element:
    security = etree.Element(_SECURITY, nsmap={"wsse": WSSE, "wsu": WSU})
    timestamp = etree.SubElement(security, _TIMESTAMP, {_WSU_ID: ""})
    etree.SubElement(timestamp, f"{{{WSU}}}Created")
    etree.SubElement(timestamp, f"{{{WSU}}}Expires")
    return timestamp


@functools.lru_cache(maxsize=64)
def _token_template(cert: x509.Certificate) -> etree._Element:
    security = etree.Element(_SECURITY, nsmap={"wsse": WSSE, "wsu": WSU})
    token = etree.SubElement(
        security, _BST, {"EncodingType": BASE64_BINARY, "ValueType": X509V3, _WSU_ID: ""}
    )
    token.text = base64.b64encode(cert.public_bytes(Encoding.DER)).decode("ascii")
    return token


@functools.lru_cache(maxsize=1)
def _x509_key_info_template() -> etree._Element:
    key_info, reference = _key_info()
    etree.SubElement(reference, f"{{{WSSE}}}Reference", URI="", ValueType=X509V3)
    return key_info


class _Holes:
    """Text with named holes written `@name@`: split once, filled by joining."""

    def __init__(self, text: str, names: tuple[str, ...]) -> None:
        pieces = re.split("@(" + "|".join(map(re.escape, names)) + ")@", text)
        self._texts, self._names = pieces[0::2], pieces[1::2]

    def fill(self, values: dict[str, str]) -> str:
        parts = [self._texts[0]]
        for name, text in zip(self._names, self._texts[1:], strict=True):
            parts += (values[name], text)
        return "".join(parts)


_HOLES = ("ts-id", "created", "expires", "body-id", "body-digest", "ts-digest", "signature-value")


@dataclass(frozen=True)
class _X509Header:
    """The X.509-token wsse:Security header of one certificate as text with holes.

    `security` is the header as it goes in the envelope; `timestamp_c14n` and
    `signed_info_c14n` are the exclusive c14n of its Timestamp and SignedInfo, taken by lxml
    from the template tree, so the filled-in texts are exactly what a verifier canonicalises.
    The BinarySecurityToken never changes: its id is derived from the certificate and its
    digest is baked in.
    """

    security: _Holes
    timestamp_c14n: _Holes
    signed_info_c14n: _Holes


@cache_by_identity(maxsize=64)
def _x509_headers(cert: x509.Certificate) -> dict[tuple[str | None, str], _X509Header]:
    return {}  # (soap prefix, signature method) -> template, filled by _x509_header


def _x509_header(cert: x509.Certificate, soap_prefix: str | None, method: str) -> _X509Header:
    templates = _x509_headers(cert)
    template = templates.get((soap_prefix, method))
    if template is None:
        template = templates[soap_prefix, method] = _build_x509_header(cert, soap_prefix, method)
    return template


def _build_x509_header(cert: x509.Certificate, soap_prefix: str | None, method: str) -> _X509Header:
    # Built the element-by-element way, with `@name@` placeholders, inside an envelope of the
    # same prefix so that the header's namespace context is the one it will sit in.
    nsmap: dict[Any, str] = {soap_prefix: SOAP11}  # None = default namespace
    envelope = etree.Element(f"{{{SOAP11}}}Envelope", nsmap=nsmap)
    header = etree.SubElement(envelope, f"{{{SOAP11}}}Header")
    security = etree.SubElement(
        header, _SECURITY, {f"{{{SOAP11}}}mustUnderstand": "1"}, nsmap={"wsse": WSSE, "wsu": WSU}
    )
    timestamp = _copy(_timestamp_template())
    security.append(timestamp)
    timestamp.set(_WSU_ID, "@ts-id@")
    timestamp[0].text, timestamp[1].text = "@created@", "@expires@"
    token_id = f"X509-{hashlib.sha256(cert.public_bytes(Encoding.DER)).hexdigest()[:32]}"
    token = _copy(_token_template(cert))
    security.append(token)
    token.set(_WSU_ID, token_id)
    references = [
        ("@body-id@", "@body-digest@"),
        ("@ts-id@", "@ts-digest@"),
        (token_id, _digest(xmldsig.c14n(token))),
    ]
    signature = xmldsig.filled_signature(method, references, "@signature-value@")
    security.append(signature)
    key_info = _copy(_x509_key_info_template())
    key_info[0][0].set("URI", f"#{token_id}")  # KeyInfo/SecurityTokenReference/Reference
    signature.append(key_info)
    return _X509Header(
        security=_Holes(etree.tostring(security, encoding="unicode"), _HOLES),
        timestamp_c14n=_Holes(xmldsig.c14n(timestamp).decode(), _HOLES),
        signed_info_c14n=_Holes(xmldsig.c14n(signature[0]).decode(), _HOLES),
    )


# What exclusive c14n writes for these characters in an attribute value; the other escapes
# are valid in the envelope text too, so one form serves both.
_C14N_ATTRIBUTE = str.maketrans(
    {"&": "&amp;", "<": "&lt;", '"': "&quot;", "\t": "&#x9;", "\n": "&#xA;", "\r": "&#xD;"}
)


def _attribute_text(value: str) -> str:
    return value.translate(_C14N_ATTRIBUTE)


def _digest(data: bytes) -> str:
    return _b64(hashlib.sha256(data).digest())


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _body_id(envelope: etree._Element) -> str:
    body = envelope.find(f"{{{SOAP11}}}Body")
    if body is None:
        raise ValueError("the envelope has no soap:Body")
    existing = body.get(_WSU_ID)
    if existing:
        return existing
    body_id = f"id-{uuid.uuid4().hex}"
    if body.nsmap.get("wsu") != WSU:
        # lxml cannot add a declaration to an element, and would invent "ns0": rebuild the
        # Body with xmlns:wsu like WSS4J writes it.
        nsmap: dict[Any, str] = {body.prefix: SOAP11, "wsu": WSU}  # None = default ns
        fresh = etree.Element(body.tag, nsmap=nsmap)
        for name, value in body.attrib.items():
            fresh.set(name, value)
        fresh.text, fresh.tail = body.text, body.tail
        fresh.extend(list(body))
        envelope.replace(body, fresh)
        body = fresh
    body.set(_WSU_ID, body_id)
    return body_id


def _key_info() -> tuple[etree._Element, etree._Element]:
    key_info = etree.Element(f"{{{DS}}}KeyInfo", nsmap={"ds": DS})
    reference = etree.SubElement(key_info, _STR, nsmap={"wsse11": WSSE11})
    return key_info, reference


def _copy(element: etree._Element) -> etree._Element:
    # deepcopy keeps the prefixes the STS chose (exc-c14n output depends on them), so the
    # enveloped signature still verifies inside our header.
    return copy.deepcopy(element)


def _xsd_instant(moment: datetime) -> str:
    """2026-03-04T10:11:12.345Z (UTC, milliseconds)."""
    moment = moment.astimezone(UTC) if moment.tzinfo else moment.replace(tzinfo=UTC)
    # isoformat is several times cheaper than strftime; in UTC it always ends in +00:00.
    return moment.isoformat(timespec="milliseconds").removesuffix("+00:00") + "Z"
