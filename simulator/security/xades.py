"""XAdES over MyCareNet blobs (wire-formats 1.8): detached XAdES-BES/-T, eAttest's enveloped form.

A MyCareNet signature never covers the XML of a `Detail` but the bytes it carries: the reference
`#<Detail@Id>` decodes the base64 text, inflates it when `ContentEncoding="deflate"` (the
non-standard `urn:nippin:xml:sig:transform:optional-deflate`) and canonicalises it when
`ContentType="text/xml"`. Verification derives that transform chain from the Detail's own
attributes and refuses any other, so a signer cannot pick what the digest means.

XML-DSig mechanics (exc-c14n, allow-listed methods, sign/verify of SignedInfo) come from
`xmldsig`; this module adds the XAdES qualifying properties and the RFC 3161 token of XAdES-T,
encoded with a small DER writer because `cryptography` cannot sign a TSTInfo content type.
"""

from __future__ import annotations

import base64
import binascii
import copy
import hashlib
import hmac
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from lxml import etree

from simulator.codecs.blob import BlobError, decode_blob
from simulator.codecs.mycarenet_commons import MAX_ANSWER_BYTES
from simulator.security import xmldsig
from simulator.security.pki import Identity, chains_to
from simulator.security.xmldsig import DS, EXC_C14N, SHA256, SecurityError, SigningKey
from simulator.soap.parser import XmlRejected, parse_xml

XADES = "http://uri.etsi.org/01903/v1.3.2#"
SIGNED_PROPERTIES_TYPE = "http://uri.etsi.org/01903#SignedProperties"
BASE64 = "http://www.w3.org/2000/09/xmldsig#base64"
OPTIONAL_DEFLATE = "urn:nippin:xml:sig:transform:optional-deflate"
ENVELOPED = "http://www.w3.org/2000/09/xmldsig#enveloped-signature"
ENCRYPTED = "urn:be:cin:encrypted"

# A signed blob may inflate to at most this much: the insurer's answers, which MyCareNet signs
# (XAdES-T) and which outgrow any post (codecs/mycarenet_commons.py). A posted blob is held to
# the smaller post limit by its codec before its signature is looked at.
MAX_CONTENT = MAX_ANSWER_BYTES

_NS = {"ds": DS, "xades": XADES}
_DER = Encoding.DER


class XadesError(ValueError):
    """A XAdES signature is malformed, does not match, or its signer is not trusted."""


# -- transforms -------------------------------------------------------------------------------


def blob_transforms(
    content_type: str | None, content_encoding: str | None, content_encryption: str | None = None
) -> list[str]:
    """The transform chain the connector uses for a blob with these attributes (1.8).

    A sealed blob (ContentEncryption set) holds a CMS, not XML, whatever its ContentType
    says (async MemberData keeps text/xml): it gets no exc-c14n [I]."""
    chain = [BASE64]
    if (content_encoding or "none").strip().lower() == "deflate":
        chain.append(OPTIONAL_DEFLATE)
    if (content_type or "").strip().lower() == "text/xml" and not content_encryption:
        chain.append(EXC_C14N)
    return chain


def _text_of(element: etree._Element, what: str) -> str:
    # The base64 transform reads the string value of the node-set; a Detail holds text only.
    if any(isinstance(child.tag, str) for child in element):
        raise XadesError(f"{what} must hold base64 text only, not child elements")
    return "".join(str(text) for text in element.itertext())


def apply_transforms(
    element: etree._Element,
    transforms: Sequence[str],
    what: str,
    signature: etree._Element | None = None,
) -> bytes:
    """The octets a Reference over `element` digests, after the allowed `transforms`.

    A leading enveloped-signature transform takes `signature` (the ds:Signature holding the
    Reference) out of the element first, as XMLDSig 6.6.4 defines it."""
    if transforms and transforms[0] == ENVELOPED:
        element = _without(element, signature)
        transforms = transforms[1:]
    if not transforms or transforms[0] != BASE64:
        raise XadesError(f"Reference to {what} must start with the base64 transform")
    data = _b64decode(_text_of(element, what), what)
    for algorithm in transforms[1:]:
        if algorithm == OPTIONAL_DEFLATE:
            data = _optional_inflate(data, what)
        elif algorithm == EXC_C14N:
            data = _c14n_octets(data, what)
        else:
            raise XadesError(f"transform {algorithm!r} in Reference to {what} is not allowed")
    return data


