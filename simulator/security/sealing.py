"""eHealth end-to-end sealing (wire-formats 1.7): SignedData(EnvelopedData(SignedData(content))).

The sender signs the content (inner layer, certificate left out), encrypts that for every
recipient ETK certificate (AES-128-CBC, RSA key transport), and signs the result again with
its certificate embedded (outer layer), so a receiver can tell who sent it before decrypting.

Building uses `cryptography`'s PKCS#7 builders. `cryptography` cannot verify a SignedData, so
reading is a small BER walker over the few CMS structures involved (RFC 5652) plus signature
checks with `cryptography`; decryption is `pkcs7_decrypt_der`.

Key transport is RSA PKCS#1 v1.5 (rsaEncryption): it is what BouncyCastle-based eHealth
senders emit and what every receiver accepts, and it is the only padding `cryptography`'s
envelope builder and decrypter support. Seals whose key transport is RSAES-OAEP are still
opened (a few lines of AES-CBC here) so a client that chose OAEP is not turned away.
Signatures are RSASSA-PSS/SHA-256 for RSA keys (the `SHA256WITHRSAANDMGF1` of the eHealth
sealer) and ECDSA/SHA-256 for EC keys; on reading, PKCS#1 v1.5, PSS and ECDSA with SHA-1/SHA-2
are all accepted.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives import padding as sym_padding
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.serialization import pkcs7

from simulator.security.pki import Identity, chains_to

Kind = Literal["not sealed", "not for me", "tampered", "wrong signer", "unsupported"]

ID_DATA = "1.2.840.113549.1.7.1"
ID_SIGNED_DATA = "1.2.840.113549.1.7.2"
ID_ENVELOPED_DATA = "1.2.840.113549.1.7.3"
_CONTENT_TYPE_ATTR = "1.2.840.113549.1.9.3"
_MESSAGE_DIGEST_ATTR = "1.2.840.113549.1.9.4"
_RSA_PSS = "1.2.840.113549.1.1.10"
_MGF1 = "1.2.840.113549.1.1.8"
_RSA_OAEP = "1.2.840.113549.1.1.7"

_DIGESTS: dict[str, type[hashes.HashAlgorithm]] = {
    "1.3.14.3.2.26": hashes.SHA1,  # legacy connectors; kept readable like WS-Security SHA-1
    "2.16.840.1.101.3.4.2.4": hashes.SHA224,
    "2.16.840.1.101.3.4.2.1": hashes.SHA256,
    "2.16.840.1.101.3.4.2.2": hashes.SHA384,
    "2.16.840.1.101.3.4.2.3": hashes.SHA512,
}
# Signature algorithm OID -> (key family, hash; None = take the SignerInfo digest algorithm).
_SIGNATURES: dict[str, tuple[str, type[hashes.HashAlgorithm] | None]] = {
    "1.2.840.113549.1.1.1": ("rsa", None),  # rsaEncryption, as OpenSSL and BouncyCastle write
    "1.2.840.113549.1.1.5": ("rsa", hashes.SHA1),
    "1.2.840.113549.1.1.14": ("rsa", hashes.SHA224),
    "1.2.840.113549.1.1.11": ("rsa", hashes.SHA256),
    "1.2.840.113549.1.1.12": ("rsa", hashes.SHA384),
    "1.2.840.113549.1.1.13": ("rsa", hashes.SHA512),
    _RSA_PSS: ("pss", None),
    "1.2.840.10045.2.1": ("ec", None),  # id-ecPublicKey, written by some Java providers
    "1.2.840.10045.4.1": ("ec", hashes.SHA1),
    "1.2.840.10045.4.3.2": ("ec", hashes.SHA256),
    "1.2.840.10045.4.3.3": ("ec", hashes.SHA384),
    "1.2.840.10045.4.3.4": ("ec", hashes.SHA512),
}

# AES-CBC content encryption OID -> key length in bytes.
_AES_CBC = {
    "2.16.840.1.101.3.4.1.2": 16,
    "2.16.840.1.101.3.4.1.22": 24,
    "2.16.840.1.101.3.4.1.42": 32,
}

_SEQUENCE, _SET, _INTEGER, _OID, _OCTETS, _OCTETS_CONSTRUCTED = 0x30, 0x31, 0x02, 0x06, 0x04, 0x24
_CTX0, _CTX1, _CTX0_PRIMITIVE = 0xA0, 0xA1, 0x80
# Nesting of the structures we read is < 10; the cap stops hostile indefinite-length towers.
_MAX_DEPTH = 32


class SealError(ValueError):
    """A seal could not be made or opened. `layer` says where, `kind` what went wrong."""

    def __init__(self, layer: str, kind: Kind, reason: str) -> None:
        super().__init__(f"{layer}: {kind}: {reason}")
        self.layer = layer
        self.kind = kind
        self.reason = reason


@dataclass(frozen=True)
class Unsealed:
    """The content of a seal and the certificate that signed both layers."""

    content: bytes
    signer: x509.Certificate


# ---------------------------------------------------------------------------------------------
# Sealing


def seal(content: bytes, *, sender: Identity, recipients: Sequence[x509.Certificate]) -> bytes:
    """Sign `content`, encrypt it for every recipient ETK certificate, sign again (DER)."""
    if not recipients:
        raise SealError("encryption", "unsupported", "no recipient certificate given")
    inner = _sign(content, sender, embed_certificate=False)
    builder = pkcs7.PKCS7EnvelopeBuilder().set_data(inner)
    builder = builder.set_content_encryption_algorithm(algorithms.AES128)
    for cert in recipients:
        if not isinstance(cert.public_key(), rsa.RSAPublicKey):
            raise SealError(
                "encryption",
                "unsupported",
                f"recipient {cert.subject.rfc4514_string()} has no RSA key; ETKs use RSA key "
                "transport",
            )
        builder = builder.add_recipient(cert)
    # Binary: the payload is DER; without it S/MIME newline canonicalisation would corrupt it.
    enveloped = builder.encrypt(serialization.Encoding.DER, [pkcs7.PKCS7Options.Binary])
    return _sign(enveloped, sender, embed_certificate=True)


def _sign(data: bytes, signer: Identity, *, embed_certificate: bool) -> bytes:
    key = signer.key
    rsa_padding = (
        padding.PSS(padding.MGF1(hashes.SHA256()), padding.PSS.DIGEST_LENGTH)
        if isinstance(key, rsa.RSAPrivateKey)
        else None
    )
    options = [pkcs7.PKCS7Options.Binary, pkcs7.PKCS7Options.NoCapabilities]
    if not embed_certificate:
        options.append(pkcs7.PKCS7Options.NoCerts)
    builder = pkcs7.PKCS7SignatureBuilder().set_data(data)
    builder = builder.add_signer(signer.cert, key, hashes.SHA256(), rsa_padding=rsa_padding)
    return builder.sign(serialization.Encoding.DER, options)


# ---------------------------------------------------------------------------------------------
# Unsealing


def unseal(
    sealed: bytes,
    *,
    recipient: Identity,
    trusted_ca: x509.Certificate | None,
    at: dt.datetime | None = None,
) -> Unsealed:
    """Verify the outer signature, decrypt with `recipient`, verify the inner signature.

    Both signatures must come from the same certificate, the one embedded in the outer layer;
    with `trusted_ca` it must also have been issued by that CA and be valid at `at` (now).
    """
    outer = _signed_data(sealed, "outer signature")
    signer_info = _single_signer(outer, "outer signature")
    signer = _find_signer_certificate(outer, signer_info)
    _verify(outer, signer_info, signer, "outer signature")
    if trusted_ca is not None and not chains_to(signer, trusted_ca, at):
        raise SealError(
            "signer",
            "wrong signer",
            f"{signer.subject.rfc4514_string()} is not issued by "
            f"{trusted_ca.subject.rfc4514_string()} or is not valid at {at or 'this time'}",
        )
    inner_der = _decrypt(outer.content, recipient)
    inner = _signed_data(inner_der, "inner signature")
    inner_info = _single_signer(inner, "inner signature")
    if not _identifies(inner_info, signer):
        raise SealError(
            "inner signature",
            "wrong signer",
            "signed by another certificate than the outer layer "
            f"({signer.subject.rfc4514_string()})",
        )
    content = _verify(inner, inner_info, signer, "inner signature")
    return Unsealed(content=content, signer=signer)


def _decrypt(enveloped: bytes | None, recipient: Identity) -> bytes:
    layer = "decryption"
    if enveloped is None:
        raise SealError(layer, "not sealed", "the outer layer carries no content")
    envelope = _envelope_for(enveloped, recipient.cert)
    if not isinstance(recipient.key, rsa.RSAPrivateKey):
        raise SealError(layer, "unsupported", "the recipient key is not RSA")
    if envelope.key_algorithm == _RSA_OAEP:
        return _decrypt_oaep(envelope, recipient.key)
    try:
        return pkcs7.pkcs7_decrypt_der(enveloped, recipient.cert, recipient.key, [])
    except UnsupportedAlgorithm as error:
        raise SealError(layer, "unsupported", str(error)) from None
    except ValueError as error:
        # The recipient matched, so a failure here is a damaged key or ciphertext.
        raise SealError(layer, "tampered", f"cannot decrypt: {error}") from None


@dataclass(frozen=True)
class _Envelope:
    """The parts of an EnvelopedData that matter to one recipient."""

    key_algorithm: str
    key_params: bytes | None
    encrypted_key: bytes
    content_algorithm: str
    iv: bytes
    ciphertext: bytes


def _envelope_for(enveloped: bytes, cert: x509.Certificate) -> _Envelope:
    """Read the EnvelopedData and the KeyTransRecipientInfo meant for `cert`."""
    layer = "decryption"
    seen = 0
    try:
        fields = _children(enveloped, _content_info(enveloped, ID_ENVELOPED_DATA, "EnvelopedData"))
        sets = [f for f in fields if f.tag == _SET]
        sequences = [f for f in fields if f.tag == _SEQUENCE]
        if len(sets) != 1 or len(sequences) != 1:
            raise _DerError("EnvelopedData: expected recipientInfos and encryptedContentInfo")
        for info in _children(enveloped, sets[0]):
            if info.tag != _SEQUENCE:
                continue  # key agreement / KEK / password recipients are never ours
            seen += 1
            parts = _children(enveloped, info)
            if len(parts) != 4 or not _rid_matches(enveloped, parts[1], cert):
                continue
            key_algorithm = _children(enveloped, parts[2])
            content = _children(enveloped, sequences[0])
            if len(content) != 3 or content[2].tag not in (_CTX0_PRIMITIVE, _CTX0):
                raise _DerError("encryptedContentInfo: no encrypted content")
            return _Envelope(
                key_algorithm=_oid(enveloped, _child(enveloped, parts[2], 0)),
                key_params=_raw(enveloped, key_algorithm[1:]),
                encrypted_key=_primitive(enveloped, parts[3]),
                content_algorithm=_oid(enveloped, _child(enveloped, content[1], 0)),
                iv=_primitive(enveloped, _child(enveloped, content[1], 1)),
                ciphertext=_implicit_octets(enveloped, content[2]),
            )
    except _DerError as error:
        raise SealError(
            layer, "not sealed", f"middle layer is not EnvelopedData: {error}"
        ) from None
    raise SealError(
        layer,
        "not for me",
        f"none of the {seen} RSA recipient(s) is {cert.subject.rfc4514_string()} "
        f"(serial {cert.serial_number:x})",
    )


def _decrypt_oaep(envelope: _Envelope, key: rsa.RSAPrivateKey) -> bytes:
    """RSAES-OAEP key transport, which `pkcs7_decrypt_der` does not support (RFC 3560)."""
    layer = "decryption"
    key_length = _AES_CBC.get(envelope.content_algorithm)
    if key_length is None:
        raise SealError(layer, "unsupported", f"content encryption {envelope.content_algorithm}")
    try:
        digest, mgf_digest, _ = _hash_params(envelope.key_params, {})
        oaep = padding.OAEP(padding.MGF1(mgf_digest()), digest(), None)
        cek = key.decrypt(envelope.encrypted_key, oaep)
        if len(cek) != key_length:
            raise ValueError(f"content key of {len(cek)} bytes, expected {key_length}")
        decryptor = Cipher(algorithms.AES(cek), modes.CBC(envelope.iv)).decryptor()
        padded = decryptor.update(envelope.ciphertext) + decryptor.finalize()
        unpadder = sym_padding.PKCS7(128).unpadder()
        return unpadder.update(padded) + unpadder.finalize()
    except _DerError as error:
        raise SealError(layer, "unsupported", f"RSAES-OAEP parameters: {error}") from None
    except ValueError as error:
        raise SealError(layer, "tampered", f"cannot decrypt: {error}") from None


# ---------------------------------------------------------------------------------------------
# CMS SignedData


@dataclass(frozen=True)
class _SignerInfo:
    sid: _Tlv
    digest_oid: str
    signed_attrs: bytes | None  # DER re-tagged as SET OF, i.e. the bytes that were signed
    content_type: str | None
    message_digest: bytes | None
    signature_oid: str
    signature_params: bytes | None
    signature: bytes
    data: bytes  # the buffer `sid` points into


@dataclass(frozen=True)
class _SignedData:
    content_type: str
    content: bytes | None
    certificates: tuple[x509.Certificate, ...]
    signers: tuple[_SignerInfo, ...]


def _signed_data(data: bytes, layer: str) -> _SignedData:
    try:
        body = _content_info(data, ID_SIGNED_DATA, "SignedData")
        fields = _children(data, body)
        if len(fields) < 4 or fields[0].tag != _INTEGER or fields[1].tag != _SET:
            raise _DerError("SignedData: expected version, digestAlgorithms, encapContentInfo")
        encap = _children(data, fields[2])
        if not encap or encap[0].tag != _OID:
            raise _DerError("encapContentInfo: expected eContentType")
        content = _octets(data, _children(data, encap[1])) if len(encap) > 1 else None
        certificates: list[x509.Certificate] = []
        signers: list[_SignerInfo] = []
        for field in fields[3:]:
            if field.tag == _CTX0:
                certificates += _certificates(data, field)
            elif field.tag == _SET:
                signers = [_signer_info(data, info) for info in _children(data, field)]
    except _DerError as error:
        raise SealError(layer, "not sealed", str(error)) from None
    return _SignedData(_oid(data, encap[0]), content, tuple(certificates), tuple(signers))


def _certificates(data: bytes, field: _Tlv) -> list[x509.Certificate]:
    found = []
    for choice in _children(data, field):
        if choice.tag != _SEQUENCE:
            continue  # attribute certificates and other choices are not signer certificates
        try:
            found.append(x509.load_der_x509_certificate(data[choice.start : choice.end]))
        except ValueError as error:
            raise _DerError(f"certificate at byte {choice.start}: {error}") from None
    return found


def _signer_info(data: bytes, info: _Tlv) -> _SignerInfo:
    parts = _children(data, info)
    if len(parts) < 5:
        raise _DerError(f"SignerInfo at byte {info.start}: too few fields")
    index = 3
    signed_attrs = content_type = message_digest = None
    if parts[index].tag == _CTX0:
        attrs = parts[index]
        if attrs.indefinite:
            raise _DerError("signed attributes are not DER (indefinite length)")
        # The signature covers the attributes encoded as a SET OF, not as the [0] tag.
        signed_attrs = bytes([_SET]) + data[attrs.start + 1 : attrs.end]
        content_type, message_digest = _read_attributes(data, attrs)
        index += 1
    if index + 1 >= len(parts) or parts[index + 1].tag != _OCTETS:
        raise _DerError(f"SignerInfo at byte {info.start}: no signature")
    algorithm = _children(data, parts[index])
    if not algorithm:
        raise _DerError(f"SignerInfo at byte {info.start}: empty signatureAlgorithm")
    return _SignerInfo(
        sid=parts[1],
        digest_oid=_oid(data, _child(data, parts[2], 0)),
        signed_attrs=signed_attrs,
        content_type=content_type,
        message_digest=message_digest,
        signature_oid=_oid(data, algorithm[0]),
        signature_params=(
            data[algorithm[1].start : algorithm[1].end] if len(algorithm) > 1 else None
        ),
        signature=_primitive(data, parts[index + 1]),
        data=data,
    )


def _read_attributes(data: bytes, attrs: _Tlv) -> tuple[str | None, bytes | None]:
    content_type = message_digest = None
    for attribute in _children(data, attrs):
        oid = _oid(data, _child(data, attribute, 0))
        values = _child(data, attribute, 1)
        if oid not in (_CONTENT_TYPE_ATTR, _MESSAGE_DIGEST_ATTR):
            continue
        items = _children(data, values)
        if len(items) != 1 or (content_type if oid == _CONTENT_TYPE_ATTR else message_digest):
            raise _DerError(f"signed attribute {oid} must occur once with one value")
        if oid == _CONTENT_TYPE_ATTR:
            content_type = _oid(data, items[0])
        else:
            message_digest = _primitive(data, items[0])
    return content_type, message_digest


def _single_signer(signed: _SignedData, layer: str) -> _SignerInfo:
    if len(signed.signers) != 1:
        raise SealError(layer, "wrong signer", f"expected one signer, found {len(signed.signers)}")
    if signed.content_type != ID_DATA:
        raise SealError(layer, "unsupported", f"content type {signed.content_type} is not id-data")
    return signed.signers[0]


def _find_signer_certificate(signed: _SignedData, info: _SignerInfo) -> x509.Certificate:
    for cert in signed.certificates:
        if _identifies(info, cert):
            return cert
    raise SealError(
        "outer signature", "wrong signer", "the signer's certificate is not embedded in the seal"
    )


def _identifies(info: _SignerInfo, cert: x509.Certificate) -> bool:
    return _rid_matches(info.data, info.sid, cert)


def _rid_matches(data: bytes, rid: _Tlv, cert: x509.Certificate) -> bool:
    """Does a SignerIdentifier / RecipientIdentifier name `cert`?"""
    if rid.tag == _SEQUENCE:  # IssuerAndSerialNumber
        try:
            issuer, serial = _child(data, rid, 0), _child(data, rid, 1)
        except _DerError:
            return False
        return (
            data[issuer.start : issuer.end] == _issuer_der(cert)
            and int.from_bytes(_primitive(data, serial), "big", signed=True) == cert.serial_number
        )
    if rid.tag == _CTX0_PRIMITIVE:  # [0] SubjectKeyIdentifier
        try:
            ski = cert.extensions.get_extension_for_class(x509.SubjectKeyIdentifier)
        except x509.ExtensionNotFound:
            return False
        return data[rid.body : rid.body_end] == ski.value.digest
    return False


def _issuer_der(cert: x509.Certificate) -> bytes:
    # The issuer exactly as encoded in the certificate: re-encoding a Name may change it.
    tbs = cert.tbs_certificate_bytes
    fields = _children(tbs, _read(tbs, 0))
    issuer = fields[3] if fields[0].tag == _CTX0 else fields[2]
    return tbs[issuer.start : issuer.end]


def _verify(signed: _SignedData, info: _SignerInfo, cert: x509.Certificate, layer: str) -> bytes:
    """Check `info`'s signature over the content with `cert`; return the content."""
    if signed.content is None:
        raise SealError(layer, "not sealed", "no content (a detached signature is not a seal)")
    digest = _DIGESTS.get(info.digest_oid)
    if digest is None:
        raise SealError(layer, "unsupported", f"digest algorithm {info.digest_oid}")
    message = signed.content
    if info.signed_attrs is not None:
        if info.content_type != signed.content_type or info.message_digest is None:
            raise SealError(layer, "tampered", "signed attributes lack contentType/messageDigest")
        hasher = hashes.Hash(digest())
        hasher.update(signed.content)
        if hasher.finalize() != info.message_digest:
            raise SealError(layer, "tampered", "content does not match the signed digest")
        message = info.signed_attrs
    try:
        _check_signature(info, digest, cert, message)
    except InvalidSignature:
        raise SealError(
            layer,
            "tampered",
            f"signature does not verify with {cert.subject.rfc4514_string()}",
        ) from None
    except _DerError as error:
        raise SealError(layer, "unsupported", str(error)) from None
    return signed.content


