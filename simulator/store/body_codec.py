"""How the journal compresses what it keeps of a body: zstd, against the preset dictionary of
the body's kind (its service, operation and direction) when there is one.

zstd with a dictionary prepared once compresses a 13 KB signed eTar body in ~7 µs to ~0.55 KB;
zlib set up the same dictionary for every body and took ~45 µs for ~0.7 KB, the largest single
cost of the journal writer under load (loadtests/profile_etar.py). The dictionary itself is
raw content (the first body of its kind), as before: rows written by zlib, with or without a
dictionary, are still read, told apart by the zstd frame's magic number.

Each store (sqlite.py, postgres_dictionaries.py) has its own codec: dictionary numbers are
its database's, so two stores in one process (tests, an in-process server beside a data dir
read for evaluation) must not share prepared dictionaries. Compressing happens in the store's
writer thread (serialised here anyway: a zstd context is not thread-safe), reading in any.
Also here, for both stores: what of a body the journal keeps (`journal_bytes`) and the
business content of an exchange (`content_blob` / `content_of`).
"""

from __future__ import annotations

import json
import threading
import zlib

import zstandard

from simulator.store.masking import mask_secrets

MAX_STORED_BODY = 4 * 1024 * 1024
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

    def content_blob(self, request: str, response: str) -> bytes | None:
        """The business content of both directions, masked and compressed; None when none."""
        if not (request or response):
            return None
        content = {
            "request": mask_secrets(request[:MAX_STORED_BODY]),
            "response": mask_secrets(response[:MAX_STORED_BODY]),
        }
        return self.compress(json.dumps(content).encode("utf-8"))

    def content_of(self, blob: bytes | None) -> dict[str, str]:
        return json.loads(self.decompress(blob)) if blob else {}

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


def journal_bytes(text: str) -> bytes:
    """A body as the journal keeps it: cut at MAX_STORED_BODY, passwords masked, UTF-8."""
    return mask_secrets(text[:MAX_STORED_BODY]).encode("utf-8", errors="replace")