def _without(element: etree._Element, signature: etree._Element | None) -> etree._Element:
    """`element` minus `signature` and its subtree (the text around it stays)."""
    nodes = list(element.iter())
    index = next((i for i, node in enumerate(nodes) if node is signature), None)
    if index is None:  # the usual case: the signature lies outside what it signs
        return element
    if index == 0:
        raise XadesError("an enveloped-signature Reference may not point at the signature")
    copied = copy.deepcopy(element)
    removed = list(copied.iter())[index]
    parent = removed.getparent()
    assert parent is not None  # index > 0: a descendant
    previous = removed.getprevious()
    if removed.tail:
        if previous is not None:
            previous.tail = (previous.tail or "") + removed.tail
        else:
            parent.text = (parent.text or "") + removed.tail
    parent.remove(removed)
    return copied


def _optional_inflate(data: bytes, what: str) -> bytes:
    # "optional": bytes that are not a deflate stream pass through unchanged (connector rule).
    # Re-encoding to base64 costs little and keeps one capped inflater (the blob codec's).
    try:
        return decode_blob(base64.b64encode(data), "deflate", max_size=MAX_CONTENT)
    except BlobError as error:
        if "limit" in str(error):
            raise XadesError(f"{what}: {error}") from None
        return data


def _c14n_octets(data: bytes, what: str) -> bytes:
    try:
        root = parse_xml(data)
    except XmlRejected as error:
        raise XadesError(f"{what} content is not XML for the exc-c14n transform: {error}") from None
    return etree.tostring(root.getroottree(), method="c14n", exclusive=True, with_comments=False)


# -- signing ----------------------------------------------------------------------------------


def sign_blob(
    detail: etree._Element,
    *,
    key: SigningKey,
    cert: x509.Certificate,
    signing_time: datetime,
    with_timestamp: bool = False,
    tsa: Identity | None = None,
    content_sha256: bytes | None = None,
) -> bytes:
    """Detached XAdES-BES (XAdES-T with `with_timestamp`) over a Detail/Blob, serialized.

    Callers base64 the result into `Xades` / `Xades-t`. XAdES-T needs `tsa`, the simulated
    time-stamping authority (see `issue_tsa`). `content_sha256`: the SHA-256 of the content,
    taken by a caller who wrote it (a large eFact answer), for a chain that ends on the
    content (no exc-c14n): the Detail is then not decoded and inflated again to digest it.
    """
    blob_id = detail.get("Id")
    if not blob_id:
        raise XadesError(f"<{etree.QName(detail).localname}> has no Id attribute to reference")
    if with_timestamp and tsa is None:
        raise XadesError("XAdES-T needs a time-stamping authority (tsa)")
    transforms = blob_transforms(
        detail.get("ContentType"), detail.get("ContentEncoding"), detail.get("ContentEncryption")
    )
    if content_sha256 is None or EXC_C14N in transforms:
        data = apply_transforms(detail, transforms, f"Detail {blob_id!r}")
        content_sha256 = hashlib.sha256(data).digest()
    signature = _build(key, cert, signing_time, blob_id, transforms, content_sha256)
    if with_timestamp and tsa is not None:
        _add_timestamp(signature, tsa, signing_time)
    return etree.tostring(signature)


def sign_enveloped(
    document: etree._Element, *, key: SigningKey, cert: x509.Certificate, signing_time: datetime
) -> None:
    """Sign an EncryptedKnownContent the eAttest way: XAdES over BusinessContent, kept inside.

    The connector references `#<BusinessContent@id>` with base64 then exc-c14n (the content is
    KMEHR) and stores base64(ds:Signature) in the document's `Xades` element.
    """
    if document.tag != f"{{{ENCRYPTED}}}EncryptedKnownContent":
        raise XadesError(f"expected {{{ENCRYPTED}}}EncryptedKnownContent, got {document.tag}")
    if document.find(f"{{{ENCRYPTED}}}Xades") is not None:
        raise XadesError("EncryptedKnownContent already holds a Xades signature")
    content = _business_content(document)
    content_id = content.get("id", "")
    transforms = _enveloped_transforms(content)
    data = apply_transforms(content, transforms, f"BusinessContent {content_id!r}")
    signature = _build(
        key, cert, signing_time, content_id, transforms, hashlib.sha256(data).digest()
    )
    xades = etree.Element(f"{{{ENCRYPTED}}}Xades")
    xades.text = base64.b64encode(etree.tostring(signature)).decode("ascii")
    content.addnext(xades)


def _business_content(document: etree._Element) -> etree._Element:
    found = document.findall(f"{{{ENCRYPTED}}}BusinessContent")
    if len(found) != 1:
        raise XadesError(f"EncryptedKnownContent needs one BusinessContent, found {len(found)}")
    if not found[0].get("id"):
        raise XadesError("BusinessContent has no id attribute to reference")
    return found[0]


def _enveloped_transforms(content: etree._Element) -> list[str]:
    # eAttest business content is always KMEHR XML, whatever ContentType says (connector).
    return blob_transforms("text/xml", content.get("ContentEncoding"))


