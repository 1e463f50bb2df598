"""MyCareNet blobs: base64 + raw deflate, tolerant of zlib/gzip wrapping, bounded in size."""

from __future__ import annotations

import base64
import gzip
import hashlib
import zlib
from collections.abc import Callable

import pytest

from simulator.codecs.blob import BlobError, decode_blob, encode_blob, hash_value

CONTENT = b"<RetrieveTransactionRequest>" + b"x" * 500 + b"</RetrieveTransactionRequest>"
LIMIT = 1024 * 1024


def _raw_deflate(data: bytes) -> bytes:
    compressor = zlib.compressobj(wbits=-15)
    return compressor.compress(data) + compressor.flush()


@pytest.mark.parametrize("encoding", ["none", "deflate"])
def test_encode_then_decode_gives_the_content_back(encoding: str) -> None:
    assert decode_blob(encode_blob(CONTENT, encoding), encoding, max_size=LIMIT) == CONTENT


def test_deflate_means_raw_deflate_without_zlib_header() -> None:
    compressed = base64.b64decode(encode_blob(CONTENT, "deflate"))
    assert zlib.decompress(compressed, wbits=-15) == CONTENT
    with pytest.raises(zlib.error):
        zlib.decompress(compressed)  # a zlib header would make this succeed


@pytest.mark.parametrize(
    "wrap",
    [_raw_deflate, zlib.compress, gzip.compress],
    ids=["raw", "zlib", "gzip"],
)
def test_decoding_tolerates_the_wrappers_real_clients_send(wrap: Callable[[bytes], bytes]) -> None:
    text = base64.b64encode(wrap(CONTENT)).decode()
    assert decode_blob(text, "deflate", max_size=LIMIT) == CONTENT


def test_base64_may_be_line_wrapped() -> None:
    text = base64.encodebytes(CONTENT).decode()  # MIME style: a newline every 76 characters
    assert "\n" in text.strip()
    assert decode_blob(text, "none", max_size=LIMIT) == CONTENT


@pytest.mark.parametrize(
    ("text", "encoding", "message"),
    [
        ("not*base64!", "none", "not base64"),
        ("QUJD=QUJD", "none", "not base64"),
        ("   ", "none", "empty blob"),
        (base64.b64encode(b"plain text, not deflated").decode(), "deflate", "not deflate"),
        (base64.b64encode(_raw_deflate(CONTENT)[:-8]).decode(), "deflate", "not deflate"),
        (base64.b64encode(CONTENT).decode(), "gzip", "unsupported ContentEncoding"),
    ],
    ids=["alphabet", "padding", "empty", "not-deflated", "truncated", "unknown-encoding"],
)
def test_bad_blobs_say_what_is_wrong(text: str, encoding: str, message: str) -> None:
    with pytest.raises(BlobError, match=message):
        decode_blob(text, encoding, max_size=LIMIT)


def test_a_decompression_bomb_stops_at_the_cap() -> None:
    bomb = base64.b64encode(_raw_deflate(b"\0" * (50 * 1024 * 1024))).decode()
    assert len(bomb) < 100_000  # tiny on the wire
    with pytest.raises(BlobError, match="expands beyond the 1048576-byte limit"):
        decode_blob(bomb, "deflate", max_size=LIMIT)


def test_content_exactly_at_the_cap_is_accepted() -> None:
    data = b"a" * LIMIT
    assert decode_blob(encode_blob(data, "deflate"), "deflate", max_size=LIMIT) == data
    assert decode_blob(encode_blob(data, "none"), "none", max_size=LIMIT) == data


def test_uncompressed_content_over_the_cap_is_refused() -> None:
    with pytest.raises(BlobError, match="limit"):
        decode_blob(encode_blob(b"a" * (LIMIT + 10), "none"), "none", max_size=LIMIT)


def test_hash_value_is_base64_sha256_of_the_content() -> None:
    assert hash_value(b"abc") == "ungWv48Bz+pBQUDeXa4iI7ADYaOWF3qctBD/YfIAFa0="
    assert base64.b64decode(hash_value(CONTENT)) == hashlib.sha256(CONTENT).digest()
