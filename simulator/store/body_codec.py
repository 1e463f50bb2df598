"""How the journal compresses what it keeps of a body: zstd, against the preset dictionary of
the body's kind (its service, operation and direction) when there is one.

zstd with a dictionary prepared once compresses a 13 KB signed eTar body in ~7 µs to ~0.55 KB;
zlib set up the same dictionary for every body and took ~45 µs for ~0.7 KB, the largest single
cost of the journal writer under load (loadtests/profile_etar.py). The dictionary itself is
raw content (the first body of its kind), as before: rows written by zlib, with or without a
dictionary, are still read, told apart by the zstd frame's magic number.

Both stores (sqlite.py, postgres_dictionaries.py) share one codec per store: compressing
happens in their writer thread (serialised here anyway: a zstd context is not thread-safe),
reading in any thread.
"""

from __future__ import annotations

import threading
import zlib

import zstandard

LEVEL = 3
ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"
_PREPARED = 64  # dictionaries kept prepared; a store uses one per kind at a time


class BodyCodec:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._plain = zstandard.ZstdCompressor(level=LEVEL)
        self._compressors: dict[int, zstandard.ZstdCompressor] = {}
        self._dictionaries: dict[int, zstandard.ZstdCompressionDict] = {}

    def compress(self, data: bytes, dictionary: tuple[int, bytes] | None = None) -> bytes:
        """`data` compressed; `dictionary` is (its number in the store, its content)."""
        with self._lock:
            if dictionary is None:
                return self._plain.compress(data)
            number, content = dictionary
            compressor = self._compressors.get(number)
            if compressor is None:
                prepared = self._prepared(number, content)
                # Digested once for this level: otherwise every body loads it again, which
                # costs as much as zlib did.
                prepared.precompute_compress(level=LEVEL)
                compressor = zstandard.ZstdCompressor(level=LEVEL, dict_data=prepared)
                self._compressors[number] = compressor
            return compressor.compress(data)

    def decompress(self, blob: bytes, dictionary: tuple[int, bytes] | None = None) -> bytes:
        if not blob.startswith(ZSTD_MAGIC):  # a row written before zstd
            if dictionary is None:
                return zlib.decompress(blob)
            decompressor = zlib.decompressobj(zdict=dictionary[1])
            return decompressor.decompress(blob) + decompressor.flush()
        if dictionary is None:
            return zstandard.ZstdDecompressor().decompress(blob)
        with self._lock:
            prepared = self._prepared(*dictionary)
        return zstandard.ZstdDecompressor(dict_data=prepared).decompress(blob)

    def _prepared(self, number: int, content: bytes) -> zstandard.ZstdCompressionDict:
        prepared = self._dictionaries.get(number)
        if prepared is None:
            if len(self._dictionaries) >= _PREPARED:
                self._dictionaries.clear()
                self._compressors.clear()
            prepared = zstandard.ZstdCompressionDict(
                content, dict_type=zstandard.DICT_TYPE_RAWCONTENT
            )
            self._dictionaries[number] = prepared
        return prepared