def _build(
    key: SigningKey,
    cert: x509.Certificate,
    signing_time: datetime,
    target_id: str,
    transforms: Sequence[str],
    digest: bytes,
) -> etree._Element:
    token = uuid.uuid4().hex
    signature_id, properties_id = f"xmldsig-{token}", f"xades-{token}"
    method = xmldsig.RSA_SHA256 if isinstance(key, rsa.RSAPrivateKey) else xmldsig.ECDSA_SHA256

    signature = etree.Element(f"{{{DS}}}Signature", nsmap={"ds": DS}, Id=signature_id)
    signed_info = etree.SubElement(signature, f"{{{DS}}}SignedInfo")
    etree.SubElement(signed_info, f"{{{DS}}}CanonicalizationMethod", Algorithm=EXC_C14N)
    etree.SubElement(signed_info, f"{{{DS}}}SignatureMethod", Algorithm=method)
    _reference(signed_info, f"#{target_id}", transforms, digest)
    value = etree.SubElement(signature, f"{{{DS}}}SignatureValue", Id=f"value-{token}")
    signature.append(xmldsig.x509_key_info(cert.public_bytes(_DER)))

    obj = etree.SubElement(signature, f"{{{DS}}}Object")
    qualifying = etree.SubElement(
        obj, f"{{{XADES}}}QualifyingProperties", nsmap={"xades": XADES}, Target=f"#{signature_id}"
    )
    properties = etree.SubElement(qualifying, f"{{{XADES}}}SignedProperties", Id=properties_id)
    ssp = etree.SubElement(properties, f"{{{XADES}}}SignedSignatureProperties")
    etree.SubElement(ssp, f"{{{XADES}}}SigningTime").text = _xml_time(signing_time)
    cert_id = etree.SubElement(
        etree.SubElement(ssp, f"{{{XADES}}}SigningCertificate"), f"{{{XADES}}}Cert"
    )
    cert_digest = etree.SubElement(cert_id, f"{{{XADES}}}CertDigest")
    etree.SubElement(cert_digest, f"{{{DS}}}DigestMethod", Algorithm=SHA256)
    etree.SubElement(cert_digest, f"{{{DS}}}DigestValue").text = _b64(
        hashlib.sha256(cert.public_bytes(_DER)).digest()
    )
    issuer_serial = etree.SubElement(cert_id, f"{{{XADES}}}IssuerSerial")
    etree.SubElement(issuer_serial, f"{{{DS}}}X509IssuerName").text = cert.issuer.rfc4514_string()
    etree.SubElement(issuer_serial, f"{{{DS}}}X509SerialNumber").text = str(cert.serial_number)

    properties_digest = hashlib.sha256(xmldsig.c14n(properties)).digest()
    reference = _reference(signed_info, f"#{properties_id}", [EXC_C14N], properties_digest)
    reference.set("Type", SIGNED_PROPERTIES_TYPE)
    # Calling a private helper of xmldsig on purpose: one implementation of the raw signature.
    value.text = _b64(xmldsig.sign_bytes(key, method, xmldsig.c14n(signed_info)))
    return signature


def _reference(
    signed_info: etree._Element, uri: str, transforms: Sequence[str], digest: bytes
) -> etree._Element:
    reference = etree.SubElement(signed_info, f"{{{DS}}}Reference", URI=uri)
    chain = etree.SubElement(reference, f"{{{DS}}}Transforms")
    for algorithm in transforms:
        etree.SubElement(chain, f"{{{DS}}}Transform", Algorithm=algorithm)
    etree.SubElement(reference, f"{{{DS}}}DigestMethod", Algorithm=SHA256)
    etree.SubElement(reference, f"{{{DS}}}DigestValue").text = _b64(digest)
    return reference


def _add_timestamp(signature: etree._Element, tsa: Identity, at: datetime) -> None:
    qualifying = signature.find("ds:Object/xades:QualifyingProperties", _NS)
    value = signature.find("ds:SignatureValue", _NS)
    assert qualifying is not None and value is not None  # built just above by _build
    unsigned = etree.SubElement(
        etree.SubElement(qualifying, f"{{{XADES}}}UnsignedProperties"),
        f"{{{XADES}}}UnsignedSignatureProperties",
    )
    stamp = etree.SubElement(
        unsigned, f"{{{XADES}}}SignatureTimeStamp", Id=f"ts-{uuid.uuid4().hex}"
    )
    etree.SubElement(stamp, f"{{{DS}}}CanonicalizationMethod", Algorithm=EXC_C14N)
    token = timestamp_token(hashlib.sha256(xmldsig.c14n(value)).digest(), tsa, at)
    etree.SubElement(stamp, f"{{{XADES}}}EncapsulatedTimeStamp").text = _b64(token)


