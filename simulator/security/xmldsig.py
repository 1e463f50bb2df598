"""XML-DSig restricted to what eHealth uses: exclusive c14n, RSA/ECDSA, SHA-256/SHA-1.

Hand-rolled on lxml's exclusive c14n for speed (see DESIGN.md "Performance"). Anything outside
the allow-list is refused with its URI named, so a crafted signature cannot pull in XPath,
XSLT, HMAC or inclusive c14n. Id resolution goes through `index_ids`, which refuses duplicate
ids: the caller then checks *which* elements were covered (signature-wrapping defence).
"""

from __future__ import annotations

import base64
import binascii
import copy
import functools
import hashlib
import hmac
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, cast

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import (
    decode_dss_signature,
    encode_dss_signature,
)
from lxml import etree

from simulator.soap.text import text_value

DS = "http://www.w3.org/2000/09/xmldsig#"
WSU = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-utility-1.0.xsd"
EXC_C14N = "http://www.w3.org/2001/10/xml-exc-c14n#"
ENVELOPED = "http://www.w3.org/2000/09/xmldsig#enveloped-signature"
RSA_SHA256 = "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256"
RSA_SHA1 = "http://www.w3.org/2000/09/xmldsig#rsa-sha1"
ECDSA_SHA256 = "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha256"
ECDSA_SHA1 = "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha1"
SHA256 = "http://www.w3.org/2001/04/xmlenc#sha256"
SHA1 = "http://www.w3.org/2000/09/xmldsig#sha1"

SigningKey = rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey
VerifyingKey = rsa.RSAPublicKey | ec.EllipticCurvePublicKey

# signature method URI -> (key family, hash); digest URI -> hashlib constructor
_SIGNATURE_METHODS: dict[str, tuple[str, type[hashes.HashAlgorithm]]] = {
    RSA_SHA256: ("rsa", hashes.SHA256),
    RSA_SHA1: ("rsa", hashes.SHA1),
    ECDSA_SHA256: ("ec", hashes.SHA256),
    ECDSA_SHA1: ("ec", hashes.SHA1),
}
_DIGESTS: dict[str, Callable[[bytes], hashlib._Hash]] = {
    SHA256: hashlib.sha256,
    SHA1: hashlib.sha1,
}
# WS-Security signs a handful of parts; a cap keeps a hostile SignedInfo from costing much.
MAX_REFERENCES = 16
# Attributes that carry an element id, in WS-Security, XML-DSig, SAML 1.1 and SAML 2.0.
ID_ATTRIBUTES = (f"{{{WSU}}}Id", "Id", "AssertionID", "ID")
_ID_VALUES = etree.XPath(
    "descendant-or-self::*/@wsu:Id | descendant-or-self::*/@Id"
    " | descendant-or-self::*/@AssertionID | descendant-or-self::*/@ID",
    namespaces={"wsu": WSU},
)

_SIGNATURE = f"{{{DS}}}Signature"
_SIGNED_INFO = f"{{{DS}}}SignedInfo"
_INCLUSIVE = f"{{{EXC_C14N}}}InclusiveNamespaces"


class SecurityError(Exception):
    """A WS-Security failure; `fault` is the WS-Security fault local name (wsse:<fault>)."""

    FAULTS = frozenset(
        {
            "InvalidSecurity",
            "InvalidSecurityToken",
            "FailedAuthentication",
            "FailedCheck",
            "SecurityTokenUnavailable",
            "MessageExpired",
        }
    )

    def __init__(self, fault: str, reason: str) -> None:
        if fault not in self.FAULTS:
            raise ValueError(f"unknown WS-Security fault {fault!r}")
        super().__init__(f"{fault}: {reason}")
        self.fault = fault
        self.reason = reason


@dataclass(frozen=True)
class VerifiedSignature:
    """What a valid signature covers, in Reference order (`ids` has '' for URI="")."""

    algorithm: str
    covered: tuple[etree._Element, ...]
    ids: tuple[str, ...]


