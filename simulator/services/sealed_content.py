"""End-to-end encrypted Details (wire-formats 1.7), shared by the services that use them.

A request Detail with `ContentEncryption="encryptedForKnownBED"` is a seal for the insurer's ETK
holding an EncryptedKnownContent: the business payload and the requester's ETK. The answer goes
back sealed for that ETK (`encryptedForKnownRecipient`). A Detail without ContentEncryption is
plain, as the connector sends when encryption is switched off.
"""

from __future__ import annotations

from dataclasses import dataclass

from cryptography import x509

from simulator.codecs.encrypted_content import (
    ContentError,
    KnownContent,
    build_known_content,
    parse_known_content,
)
from simulator.codecs.mycarenet_commons import Blob
from simulator.runtime import Simulator
from simulator.security.etk import EtkError, parse_etk
from simulator.security.sealing import SealError, seal, unseal
from simulator.soap import faults

SEALED_FOR_INSURER = "encryptedForKnownBED"
SEALED_FOR_REQUESTER = "encryptedForKnownRecipient"


@dataclass(frozen=True)
class OpenedDetail:
    business_content: bytes
    reply_to: x509.Certificate | None  # whom to seal the answer for; None: answer in clear
    signer: x509.Certificate | None  # who sealed the request


def open_detail(
    sim: Simulator, detail: Blob, where: str, caller: x509.Certificate | None
) -> OpenedDetail:
    """The business payload of a request Detail, unsealed when it is sealed.

    The seal must come from the certificate that signed the call (when security checks ran).
    """
    if detail.content_encryption is None:
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
            at=sim.clock.now(),
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
    return OpenedDetail(known.business_content, reply_to, unsealed.signer)


def close_detail(sim: Simulator, content: bytes, opened: OpenedDetail) -> tuple[bytes, str | None]:
    """The answer's Detail content and ContentEncryption: sealed if the request was."""
    if opened.reply_to is None:
        return content, None
    known = build_known_content(
        KnownContent(business_content=content, reply_to_etk=None, xades=None)
    )
    sealed = seal(known, sender=sim.pki.insurer_signing, recipients=[opened.reply_to])
    return sealed, SEALED_FOR_REQUESTER