# -- verification -----------------------------------------------------------------------------


def verify_blob(
    xades: bytes, detail: etree._Element, *, ca_cert: x509.Certificate, now: datetime
) -> x509.Certificate:
    """Check a detached XAdES over `detail`; return the signer's certificate.

    Checks: the Detail reference by its own Id with exactly the transforms its attributes
    imply, the SignedProperties reference, the signature value, SigningCertificate == the
    KeyInfo certificate, the chain to `ca_cert` at `now`, and a SignatureTimeStamp if present.
    """
    try:
        signature = parse_xml(xades)
    except XmlRejected as error:
        raise XadesError(f"XAdES is not XML: {error}") from None
    blob_id = detail.get("Id")
    if not blob_id:
        raise XadesError("the Detail has no Id attribute, so no signature can reference it")
    expected = blob_transforms(
        detail.get("ContentType"), detail.get("ContentEncoding"), detail.get("ContentEncryption")
    )
    return _verify(signature, detail, blob_id, [expected], f"Detail {blob_id!r}", ca_cert, now)


def verify_enveloped(
    document: etree._Element, *, ca_cert: x509.Certificate, now: datetime
) -> x509.Certificate:
    """Check the `Xades` of an EncryptedKnownContent (see `sign_enveloped`); return the signer."""
    if document.tag != f"{{{ENCRYPTED}}}EncryptedKnownContent":
        raise XadesError(f"expected {{{ENCRYPTED}}}EncryptedKnownContent, got {document.tag}")
    found = document.findall(f"{{{ENCRYPTED}}}Xades")
    if len(found) != 1:
        raise XadesError(f"EncryptedKnownContent needs one Xades element, found {len(found)}")
    content = _business_content(document)
    raw = _b64decode(_text_of(found[0], "Xades"), "Xades")
    try:
        signature = parse_xml(raw)
    except XmlRejected as error:
        raise XadesError(f"Xades does not hold XML: {error}") from None
    content_id = content.get("id", "")
    chain = _enveloped_transforms(content)
    # CONN writes [base64, exc-c14n]; FHC/IFHC sign through Santuario's XmlSignatureBuilder
    # with encapsulate=true, which puts enveloped-signature first (client-quirks #9).
    expected = [chain, [ENVELOPED, *chain]]
    what = f"BusinessContent {content_id!r}"
    return _verify(signature, content, content_id, expected, what, ca_cert, now)


def _verify(
    signature: etree._Element,
    target: etree._Element,
    target_id: str,
    chains: list[list[str]],
    what: str,
    ca_cert: x509.Certificate,
    now: datetime,
) -> x509.Certificate:
    if signature.tag != f"{{{DS}}}Signature":
        raise XadesError(f"expected ds:Signature, got <{signature.tag}>")
    signed_info, value, key_info, obj = _signature_parts(signature)
    try:
        ids = xmldsig.index_ids(signature)
    except SecurityError as error:
        raise XadesError(error.reason) from None
    if target_id in ids:
        raise XadesError(f"id {target_id!r} of the {what} is reused inside the signature")
    properties = _signed_properties(signature, obj, ids)

    references = _children(signed_info)[2:]
    if len(references) != 2:
        raise XadesError(
            f"ds:SignedInfo must hold 2 References (data, properties), not {len(references)}"
        )
    # Signers differ in the order of the two; the Type attribute tells them apart.
    typed = [r for r in references if r.get("Type") == SIGNED_PROPERTIES_TYPE]
    if len(typed) != 1:
        raise XadesError(f"exactly one Reference must have Type={SIGNED_PROPERTIES_TYPE!r}")
    data_reference = references[1] if references[0] is typed[0] else references[0]
    _check_reference(data_reference, f"#{target_id}", chains, what, target, signature)
    _check_reference(
        typed[0], f"#{properties.get('Id')}", [[EXC_C14N]], "SignedProperties", properties
    )

    cert = _signing_certificate(key_info, properties)
    method = _children(signed_info)[1].get("Algorithm", "")
    try:
        xmldsig.verify_bytes(
            xmldsig.public_key_of(cert, "the XAdES signer"),
            method,
            _b64decode(value.text, "SignatureValue"),
            xmldsig.c14n(signed_info),
        )
    except SecurityError as error:
        raise XadesError(error.reason) from None
    if not chains_to(cert, ca_cert, now):
        raise XadesError(
            f"signer {cert.subject.rfc4514_string()} is not issued by the trusted CA "
            f"{ca_cert.subject.rfc4514_string()} or not valid at {now.isoformat()}"
        )
    _check_timestamps(obj, value, ca_cert, now)
    return cert