def index_ids(root: etree._Element) -> dict[str, etree._Element]:
    """Map every id (wsu:Id, Id, AssertionID, ID) under `root` to its element.

    A value used by two elements is refused: with duplicates, which element a reference
    means depends on the resolver, which is what signature wrapping exploits.
    """
    found: dict[str, etree._Element] = {}
    # One compiled XPath walks the tree in C; a Python loop over every element costs 5x more.
    values = cast(list[Any], _ID_VALUES(root))  # attribute results: str with getparent()
    for value in values:
        element: etree._Element = value.getparent()
        other = found.setdefault(str(value), element)
        if other is not element:
            raise SecurityError(
                "InvalidSecurity",
                f"duplicate id {str(value)!r} on <{_local(other)}> (line {other.sourceline}) "
                f"and <{_local(element)}> (line {element.sourceline})",
            )
    return found


def c14n(element: etree._Element, prefixes: Sequence[str] = ()) -> bytes:
    """Exclusive c14n without comments of `element`, as it sits in its document.

    libxml2 refuses some well-formed input (a relative namespace URI, say): that is the
    sender's fault, answered as InvalidSecurity rather than an internal error.
    """
    try:
        return etree.tostring(
            element,
            method="c14n",
            exclusive=True,
            with_comments=False,
            inclusive_ns_prefixes=list(prefixes) or None,
        )
    except etree.C14NError as error:
        raise SecurityError(
            "InvalidSecurity",
            f"<{_local(element)}> (line {element.sourceline}) cannot be canonicalised "
            f"(exclusive c14n: {error}; a relative namespace URI?)",
        ) from None


# -- signing ----------------------------------------------------------------------------------


def sign(
    parent: etree._Element,
    key: SigningKey,
    references: Sequence[tuple[str, etree._Element]],
    *,
    key_info: etree._Element | None = None,
    index: int | None = None,
) -> etree._Element:
    """Append (or insert at `index`) a ds:Signature under `parent` and return it.

    `references` are (id, element) pairs: '#id' references with an exc-c14n transform; a
    reference whose element contains `parent` (or is it) is enveloped and gets the
    enveloped-signature transform too. `key_info` (a ds:KeyInfo) is moved into the Signature.
    """
    method = method_for(key)
    ancestors = [parent, *parent.iterancestors()]
    enveloped = tuple(any(a is element for a in ancestors) for _, element in references)
    signature = copy.deepcopy(_signature_template(method, enveloped))
    if index is None:
        parent.append(signature)
    else:
        parent.insert(index, signature)
    signed_info, value_element = signature[0], signature[1]
    for (ref_id, element), reference, envelops in zip(
        references, list(signed_info)[2:], enveloped, strict=True
    ):
        reference.set("URI", f"#{ref_id}")
        # The Signature is excluded from an enveloped target's digest, whatever it holds yet.
        data = _without(signature, element) if envelops else c14n(element)
        reference[-1].text = _b64(hashlib.sha256(data).digest())
    value_element.text = _b64(sign_bytes(key, method, c14n(signed_info)))
    if key_info is not None:
        signature.append(key_info)
    return signature


def method_for(key: SigningKey) -> str:
    """The signature method we sign with: RSA or ECDSA, both over SHA-256."""
    return RSA_SHA256 if isinstance(key, rsa.RSAPrivateKey) else ECDSA_SHA256


def filled_signature(
    method: str, references: Sequence[tuple[str, str]], value: str
) -> etree._Element:
    """A ds:Signature laid out like `sign` makes it, with the given ('#id' target, digest)
    references and SignatureValue text: for callers that compute digests and the value
    themselves (or put placeholders there to render the signature as a text template)."""
    signature = copy.deepcopy(_signature_template(method, (False,) * len(references)))
    for (ref_id, digest), reference in zip(references, list(signature[0])[2:], strict=True):
        reference.set("URI", f"#{ref_id}")
        reference[-1].text = digest
    signature[1].text = value
    return signature


