"""Opening what vendors sealed for the insurer, with the simulator's own keys, so that the
expectations can look into the business content the simulator received."""

from __future__ import annotations

import base64

from simulator.codecs.blob import decode_blob
from simulator.codecs.encrypted_content import parse_known_content
from simulator.conformance.journal_view import Unsealer
from simulator.security.pki import Identity
from simulator.security.sealing import unseal


def insurer_unsealer(insurer_encryption: Identity) -> Unsealer:
    """Only the content is wanted here: whether the seal was valid is the simulator's verdict,
    already in the journal (a refused seal is a SOA-03007 fault)."""

    def open_sealed(sealed: bytes) -> bytes:
        unsealed = unseal(sealed, recipient=insurer_encryption, trusted_ca=None)
        known = parse_known_content(unsealed.content)
        content = known.business_content
        if (known.content_encoding or "none").lower() == "deflate":
            content = decode_blob(base64.b64encode(content), "deflate")
        return content

    return open_sealed