def _signature_parts(
    signature: etree._Element,
) -> tuple[etree._Element, etree._Element, etree._Element, etree._Element]:
    parts = _children(signature)
    names = [etree.QName(p).localname if p.tag.startswith(f"{{{DS}}}") else p.tag for p in parts]
    if names != ["SignedInfo", "SignatureValue", "KeyInfo", "Object"]:
        raise XadesError(
            "ds:Signature must hold SignedInfo, SignatureValue, KeyInfo, Object; found "
            + ", ".join(names)
        )
    signed_info = parts[0]
    head = _children(signed_info)[:2]
    if len(head) != 2 or [h.tag for h in head] != [
        f"{{{DS}}}CanonicalizationMethod",
        f"{{{DS}}}SignatureMethod",
    ]:
        raise XadesError("ds:SignedInfo must start with CanonicalizationMethod, SignatureMethod")
    if head[0].get("Algorithm") != EXC_C14N or len(head[0]):
        raise XadesError(f"CanonicalizationMethod must be {EXC_C14N} without parameters")
    if head[1].get("Algorithm") not in (xmldsig.RSA_SHA256, xmldsig.ECDSA_SHA256):
        raise XadesError(f"signature method {head[1].get('Algorithm')!r} is not allowed")
    return parts[0], parts[1], parts[2], parts[3]


def _signed_properties(
    signature: etree._Element, obj: etree._Element, ids: dict[str, etree._Element]
) -> etree._Element:
    qualifying = _children(obj)
    if len(qualifying) != 1 or qualifying[0].tag != f"{{{XADES}}}QualifyingProperties":
        raise XadesError("ds:Object must hold exactly one xades:QualifyingProperties (1.3.2)")
    if qualifying[0].get("Target") != f"#{signature.get('Id')}" or not signature.get("Id"):
        raise XadesError("QualifyingProperties/@Target must name this ds:Signature's Id")
    properties = qualifying[0].find("xades:SignedProperties", _NS)
    if properties is None or not properties.get("Id"):
        raise XadesError("xades:SignedProperties with an Id is missing")
    if ids.get(properties.get("Id", "")) is not properties:  # pragma: no cover - index_ids
        raise XadesError("SignedProperties Id does not resolve to itself")
    return properties


def _check_reference(
    reference: etree._Element,
    uri: str,
    chains: list[list[str]],
    what: str,
    target: etree._Element,
    signature: etree._Element | None = None,
) -> None:
    """The Reference names `uri` with one of the allowed transform `chains`, and its digest
    is that of `target` after exactly those transforms."""
    if reference.tag != f"{{{DS}}}Reference":
        raise XadesError(f"expected ds:Reference, got <{reference.tag}>")
    if reference.get("URI") != uri:
        raise XadesError(f"Reference URI {reference.get('URI')!r} must be {uri!r} ({what})")
    parts = _children(reference)
    if [p.tag for p in parts] != [
        f"{{{DS}}}Transforms",
        f"{{{DS}}}DigestMethod",
        f"{{{DS}}}DigestValue",
    ]:
        raise XadesError(f"Reference {uri!r} needs Transforms, DigestMethod, DigestValue")
    found: list[str] = []
    for transform in _children(parts[0]):
        if transform.tag != f"{{{DS}}}Transform" or len(transform):
            raise XadesError(f"Reference {uri!r}: only parameterless ds:Transform allowed")
        found.append(transform.get("Algorithm", ""))
    if found not in chains:
        allowed = {t for chain in chains for t in chain}
        odd = [t for t in found if t not in allowed]
        raise XadesError(
            f"Reference {uri!r} ({what}) transforms {found} are not allowed"
            + (f": {odd[0]!r} unexpected" if odd else "")
            + f"; expected {' or '.join(map(str, chains))}"
        )
    transforms = found
    if parts[1].get("Algorithm") != SHA256:
        raise XadesError(
            f"Reference {uri!r}: digest method {parts[1].get('Algorithm')!r} not allowed"
        )
    if transforms[0] in (BASE64, ENVELOPED):
        data = apply_transforms(target, transforms, what, signature)
    else:
        data = xmldsig.c14n(target)
    expected = _b64decode(parts[2].text, f"DigestValue of {uri!r}")
    if not hmac.compare_digest(hashlib.sha256(data).digest(), expected):
        raise XadesError(f"digest of Reference {uri!r} does not match the {what} (tampered?)")