def _check_signature(
    info: _SignerInfo,
    digest: type[hashes.HashAlgorithm],
    cert: x509.Certificate,
    message: bytes,
) -> None:
    family, fixed = _SIGNATURES.get(info.signature_oid, ("?", None))
    algorithm = (fixed or digest)()
    public = cert.public_key()
    if family in ("rsa", "pss") and isinstance(public, rsa.RSAPublicKey):
        scheme: padding.AsymmetricPadding = padding.PKCS1v15()
        if family == "pss":
            algorithm, scheme = _pss(info.signature_params)
        public.verify(info.signature, message, scheme, algorithm)
    elif family == "ec" and isinstance(public, ec.EllipticCurvePublicKey):
        public.verify(info.signature, message, ec.ECDSA(algorithm))
    else:
        raise _DerError(
            f"signature algorithm {info.signature_oid} with a {type(public).__name__} key"
        )


def _pss(params: bytes | None) -> tuple[hashes.HashAlgorithm, padding.PSS]:
    """Hash and padding from RSASSA-PSS-params (RFC 4055; absent salt length means 20)."""
    digest, mgf_digest, extra = _hash_params(params, {2: 20})
    return digest(), padding.PSS(padding.MGF1(mgf_digest()), extra[2])


def _hash_params(
    params: bytes | None, integers: dict[int, int]
) -> tuple[type[hashes.HashAlgorithm], type[hashes.HashAlgorithm], dict[int, int]]:
    """[0] hash and [1] MGF1 hash of RSASSA-PSS / RSAES-OAEP params (default SHA-1), plus the
    INTEGER fields whose [n] tags are keys of `integers` (values are the defaults)."""
    digest: type[hashes.HashAlgorithm] = hashes.SHA1
    mgf_digest: type[hashes.HashAlgorithm] = hashes.SHA1
    found = dict(integers)
    if params and params != b"\x05\x00":  # absent or NULL: all defaults
        for field in _children(params, _read(params, 0)):
            inner = _child(params, field, 0)
            if field.tag == _CTX0:
                digest = _digest(params, _child(params, inner, 0))
            elif field.tag == _CTX1:
                if _oid(params, _child(params, inner, 0)) != _MGF1:
                    raise _DerError("mask generation function is not MGF1")
                mgf_digest = _digest(params, _child(params, _child(params, inner, 1), 0))
            elif field.tag - _CTX0 in found:
                found[field.tag - _CTX0] = int.from_bytes(_primitive(params, inner), "big")
            else:
                raise _DerError(f"unsupported parameter [{field.tag - _CTX0}]")
    return digest, mgf_digest, found


