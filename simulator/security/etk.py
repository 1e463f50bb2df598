"""eHealth ETK (encryption token): a CMS SignedData whose content is an encryption certificate.

The ETK depot hands these out so a sender can seal a message for a recipient. We build them
with `cryptography`'s PKCS#7 builder and read them back with a small DER walker, because
`cryptography` exposes the certificates of a SignedData but not its encapsulated content.
"""

from __future__ import annotations

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.serialization import pkcs7

from simulator.security.pki import Identity

# DER encodings of the object identifiers we check.
ID_SIGNED_DATA = bytes.fromhex("2a864886f70d010702")  # 1.2.840.113549.1.7.2

_SEQUENCE, _SET, _INTEGER, _OID = 0x30, 0x31, 0x02, 0x06
_OCTET_STRING, _OCTET_STRING_CONSTRUCTED, _CONTEXT_0 = 0x04, 0x24, 0xA0


class EtkError(ValueError):
    """The bytes are not an ETK; the message says which part is wrong."""


def build_etk(encryption: Identity | x509.Certificate, signer: Identity) -> bytes:
    """DER CMS SignedData carrying the DER of `encryption`'s certificate, signed by `signer`."""
    cert = encryption.cert if isinstance(encryption, Identity) else encryption
    builder = (
        pkcs7.PKCS7SignatureBuilder()
        .set_data(cert.public_bytes(serialization.Encoding.DER))
        .add_signer(signer.cert, signer.key, hashes.SHA256())
    )
    # Intermediates let a verifier that only trusts the root build the path; the root
    # itself (last in the chain) is what it trusts, so it is left out.
    for intermediate in signer.chain[:-1]:
        builder = builder.add_certificate(intermediate)
    # Binary: the content is DER, not text; without it S/MIME newline canonicalisation
    # would corrupt the certificate bytes.
    return builder.sign(serialization.Encoding.DER, [pkcs7.PKCS7Options.Binary])


def parse_etk(etk: bytes) -> x509.Certificate:
    """The encryption certificate inside an ETK, or `EtkError` saying why it is not one."""
    if not etk:
        raise EtkError("ETK is empty")
    if etk[0] != _SEQUENCE:
        raise EtkError(f"ContentInfo: expected a DER SEQUENCE, found tag 0x{etk[0]:02x}")
    _, start, end = _tlv(etk, 0, "ContentInfo")
    if end != len(etk):
        raise EtkError(f"{len(etk) - end} trailing byte(s) after the ContentInfo")
    fields = _children(etk, start, end, "ContentInfo")
    if len(fields) < 2 or fields[0][0] != _OID or fields[1][0] != _CONTEXT_0:
        raise EtkError("ContentInfo: expected contentType OID and [0] content")
    if etk[fields[0][1] : fields[0][2]] != ID_SIGNED_DATA:
        raise EtkError("ContentInfo: content type is not CMS SignedData (1.2.840.113549.1.7.2)")
    signed_data = _only_child(etk, fields[1], _SEQUENCE, "SignedData")
    parts = _children(etk, signed_data[1], signed_data[2], "SignedData")
    if len(parts) < 3 or parts[0][0] != _INTEGER or parts[1][0] != _SET:
        raise EtkError("SignedData: expected version, digestAlgorithms, encapContentInfo")
    if parts[2][0] != _SEQUENCE:
        raise EtkError("SignedData: encapContentInfo is not a SEQUENCE")
    encap = _children(etk, parts[2][1], parts[2][2], "encapContentInfo")
    if len(encap) < 2 or encap[1][0] != _CONTEXT_0:
        raise EtkError("encapContentInfo carries no content (a detached signature is no ETK)")
    content = _octets(etk, encap[1])
    try:
        return x509.load_der_x509_certificate(content)
    except ValueError as error:
        raise EtkError(f"ETK content is not a DER X.509 certificate: {error}") from None


_Tlv = tuple[int, int, int]  # tag, content start, content end


def _tlv(data: bytes, offset: int, where: str) -> _Tlv:
    """Read one definite-length DER element header at `offset`."""
    if offset + 2 > len(data):
        raise EtkError(f"{where}: truncated at byte {offset}")
    tag, first = data[offset], data[offset + 1]
    if tag & 0x1F == 0x1F:
        raise EtkError(f"{where}: multi-byte tag at byte {offset} is not expected in an ETK")
    offset += 2
    if first < 0x80:
        length = first
    elif first == 0x80:
        raise EtkError(f"{where}: indefinite length (BER) at byte {offset - 1}; ETKs are DER")
    else:
        count = first & 0x7F
        if count > 4 or offset + count > len(data):
            raise EtkError(f"{where}: bad length field at byte {offset - 1}")
        length = int.from_bytes(data[offset : offset + count], "big")
        offset += count
    if offset + length > len(data):
        raise EtkError(f"{where}: element at byte {offset} runs past the end of the data")
    return tag, offset, offset + length


def _children(data: bytes, start: int, end: int, where: str) -> list[_Tlv]:
    found: list[_Tlv] = []
    offset = start
    while offset < end:
        child = _tlv(data, offset, where)
        if child[2] > end:
            raise EtkError(f"{where}: element at byte {offset} overflows its parent")
        found.append(child)
        offset = child[2]
    return found


def _only_child(data: bytes, parent: _Tlv, tag: int, where: str) -> _Tlv:
    children = _children(data, parent[1], parent[2], where)
    if len(children) != 1 or children[0][0] != tag:
        raise EtkError(f"{where}: expected one element with tag 0x{tag:02x}")
    return children[0]


def _octets(data: bytes, explicit: _Tlv) -> bytes:
    """The bytes of `[0] EXPLICIT OCTET STRING`, also when split into constructed segments."""
    children = _children(data, explicit[1], explicit[2], "eContent")
    if len(children) != 1:
        raise EtkError("eContent: expected one OCTET STRING")
    tag, start, end = children[0]
    if tag == _OCTET_STRING:
        return data[start:end]
    if tag == _OCTET_STRING_CONSTRUCTED:
        segments = _children(data, start, end, "eContent segments")
        if any(segment[0] != _OCTET_STRING for segment in segments):
            raise EtkError("eContent: constructed OCTET STRING holds something else")
        return b"".join(data[s:e] for _, s, e in segments)
    raise EtkError(f"eContent: expected an OCTET STRING, found tag 0x{tag:02x}")