def _signing_certificate(key_info: etree._Element, properties: etree._Element) -> x509.Certificate:
    """The KeyInfo certificate that xades:SigningCertificate names (digest and serial)."""
    cert_id = properties.find(
        "xades:SignedSignatureProperties/xades:SigningCertificate/xades:Cert", _NS
    )
    if cert_id is None:
        raise XadesError("xades:SigningCertificate/Cert is missing")
    method = cert_id.find("xades:CertDigest/ds:DigestMethod", _NS)
    value = cert_id.find("xades:CertDigest/ds:DigestValue", _NS)
    if method is None or value is None or method.get("Algorithm") != SHA256:
        raise XadesError("xades:CertDigest must hold a sha256 DigestMethod and DigestValue")
    expected = _b64decode(value.text, "CertDigest DigestValue")
    found = key_info.findall("ds:X509Data/ds:X509Certificate", _NS)
    if not found:
        raise XadesError("ds:KeyInfo must carry the signer's X509Certificate")
    for element in found:
        der = _b64decode(element.text, "X509Certificate")
        if hmac.compare_digest(hashlib.sha256(der).digest(), expected):
            break
    else:
        raise XadesError("SigningCertificate digest matches no KeyInfo certificate")
    try:
        cert = x509.load_der_x509_certificate(der)
    except ValueError:
        raise XadesError("ds:X509Certificate is not a DER certificate") from None
    serial = cert_id.findtext("xades:IssuerSerial/ds:X509SerialNumber", None, _NS)
    if serial is not None and serial.strip() != str(cert.serial_number):
        raise XadesError("SigningCertificate IssuerSerial does not match its certificate")
    return cert


def _check_timestamps(
    obj: etree._Element, value: etree._Element, ca_cert: x509.Certificate, now: datetime
) -> None:
    stamps = obj.findall(
        "xades:QualifyingProperties/xades:UnsignedProperties/"
        "xades:UnsignedSignatureProperties/xades:SignatureTimeStamp/xades:EncapsulatedTimeStamp",
        _NS,
    )
    imprint = hashlib.sha256(xmldsig.c14n(value)).digest()
    for stamp in stamps:
        token = _b64decode(stamp.text, "EncapsulatedTimeStamp")
        check_timestamp_token(token, imprint, ca_cert=ca_cert, now=now)


# -- RFC 3161 time-stamp tokens (simulated TSA) ------------------------------------------------

_OID_SIGNED_DATA = "1.2.840.113549.1.7.2"
_OID_TST_INFO = "1.2.840.113549.1.9.16.1.4"
_OID_CONTENT_TYPE = "1.2.840.113549.1.9.3"
_OID_MESSAGE_DIGEST = "1.2.840.113549.1.9.4"
_OID_SIGNING_CERT_V2 = "1.2.840.113549.1.9.16.2.47"
_OID_SHA256 = "2.16.840.1.101.3.4.2.1"
_OID_RSA_SHA256 = "1.2.840.113549.1.1.11"
_OID_ECDSA_SHA256 = "1.2.840.10045.4.3.2"
# Our TSA's policy: an arc under the ITU "example" arc, so it never claims a real policy.
TSA_POLICY = "2.999.3161.1"


def issue_tsa(ca: Identity, *, now: datetime, key: SigningKey | None = None) -> Identity:
    """A time-stamping authority certificate under `ca` (critical EKU timeStamping only)."""
    tsa_key = key or rsa.generate_private_key(public_exponent=65537, key_size=2048)
    subject = x509.Name(
        [
            x509.NameAttribute(NameOID.COUNTRY_NAME, "BE"),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "mycarenet-sim (test only)"),
            x509.NameAttribute(NameOID.COMMON_NAME, "mycarenet-sim Test TSA"),
        ]
    )
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(ca.cert.subject)
        .public_key(tsa_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=729))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(True, True, False, False, False, False, False, False, False),
            critical=True,
        )
        # RFC 3161 2.3: the EKU must be critical and hold timeStamping only.
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.TIME_STAMPING]), critical=True)
        .sign(ca.key, hashes.SHA256())
    )
    return Identity(tsa_key, cert, (ca.cert,))


