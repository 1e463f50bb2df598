"""The journal's body codec: zstd against the kind's dictionary, and rows written by the zlib
codec before it still read back."""

from __future__ import annotations

import zlib

from simulator.store.body_codec import ZSTD_MAGIC, BodyCodec

ASSERTION = b"<saml:Assertion>" + b"<saml:Attribute Name='urn:be:fgov:person:ssin'/>" * 80
FIRST = b"<soap:Envelope>" + ASSERTION + b"<Body>patient 85073003328</Body></soap:Envelope>"
LATER = b"<soap:Envelope>" + ASSERTION + b"<Body>patient 71010100123</Body></soap:Envelope>"


def test_a_body_round_trips_with_and_without_its_kinds_dictionary() -> None:
    codec = BodyCodec()
    dictionary = (7, FIRST)
    with_dictionary = codec.compress(LATER, dictionary)
    alone = codec.compress(LATER)
    assert with_dictionary.startswith(ZSTD_MAGIC) and alone.startswith(ZSTD_MAGIC)
    assert len(with_dictionary) < len(alone) / 3  # the repeated assertion costs nothing
    assert BodyCodec().decompress(with_dictionary, dictionary) == LATER  # any reader
    assert BodyCodec().decompress(alone) == LATER


def test_rows_written_by_the_zlib_codec_read_back() -> None:
    compressor = zlib.compressobj(6, zdict=FIRST)
    old_with_dictionary = compressor.compress(LATER) + compressor.flush()
    old_alone = zlib.compress(LATER, 6)
    codec = BodyCodec()
    assert codec.decompress(old_with_dictionary, (3, FIRST)) == LATER
    assert codec.decompress(old_alone) == LATER


def test_many_dictionaries_keep_working_past_the_prepared_cache() -> None:
    codec = BodyCodec()
    blobs = [
        (n, codec.compress(LATER + str(n).encode(), (n, FIRST + bytes([n])))) for n in range(100)
    ]
    for n, blob in blobs:
        assert codec.decompress(blob, (n, FIRST + bytes([n]))) == LATER + str(n).encode()