@functools.lru_cache(maxsize=32)
def _signature_template(method: str, enveloped: tuple[bool, ...]) -> etree._Element:
    """An unfilled ds:Signature: SignedInfo with one Reference per flag, then SignatureValue.

    `sign` deep-copies it (never hands it out): copying is several times cheaper than
    creating its ~15 namespaced elements for every message. URIs and values are filled in.
    """
    signature = etree.Element(_SIGNATURE, nsmap={"ds": DS})
    signed_info = etree.SubElement(signature, _SIGNED_INFO)
    etree.SubElement(signed_info, f"{{{DS}}}CanonicalizationMethod", Algorithm=EXC_C14N)
    etree.SubElement(signed_info, f"{{{DS}}}SignatureMethod", Algorithm=method)
    for envelops in enveloped:
        reference = etree.SubElement(signed_info, f"{{{DS}}}Reference", URI="")
        transforms = etree.SubElement(reference, f"{{{DS}}}Transforms")
        if envelops:
            etree.SubElement(transforms, f"{{{DS}}}Transform", Algorithm=ENVELOPED)
        etree.SubElement(transforms, f"{{{DS}}}Transform", Algorithm=EXC_C14N)
        etree.SubElement(reference, f"{{{DS}}}DigestMethod", Algorithm=SHA256)
        etree.SubElement(reference, f"{{{DS}}}DigestValue")
    etree.SubElement(signature, f"{{{DS}}}SignatureValue")
    return signature


def public_key_of(cert: x509.Certificate, what: str) -> VerifyingKey:
    """The RSA or EC public key of `cert` (other key types have no allowed method)."""
    key = cert.public_key()
    if not isinstance(key, rsa.RSAPublicKey | ec.EllipticCurvePublicKey):
        raise SecurityError("InvalidSecurityToken", f"{what} has neither an RSA nor an EC key")
    return key


def x509_key_info(der: bytes) -> etree._Element:
    """ds:KeyInfo/ds:X509Data/ds:X509Certificate for a DER certificate."""
    key_info = etree.Element(f"{{{DS}}}KeyInfo", nsmap={"ds": DS})
    data = etree.SubElement(key_info, f"{{{DS}}}X509Data")
    etree.SubElement(data, f"{{{DS}}}X509Certificate").text = _b64(der)
    return key_info


def sign_bytes(key: SigningKey, method: str, data: bytes) -> bytes:
    hash_type = _SIGNATURE_METHODS[method][1]
    if isinstance(key, rsa.RSAPrivateKey):
        return key.sign(data, padding.PKCS1v15(), hash_type())
    der = key.sign(data, ec.ECDSA(hash_type()))
    r, s = decode_dss_signature(der)
    size = (key.curve.key_size + 7) // 8
    return r.to_bytes(size, "big") + s.to_bytes(size, "big")


# -- verification -----------------------------------------------------------------------------


