"""MyCareNet blobs (`Detail`, wire-formats 1.6): base64 text carrying raw or deflated bytes.

Every service that receives a `Detail` decodes it here, so the limits live in one place: strict
base64, raw DEFLATE (zlib- or gzip-wrapped tolerated, as the eHealth connector auto-detects), and
a cap on the decompressed size so a small blob cannot expand into gigabytes.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import zlib

DEFAULT_MAX_SIZE = 20 * 1024 * 1024
# What `\s` matches in a bytes regex; bytes.translate deletes it in C without a regex scan.
_ASCII_WHITESPACE = b" \t\n\r\f\v"
# Decompress in bounded steps so memory never exceeds the cap by more than one chunk.
_CHUNK = 64 * 1024


class BlobError(ValueError):
    """The blob cannot be decoded; the message says what is wrong (safe to show a client)."""


def decode_blob(
    text: str | bytes, content_encoding: str, *, max_size: int = DEFAULT_MAX_SIZE
) -> bytes:
    """Turn the base64 text of a `Detail` into the content bytes it carries."""
    encoding = content_encoding.strip().lower()
    if encoding not in ("none", "deflate"):
        raise BlobError(f"unsupported ContentEncoding {content_encoding!r} (none or deflate)")
    data = _b64decode(text, max_size if encoding == "none" else None)
    if encoding == "none":
        if len(data) > max_size:
            raise BlobError(f"content of {len(data)} bytes exceeds the {max_size}-byte limit")
        return data
    return _inflate(data, max_size)


def encode_blob(data: bytes, content_encoding: str) -> str:
    """The base64 text of a `Detail` for `data`; deflate means raw DEFLATE (RFC 1951)."""
    encoding = content_encoding.strip().lower()
    if encoding == "deflate":
        compressor = zlib.compressobj(level=6, wbits=-15)
        data = compressor.compress(data) + compressor.flush()
    elif encoding != "none":
        raise BlobError(f"unsupported ContentEncoding {content_encoding!r} (none or deflate)")
    return base64.b64encode(data).decode("ascii")


def hash_value(data: bytes) -> str:
    """`HashValue`: base64 of the SHA-256 of the (decompressed) content."""
    return base64.b64encode(hashlib.sha256(data).digest()).decode("ascii")


def _b64decode(text: str | bytes, max_size: int | None) -> bytes:
    raw = text.encode("ascii", "replace") if isinstance(text, str) else text
    # xs:base64Binary allows whitespace (line-wrapped clients); anything else must be alphabet.
    compact = raw.translate(None, _ASCII_WHITESPACE)
    if not compact:
        raise BlobError("empty blob: no base64 content")
    if max_size is not None and len(compact) // 4 * 3 > max_size + 3:
        raise BlobError(f"content exceeds the {max_size}-byte limit")
    try:
        return base64.b64decode(compact, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise BlobError(f"not base64: {exc}") from None


def _looks_wrapped(data: bytes) -> bool:
    # zlib header: CM=8 and the 16-bit header a multiple of 31 (RFC 1950); gzip magic 1f 8b.
    if data[:2] == b"\x1f\x8b":
        return True
    return len(data) >= 2 and data[0] & 0x0F == 8 and (data[0] << 8 | data[1]) % 31 == 0


def _inflate(data: bytes, max_size: int) -> bytes:
    # wbits 47 = auto-detect zlib or gzip header; -15 = raw. Try the likely one first.
    attempts = (47, -15) if _looks_wrapped(data) else (-15, 47)
    first_error: str | None = None
    for wbits in attempts:
        try:
            return _inflate_with(data, wbits, max_size)
        except zlib.error as exc:
            first_error = first_error or str(exc)
    raise BlobError(f"not deflate data although ContentEncoding is deflate: {first_error}")


def _inflate_with(data: bytes, wbits: int, max_size: int) -> bytes:
    inflater = zlib.decompressobj(wbits=wbits)
    out = bytearray()
    pending = data
    while pending and not inflater.eof:
        out += inflater.decompress(pending, _CHUNK)
        if len(out) > max_size:
            raise BlobError(f"deflated content expands beyond the {max_size}-byte limit")
        pending = inflater.unconsumed_tail
    if not inflater.eof:
        out += inflater.flush()
        if not inflater.eof:
            raise zlib.error("truncated deflate stream")
    if len(out) > max_size:
        raise BlobError(f"deflated content expands beyond the {max_size}-byte limit")
    return bytes(out)