def _digest(data: bytes, oid_tlv: _Tlv) -> type[hashes.HashAlgorithm]:
    oid = _oid(data, oid_tlv)
    if oid not in _DIGESTS:
        raise _DerError(f"digest algorithm {oid}")
    return _DIGESTS[oid]


# ---------------------------------------------------------------------------------------------
# BER reading: just enough for CMS (definite and indefinite lengths, single-byte tags)


class _DerError(ValueError):
    """Malformed or unexpected ASN.1; the message names the structure and byte offset."""


@dataclass(frozen=True, slots=True)
class _Tlv:
    tag: int
    start: int  # first header byte
    body: int  # first content byte
    body_end: int  # end of the content (before an end-of-contents marker)
    end: int  # first byte after the element
    indefinite: bool = False


def _read(data: bytes, offset: int, depth: int = 0) -> _Tlv:
    if depth > _MAX_DEPTH:
        raise _DerError(f"nesting deeper than {_MAX_DEPTH} levels at byte {offset}")
    if offset + 2 > len(data):
        raise _DerError(f"truncated at byte {offset}")
    tag, first = data[offset], data[offset + 1]
    if tag & 0x1F == 0x1F:
        raise _DerError(f"multi-byte tag at byte {offset}")
    body = offset + 2
    if first == 0x80:
        if not tag & 0x20:
            raise _DerError(f"indefinite length on a primitive element at byte {offset}")
        position = body
        while data[position : position + 2] != b"\x00\x00":
            position = _read(data, position, depth + 1).end
        return _Tlv(tag, offset, body, position, position + 2, indefinite=True)
    if first < 0x80:
        length = first
    else:
        count = first & 0x7F
        if count > 4 or body + count > len(data):
            raise _DerError(f"bad length field at byte {offset + 1}")
        length = int.from_bytes(data[body : body + count], "big")
        body += count
    if body + length > len(data):
        raise _DerError(f"element at byte {offset} runs past the end of the data")
    return _Tlv(tag, offset, body, body + length, body + length)


