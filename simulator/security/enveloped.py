"""Enveloped XML signatures on a message element (the SAML-P `samlp:Request` of the STS).

The signature must be a direct child of the element it signs and its one Reference must
resolve to that element, through the element's own id attribute (`RequestID` for SAML 1.1
requests, which `xmldsig.index_ids` does not know). An id that any other element of the
document also carries is refused: which element the reference means would then depend on
the resolver, which is what signature wrapping exploits. Algorithms are those of
`xmldsig` (RSA/ECDSA with SHA-1 or SHA-256, exclusive c14n, enveloped-signature).
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from cryptography import x509
from lxml import etree

from simulator.security import xmldsig
from simulator.security.pki import chains_to
from simulator.security.xmldsig import DS, SecurityError

_SIGNATURE = f"{{{DS}}}Signature"
_CERTIFICATES = f"{{{DS}}}KeyInfo/{{{DS}}}X509Data/{{{DS}}}X509Certificate"


@dataclass(frozen=True)
class EnvelopedVerdict:
    signer_cert: x509.Certificate
    algorithm: str


def signature_of(element: etree._Element) -> etree._Element | None:
    """The element's own ds:Signature (a direct child), None when it is unsigned.

    Raises SecurityError when it holds more than one: which one counts would be ambiguous.
    """
    found = element.findall(_SIGNATURE)
    if len(found) > 1:
        raise SecurityError("InvalidSecurity", f"<{_local(element)}> carries several ds:Signature")
    return found[0] if found else None


def signer_certificate(signature: etree._Element) -> x509.Certificate:
    """The first ds:KeyInfo/ds:X509Data/ds:X509Certificate of `signature` (the end entity)."""
    encoded = signature.findtext(_CERTIFICATES)
    if not encoded:
        raise SecurityError(
            "SecurityTokenUnavailable", "ds:Signature has no ds:KeyInfo/ds:X509Data certificate"
        )
    return load_certificate(encoded, "ds:X509Certificate")


def load_certificate(encoded: str, what: str) -> x509.Certificate:
    try:
        return x509.load_der_x509_certificate(base64.b64decode("".join(encoded.split())))
    except (binascii.Error, ValueError):
        raise SecurityError("InvalidSecurityToken", f"{what} is not a DER certificate") from None


def verify_enveloped(
    element: etree._Element,
    *,
    id_attribute: str,
    ca_cert: x509.Certificate,
    now: datetime,
) -> EnvelopedVerdict:
    """Check the enveloped signature of `element`; raise SecurityError when it does not hold.

    The signer is the KeyInfo certificate, which must be issued by `ca_cert` and valid `now`.
    """
    signature = signature_of(element)
    if signature is None:
        raise SecurityError("InvalidSecurity", f"<{_local(element)}> is not signed")
    element_id = element.get(id_attribute)
    if not element_id:
        raise SecurityError("InvalidSecurity", f"<{_local(element)}> has no {id_attribute}")
    _refuse_other_holders(element, id_attribute, element_id)
    signer = signer_certificate(signature)
    if not chains_to(signer, ca_cert, now):
        raise SecurityError(
            "FailedAuthentication",
            f"certificate {signer.subject.rfc4514_string()!r} is not issued by the trusted CA "
            f"or is not valid at {now.isoformat(timespec='seconds')}",
        )
    references = signature.findall(f"{{{DS}}}SignedInfo/{{{DS}}}Reference")
    if len(references) != 1:
        raise SecurityError(
            "InvalidSecurity",
            f"the signature of <{_local(element)}> must have exactly one Reference, "
            f"found {len(references)}",
        )
    # Only the element's own id resolves: any other URI points to no element and is refused.
    checked = xmldsig.verify(
        signature, xmldsig.public_key_of(signer, "the signer"), {element_id: element}
    )
    if len(checked.covered) != 1 or checked.covered[0] is not element:
        raise SecurityError("FailedCheck", f"the signature does not cover <{_local(element)}>")
    return EnvelopedVerdict(signer_cert=signer, algorithm=checked.algorithm)


def _refuse_other_holders(element: etree._Element, id_attribute: str, element_id: str) -> None:
    root = element.getroottree().getroot()
    others = [
        holder
        for holder in cast(list[Any], root.xpath(f"//*[@{id_attribute}]"))
        if holder is not element and holder.get(id_attribute) == element_id
    ]
    known = xmldsig.index_ids(root)  # refuses duplicates among wsu:Id, Id, ID, AssertionID
    holder = known.get(element_id)
    if holder is not None and holder is not element:
        others.append(holder)
    if others:
        other = others[0]
        raise SecurityError(
            "InvalidSecurity",
            f"id {element_id!r} of <{_local(element)}> is also carried by <{_local(other)}> "
            f"(line {other.sourceline})",
        )


def _local(element: etree._Element) -> str:
    return etree.QName(element).localname