def verify(
    signature: etree._Element,
    key: VerifyingKey,
    ids: Mapping[str, etree._Element],
) -> VerifiedSignature:
    """Check `signature` with `key`; '#id' references resolve through `ids` only.

    Raises SecurityError: InvalidSecurity for shape/algorithm problems, FailedCheck when a
    digest or the signature value does not match.
    """
    if signature.tag != _SIGNATURE:
        raise SecurityError("InvalidSecurity", f"expected ds:Signature, got <{_local(signature)}>")
    children = _elements(signature)
    if len(children) < 2 or children[0].tag != _SIGNED_INFO:
        raise SecurityError("InvalidSecurity", "ds:Signature must start with ds:SignedInfo")
    signed_info, value_element = children[0], children[1]
    if value_element.tag != f"{{{DS}}}SignatureValue":
        raise SecurityError("InvalidSecurity", "ds:SignatureValue must follow ds:SignedInfo")
    if any(c.tag != f"{{{DS}}}KeyInfo" for c in children[2:]) or len(children) > 3:
        raise SecurityError("InvalidSecurity", "ds:Signature may only add one ds:KeyInfo")

    parts = _elements(signed_info)
    if len(parts) < 3:
        raise SecurityError("InvalidSecurity", "ds:SignedInfo needs c14n, method and a Reference")
    c14n_method, signature_method, references = parts[0], parts[1], parts[2:]
    _expect(c14n_method, "CanonicalizationMethod")
    _expect(signature_method, "SignatureMethod")
    c14n_prefixes = _c14n_prefixes(c14n_method, "ds:CanonicalizationMethod")
    method = signature_method.get("Algorithm", "")
    if method not in _SIGNATURE_METHODS:
        raise SecurityError("InvalidSecurity", f"signature method {method!r} is not allowed")
    if len(signature_method):
        raise SecurityError("InvalidSecurity", "ds:SignatureMethod must be empty")

    if len(references) > MAX_REFERENCES:
        raise SecurityError(
            "InvalidSecurity", f"{len(references)} References exceed the limit of {MAX_REFERENCES}"
        )
    covered: list[etree._Element] = []
    uris: list[str] = []
    # Digests first: cheap, and they pin the exact bytes the signature value covers.
    for reference in references:
        _expect(reference, "Reference")
        uri, element = _check_reference(signature, reference, ids)
        covered.append(element)
        uris.append(uri)

    raw = _signature_bytes(value_element)
    verify_bytes(key, method, raw, c14n(signed_info, c14n_prefixes))
    return VerifiedSignature(algorithm=method, covered=tuple(covered), ids=tuple(uris))


def _check_reference(
    signature: etree._Element, reference: etree._Element, ids: Mapping[str, etree._Element]
) -> tuple[str, etree._Element]:
    uri = reference.get("URI")
    if uri is None:
        raise SecurityError("InvalidSecurity", "ds:Reference without URI")
    if uri == "":
        element = signature.getroottree().getroot()
    elif uri.startswith("#") and len(uri) > 1:
        found = ids.get(uri[1:])
        if found is None:
            raise SecurityError("InvalidSecurity", f"ds:Reference {uri!r} points to no element")
        element = found
    else:
        raise SecurityError(
            "InvalidSecurity", f"ds:Reference URI {uri!r} is not a same-document id"
        )

    parts = _elements(reference)
    transforms: list[tuple[str, tuple[str, ...]]] = []
    if parts and parts[0].tag == f"{{{DS}}}Transforms":
        for transform in _elements(parts[0]):
            _expect(transform, "Transform")
            algorithm = transform.get("Algorithm", "")
            if algorithm == EXC_C14N:
                transforms.append((algorithm, _c14n_prefixes(transform, f"{uri} Transform")))
            elif algorithm == ENVELOPED and not len(transform):
                transforms.append((algorithm, ()))
            else:
                raise SecurityError(
                    "InvalidSecurity", f"transform {algorithm!r} in Reference {uri!r} not allowed"
                )
        parts = parts[1:]
    # Only exc-c14n output is hashed: a trailing enveloped (or no) transform would mean
    # inclusive c14n, which we do not offer.
    names = [name for name, _ in transforms]
    if names not in ([EXC_C14N], [ENVELOPED, EXC_C14N]):
        raise SecurityError(
            "InvalidSecurity",
            f"Reference {uri!r} must use transforms [enveloped-signature,] exc-c14n",
        )
    if len(parts) != 2:
        raise SecurityError("InvalidSecurity", f"Reference {uri!r} needs DigestMethod, DigestValue")
    _expect(parts[0], "DigestMethod")
    _expect(parts[1], "DigestValue")
    digest_uri = parts[0].get("Algorithm", "")
    digester = _DIGESTS.get(digest_uri)
    if digester is None:
        raise SecurityError("InvalidSecurity", f"digest method {digest_uri!r} is not allowed")

    prefixes = transforms[-1][1]
    if len(transforms) == 2:
        data = _without(signature, element, prefixes)
    else:
        data = c14n(element, prefixes)
    expected = _decode(text_value(parts[1]), f"DigestValue of {uri!r}")
    if not hmac.compare_digest(digester(data).digest(), expected):
        raise SecurityError(
            "FailedCheck", f"digest of Reference {uri!r} (<{_local(element)}>) does not match"
        )
    return uri, element