def _children(data: bytes, parent: _Tlv) -> list[_Tlv]:
    if not parent.tag & 0x20:
        raise _DerError(f"element at byte {parent.start} is not constructed")
    found: list[_Tlv] = []
    offset = parent.body
    while offset < parent.body_end:
        child = _read(data, offset)
        if child.end > parent.body_end:
            raise _DerError(f"element at byte {offset} overflows its parent")
        found.append(child)
        offset = child.end
    return found


def _child(data: bytes, parent: _Tlv, index: int) -> _Tlv:
    children = _children(data, parent)
    if index >= len(children):
        raise _DerError(f"element at byte {parent.start} has no field #{index + 1}")
    return children[index]


def _content_info(data: bytes, expected: str, name: str) -> _Tlv:
    """The content SEQUENCE of a ContentInfo whose type must be `expected`."""
    if not data or data[0] != _SEQUENCE:
        raise _DerError("not a DER/BER ContentInfo SEQUENCE")
    outer = _read(data, 0)
    if outer.end != len(data):
        raise _DerError(f"{len(data) - outer.end} trailing byte(s) after the ContentInfo")
    fields = _children(data, outer)
    if len(fields) != 2 or fields[0].tag != _OID or fields[1].tag != _CTX0:
        raise _DerError("ContentInfo: expected contentType and [0] content")
    found = _oid(data, fields[0])
    if found != expected:
        raise _DerError(f"content type {found} is not {name} ({expected})")
    body = _children(data, fields[1])
    if len(body) != 1 or body[0].tag != _SEQUENCE:
        raise _DerError(f"{name}: expected one SEQUENCE")
    return body[0]


