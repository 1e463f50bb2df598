"""End-to-end encrypted Details (wire-formats 1.7), shared by the services that use them.

A request Detail with `ContentEncryption="encryptedForKnownBED"` is a seal for the insurer's ETK
holding an EncryptedKnownContent: the business payload and the requester's ETK. The answer goes
back sealed for that ETK (`encryptedForKnownRecipient`). A Detail without ContentEncryption is
plain, as the connector sends when encryption is switched off. Services whose content is also
signed with XAdES inside the seal (eAttest, wire-formats 1.8) ask for `xades=True` both ways.
"""

from __future__ import annotations

import base64
import uuid
from dataclasses import dataclass

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import rsa
from lxml import etree

from simulator.codecs.blob import BlobError, decode_blob
from simulator.codecs.encrypted_content import (
    ContentError,
    KnownContent,
    build_known_content,
    parse_known_content,
)
from simulator.codecs.mycarenet_commons import MAX_BLOB_BYTES, Blob
from simulator.config import SecurityMode
from simulator.runtime import Simulator
from simulator.security.etk import EtkError, parse_etk
from simulator.security.pki import parse_subject
from simulator.security.sealing import SealError, seal, unseal
from simulator.security.xades import XadesError, sign_enveloped, verify_enveloped
from simulator.server.exchange import keep_request_content, keep_response_content
from simulator.soap import faults
from simulator.soap.parser import XmlRejected, parse_xml

SEALED_FOR_INSURER = "encryptedForKnownBED"
SEALED_FOR_REQUESTER = "encryptedForKnownRecipient"


@dataclass(frozen=True)
class OpenedDetail:
    business_content: bytes
    reply_to: x509.Certificate | None  # whom to seal the answer for; None: answer in clear
    signer: x509.Certificate | None  # who sealed the request


def open_detail(
    sim: Simulator,
    detail: Blob,
    where: str,
    caller: x509.Certificate | None,
    *,
    xades: bool = False,
) -> OpenedDetail:
    """The business payload of a request Detail, unsealed when it is sealed.

    The seal must come from the certificate that signed the call (when security checks ran);
    with `xades`, the EncryptedKnownContent must carry that certificate's XAdES (checked in
    strict and lenient modes, refused only in strict mode).
    """
    if detail.content_encryption is None:
        keep_request_content(detail.content)
        return OpenedDetail(detail.content, None, None)
    if detail.content_encryption != SEALED_FOR_INSURER:
        raise faults.SoapFault(
            "SOA-03007",
            f"{where}/@ContentEncryption: {detail.content_encryption!r} is not accepted; requests "
            f"are sealed for the insurer's ETK ({SEALED_FOR_INSURER})",
        )
    try:
        unsealed = unseal(
            detail.content,
            recipient=sim.pki.insurer_encryption,
            trusted_ca=sim.pki.ca.cert,
            at=sim.wire_now(),
        )
        known = parse_known_content(unsealed.content)
    except (SealError, ContentError) as error:
        raise faults.SoapFault("SOA-03007", f"{where}: {error}") from None
    if caller is not None and unsealed.signer != caller:
        raise faults.SoapFault(
            "SOA-03007",
            f"{where}: sealed by {unsealed.signer.subject.rfc4514_string()!r} but the call is "
            f"signed by {caller.subject.rfc4514_string()!r}",
        )
    if xades:
        _check_xades(sim, unsealed.content, unsealed.signer, where)
    if known.reply_to_etk is None:
        raise faults.SoapFault(
            "SOA-03007",
            f"{where}: EncryptedKnownContent has no Reply-to-Etk, so the answer cannot be sealed "
            "for the requester",
        )
    try:
        reply_to = parse_etk(known.reply_to_etk)
    except EtkError as error:
        raise faults.SoapFault("SOA-03007", f"{where}: Reply-to-Etk: {error}") from None
    if not isinstance(reply_to.public_key(), rsa.RSAPublicKey):
        # ETKs use RSA key transport: an EC one cannot receive the sealed answer.
        raise faults.SoapFault(
            "SOA-03007",
            f"{where}: Reply-to-Etk {reply_to.subject.rfc4514_string()!r} holds no RSA key; an "
            "ETK must be RSA (issue the encryption keystore with --key-type rsa)",
        )
    content = known.business_content
    if (known.content_encoding or "none").lower() == "deflate":
        try:
            content = decode_blob(base64.b64encode(content), "deflate", max_size=MAX_BLOB_BYTES)
        except BlobError as error:
            raise faults.SoapFault(
                "SOA-03007", f"{where}: EncryptedKnownContent/BusinessContent: {error}"
            ) from None
    keep_request_content(content)  # the journal shows what was inside the seal
    return OpenedDetail(content, reply_to, unsealed.signer)


def _check_xades(sim: Simulator, known: bytes, sealer: x509.Certificate, where: str) -> None:
    if sim.security_mode is SecurityMode.OFF:
        return
    try:
        signer = verify_enveloped(parse_xml(known), ca_cert=sim.pki.ca.cert, now=sim.wire_now())
        if signer != sealer:
            raise XadesError("the XAdES signer is not the certificate that sealed the request")
    except (XadesError, XmlRejected) as error:
        if sim.security_mode is SecurityMode.STRICT:
            raise faults.SoapFault(
                "SOA-03007", f"{where}: EncryptedKnownContent/Xades: {error}"
            ) from None


def close_detail(
    sim: Simulator, content: bytes, opened: OpenedDetail, *, xades: bool = False
) -> tuple[bytes, str | None]:
    """The answer's Detail content and ContentEncryption: sealed if the request was."""
    keep_response_content(content)  # sealed for the requester, only the journal can show it
    if opened.reply_to is None:
        return content, None
    known = build_known_content(
        KnownContent(
            business_content=content, reply_to_etk=None, xades=None, content_id=f"_{uuid.uuid4()}"
        )
    )
    signer = sim.pki.insurer_signing
    if xades:
        document = parse_xml(known)
        sign_enveloped(document, key=signer.key, cert=signer.cert, signing_time=sim.wire_now())
        known = etree.tostring(document, xml_declaration=True, encoding="UTF-8")
    sealed = seal(known, sender=signer, recipients=answer_recipients(opened))
    return sealed, SEALED_FOR_REQUESTER


def answer_recipients(opened: OpenedDetail) -> list[x509.Certificate]:
    """Who can open the answer: the Reply-to-Etk's certificate, and the certificate that sealed
    the request when it is another one of the same holder. The depot serves a holder's newest
    ETK, so a keystore issued earlier for the same person, still valid, can still read its
    answers (the seal holds one encrypted key per recipient)."""
    assert opened.reply_to is not None
    recipients = [opened.reply_to]
    sealer = opened.signer
    if (
        sealer is not None
        and sealer != opened.reply_to
        and isinstance(sealer.public_key(), rsa.RSAPublicKey)
        and _holder(sealer) == _holder(opened.reply_to)
    ):
        recipients.append(sealer)
    return recipients


def _holder(cert: x509.Certificate) -> tuple[str | None, str | None]:
    subject = parse_subject(cert)
    return subject.ssin, subject.nihii