def verify_bytes(key: VerifyingKey, method: str, raw: bytes, data: bytes) -> None:
    family, hash_type = _SIGNATURE_METHODS[method]
    try:
        if family == "rsa":
            if not isinstance(key, rsa.RSAPublicKey):
                raise SecurityError("FailedCheck", f"{method} does not fit the signer's EC key")
            key.verify(raw, data, padding.PKCS1v15(), hash_type())
            return
        if not isinstance(key, ec.EllipticCurvePublicKey):
            raise SecurityError("FailedCheck", f"{method} does not fit the signer's RSA key")
        size = (key.curve.key_size + 7) // 8
        if len(raw) != 2 * size:
            raise SecurityError(
                "FailedCheck", f"ECDSA SignatureValue is {len(raw)} bytes, expected {2 * size}"
            )
        r = int.from_bytes(raw[:size], "big")
        s = int.from_bytes(raw[size:], "big")
        key.verify(encode_dss_signature(r, s), data, ec.ECDSA(hash_type()))
    except InvalidSignature:
        raise SecurityError("FailedCheck", "SignatureValue does not match ds:SignedInfo") from None


def _without(
    signature: etree._Element, element: etree._Element, prefixes: Sequence[str] = ()
) -> bytes:
    """c14n of `element` minus `signature` (enveloped-signature transform).

    The Signature is detached for the duration and put back; its tail text stays in the
    document because the transform removes the element node only.
    """
    parent = signature.getparent()
    if parent is None or not (element is signature or _contains(element, signature)):
        return c14n(element, prefixes)
    if element is signature:
        raise SecurityError("InvalidSecurity", "a Reference cannot envelope its own Signature")
    position = parent.index(signature)
    tail = signature.tail
    previous = signature.getprevious()
    saved_text = parent.text if previous is None else previous.tail
    if tail:
        if previous is None:
            parent.text = (parent.text or "") + tail
        else:
            previous.tail = (previous.tail or "") + tail
    parent.remove(signature)
    try:
        return c14n(element, prefixes)
    finally:
        if previous is None:
            parent.text = saved_text
        else:
            previous.tail = saved_text
        parent.insert(position, signature)
        signature.tail = tail


def _contains(ancestor: etree._Element, node: etree._Element) -> bool:
    return any(a is ancestor for a in node.iterancestors())


def _c14n_prefixes(method: etree._Element, where: str) -> tuple[str, ...]:
    if method.get("Algorithm") != EXC_C14N:
        raise SecurityError(
            "InvalidSecurity", f"{where} algorithm {method.get('Algorithm')!r} is not allowed"
        )
    children = _elements(method)
    if not children:
        return ()
    if len(children) != 1 or children[0].tag != _INCLUSIVE:
        raise SecurityError("InvalidSecurity", f"{where} may only hold ec:InclusiveNamespaces")
    return tuple(children[0].get("PrefixList", "").split())


def _signature_bytes(element: etree._Element) -> bytes:
    return _decode(text_value(element), "SignatureValue")


def _decode(text: str | None, what: str) -> bytes:
    try:
        return base64.b64decode("".join((text or "").split()), validate=True)
    except (binascii.Error, ValueError):
        raise SecurityError("InvalidSecurity", f"{what} is not base64") from None


def _expect(element: etree._Element, local: str) -> None:
    if element.tag != f"{{{DS}}}{local}":
        raise SecurityError("InvalidSecurity", f"expected ds:{local}, got <{_local(element)}>")


def _elements(parent: etree._Element) -> list[etree._Element]:
    return [child for child in parent if isinstance(child.tag, str)]


def _local(element: etree._Element) -> str:
    return etree.QName(element).localname


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")