def _octets(data: bytes, explicit: list[_Tlv]) -> bytes:
    """The value of an OCTET STRING, also when BER splits it into segments."""
    if len(explicit) != 1:
        raise _DerError("eContent: expected one OCTET STRING")
    node = explicit[0]
    if node.tag == _OCTETS:
        return data[node.body : node.body_end]
    if node.tag == _OCTETS_CONSTRUCTED:
        return b"".join(_octets(data, [segment]) for segment in _children(data, node))
    raise _DerError(f"eContent: expected an OCTET STRING, found tag 0x{node.tag:02x}")


def _raw(data: bytes, nodes: list[_Tlv]) -> bytes | None:
    """The encoding of the first of `nodes` (optional parameters), or None."""
    return data[nodes[0].start : nodes[0].end] if nodes else None


def _implicit_octets(data: bytes, node: _Tlv) -> bytes:
    """An [n] IMPLICIT OCTET STRING: the bytes, or the joined BER segments if constructed."""
    if node.tag & 0x20:
        return b"".join(_octets(data, [segment]) for segment in _children(data, node))
    return data[node.body : node.body_end]


def _primitive(data: bytes, node: _Tlv) -> bytes:
    if node.tag & 0x20:
        raise _DerError(f"element at byte {node.start} is constructed, expected primitive")
    return data[node.body : node.body_end]


def _oid(data: bytes, node: _Tlv) -> str:
    if node.tag != _OID:
        raise _DerError(f"expected an OBJECT IDENTIFIER at byte {node.start}")
    arcs: list[int] = []
    value = 0
    for byte in data[node.body : node.body_end]:
        value = value << 7 | byte & 0x7F
        if not byte & 0x80:
            arcs.append(value)
            value = 0
    if not arcs:
        raise _DerError(f"empty OBJECT IDENTIFIER at byte {node.start}")
    first = min(arcs[0] // 40, 2)
    return ".".join(str(arc) for arc in (first, arcs[0] - 40 * first, *arcs[1:]))