def timestamp_token(imprint: bytes, tsa: Identity, at: datetime) -> bytes:
    """A DER RFC 3161 TimeStampToken (CMS SignedData over a TSTInfo) for a SHA-256 imprint."""
    if len(imprint) != 32:
        raise XadesError(f"a SHA-256 imprint is 32 bytes, got {len(imprint)}")
    tst_info = _seq(
        _int(1),
        _oid(TSA_POLICY),
        _seq(_alg(_OID_SHA256), _octets(imprint)),
        _int(uuid.uuid4().int >> 64),
        _der(0x18, at.astimezone(UTC).strftime("%Y%m%d%H%M%SZ").encode("ascii")),
        _seq(_int(1)),  # accuracy: one second
    )
    tsa_der = tsa.cert.public_bytes(_DER)
    issuer_name = tsa.cert.issuer.public_bytes()
    serial = _int(tsa.cert.serial_number)
    ess_cert_id = _seq(  # hashAlgorithm omitted: sha256 is the DEFAULT
        _octets(hashlib.sha256(tsa_der).digest()),
        _seq(_seq(_der(0xA4, issuer_name)), serial),
    )
    attributes = [
        _seq(_oid(_OID_CONTENT_TYPE), _set([_oid(_OID_TST_INFO)])),
        _seq(_oid(_OID_MESSAGE_DIGEST), _set([_octets(hashlib.sha256(tst_info).digest())])),
        _seq(_oid(_OID_SIGNING_CERT_V2), _set([_seq(_seq(ess_cert_id))])),
    ]
    signed_attrs = _set(attributes)
    if isinstance(tsa.key, rsa.RSAPrivateKey):
        signature = tsa.key.sign(signed_attrs, padding.PKCS1v15(), hashes.SHA256())
        sig_alg = _alg(_OID_RSA_SHA256, null=True)
    else:
        signature = tsa.key.sign(signed_attrs, ec.ECDSA(hashes.SHA256()))
        sig_alg = _alg(_OID_ECDSA_SHA256)
    signer_info = _seq(
        _int(1),
        _seq(issuer_name, serial),
        _alg(_OID_SHA256),
        b"\xa0" + signed_attrs[1:],  # [0] IMPLICIT: same content, context tag
        sig_alg,
        _octets(signature),
    )
    signed_data = _seq(
        _int(3),
        _set([_alg(_OID_SHA256)]),
        _seq(_oid(_OID_TST_INFO), _der(0xA0, _octets(tst_info))),
        _der(0xA0, tsa_der),
        _set([signer_info]),
    )
    return _seq(_oid(_OID_SIGNED_DATA), _der(0xA0, signed_data))


def check_timestamp_token(
    token: bytes, imprint: bytes, *, ca_cert: x509.Certificate, now: datetime
) -> datetime:
    """Verify a token made by `timestamp_token`-like TSAs; return its genTime.

    Checks the imprint, the messageDigest of the TSTInfo, the signer's signature over the
    signed attributes and the TSA certificate's chain to `ca_cert`.
    """
    try:
        return _check_token(token, imprint, ca_cert, now)
    except (IndexError, ValueError) as error:
        if isinstance(error, XadesError):
            raise
        raise XadesError(f"EncapsulatedTimeStamp is not a valid RFC 3161 token: {error}") from None


def _check_token(
    token: bytes, imprint: bytes, ca_cert: x509.Certificate, now: datetime
) -> datetime:
    content_info = _items(_expect(token, 0x30))
    if _expect(content_info[0], 0x06) != _oid(_OID_SIGNED_DATA)[2:]:
        raise XadesError("time-stamp token is not CMS SignedData")
    signed_data = _items(_expect(_expect(content_info[1], 0xA0), 0x30))
    encap = _items(_expect(signed_data[2], 0x30))
    if _expect(encap[0], 0x06) != _oid(_OID_TST_INFO)[2:]:
        raise XadesError("time-stamp token content is not a TSTInfo")
    tst_info = _expect(_expect(encap[1], 0xA0), 0x04)
    fields = _items(_expect(tst_info, 0x30))
    message_imprint = _items(_expect(fields[2], 0x30))
    if _expect(message_imprint[0], 0x30)[: len(_oid(_OID_SHA256))] != _oid(_OID_SHA256):
        raise XadesError("time-stamp imprint must use SHA-256")
    if not hmac.compare_digest(_expect(message_imprint[1], 0x04), imprint):
        raise XadesError("time-stamp imprint does not match the SignatureValue")
    gen_time = datetime.strptime(
        _expect(fields[4], 0x18).decode("ascii").rstrip("Z").split(".")[0], "%Y%m%d%H%M%S"
    ).replace(tzinfo=UTC)

    rest = signed_data[3:]
    certs = [c for c in rest if c[0] == 0xA0]
    infos = [c for c in rest if c[0] == 0x31]
    if len(certs) != 1 or len(infos) != 1:
        raise XadesError("time-stamp token must embed the TSA certificate and one SignerInfo")
    tsa_cert = x509.load_der_x509_certificate(_items(_expect(certs[0], 0xA0))[0])
    signer = _items(_expect(_items(_expect(infos[0], 0x31))[0], 0x30))
    attrs_tlv = signer[3]
    if attrs_tlv[0] != 0xA0:
        raise XadesError("time-stamp SignerInfo has no signed attributes")
    digest = None
    for attribute in _items(_expect(attrs_tlv, 0xA0)):
        pair = _items(_expect(attribute, 0x30))
        if pair[0] == _oid(_OID_MESSAGE_DIGEST):
            digest = _expect(_items(_expect(pair[1], 0x31))[0], 0x04)
    if digest is None or not hmac.compare_digest(digest, hashlib.sha256(tst_info).digest()):
        raise XadesError("time-stamp messageDigest does not match its TSTInfo")
    signature = _expect(signer[5], 0x04)
    key = tsa_cert.public_key()
    try:
        if isinstance(key, rsa.RSAPublicKey):
            key.verify(signature, b"\x31" + attrs_tlv[1:], padding.PKCS1v15(), hashes.SHA256())
        elif isinstance(key, ec.EllipticCurvePublicKey):
            key.verify(signature, b"\x31" + attrs_tlv[1:], ec.ECDSA(hashes.SHA256()))
        else:
            raise XadesError("TSA certificate has neither an RSA nor an EC key")
    except InvalidSignature:
        raise XadesError("time-stamp token signature does not verify") from None
    if not chains_to(tsa_cert, ca_cert, gen_time):
        raise XadesError(f"TSA {tsa_cert.subject.rfc4514_string()} is not trusted at {gen_time}")
    if gen_time > now + timedelta(minutes=5):
        raise XadesError(f"time-stamp genTime {gen_time.isoformat()} lies in the future")
    return gen_time


# -- DER --------------------------------------------------------------------------------------


def _der(tag: int, body: bytes) -> bytes:
    size = len(body)
    if size < 0x80:
        return bytes((tag, size)) + body
    octets = size.to_bytes((size.bit_length() + 7) // 8, "big")
    return bytes((tag, 0x80 | len(octets))) + octets + body


def _seq(*parts: bytes) -> bytes:
    return _der(0x30, b"".join(parts))


def _set(parts: list[bytes]) -> bytes:
    return _der(0x31, b"".join(sorted(parts)))  # DER: SET OF sorted by encoding


def _int(value: int) -> bytes:
    return _der(0x02, value.to_bytes(value.bit_length() // 8 + 1, "big", signed=True))


def _octets(value: bytes) -> bytes:
    return _der(0x04, value)


def _oid(dotted: str) -> bytes:
    arcs = [int(arc) for arc in dotted.split(".")]
    body = bytearray()
    for arc in [arcs[0] * 40 + arcs[1], *arcs[2:]]:
        chunk = [arc & 0x7F]
        arc >>= 7
        while arc:
            chunk.append(0x80 | (arc & 0x7F))
            arc >>= 7
        body += bytes(reversed(chunk))
    return _der(0x06, bytes(body))


def _alg(oid: str, *, null: bool = False) -> bytes:
    return _seq(_oid(oid), b"\x05\x00" if null else b"")


def _read(data: bytes, pos: int) -> tuple[bytes, int]:
    """The whole TLV starting at `pos` and the position after it."""
    first = data[pos + 1]
    if first < 0x80:
        start, size = pos + 2, first
    else:
        count = first & 0x7F
        if not 0 < count <= 4:
            raise ValueError("unsupported DER length")
        start = pos + 2 + count
        size = int.from_bytes(data[pos + 2 : start], "big")
    end = start + size
    if end > len(data):
        raise ValueError("DER element runs past its container")
    return data[pos:end], end


def _expect(tlv: bytes, tag: int) -> bytes:
    """The body of `tlv`, which must carry `tag` and nothing after it."""
    if not tlv or tlv[0] != tag:
        raise ValueError(f"expected DER tag 0x{tag:02x}, found 0x{tlv[:1].hex() or '--'}")
    whole, end = _read(tlv, 0)
    if end != len(tlv):
        raise ValueError("trailing bytes after a DER element")
    return whole[len(whole) - _body_size(whole) :]


def _body_size(tlv: bytes) -> int:
    first = tlv[1]
    header = 2 if first < 0x80 else 2 + (first & 0x7F)
    return len(tlv) - header


def _items(body: bytes) -> list[bytes]:
    found: list[bytes] = []
    pos = 0
    while pos < len(body):
        tlv, pos = _read(body, pos)
        found.append(tlv)
    return found


# -- small helpers ----------------------------------------------------------------------------


def _children(element: etree._Element) -> list[etree._Element]:
    return [child for child in element if isinstance(child.tag, str)]


def _xml_time(moment: datetime) -> str:
    if moment.tzinfo is None:
        raise XadesError("signing_time must be timezone-aware")
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _b64decode(text: str | None, what: str) -> bytes:
    try:
        return base64.b64decode("".join((text or "").split()), validate=True)
    except (binascii.Error, ValueError):
        raise XadesError(f"{what} is not base64") from None
