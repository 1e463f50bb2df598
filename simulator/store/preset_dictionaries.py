"""Which preset dictionary a journal body is compressed against, for both stores.

The SAML assertion, the certificates and the envelope repeat from one exchange to the next,
so each (service, operation, direction) has a current dictionary: the first body of a kind
(its last DICTIONARY_BYTES) is stored in the database's `journal_dict` table and used for the
next DICTIONARY_REFRESH bodies of that kind, then retired (`retired` = when) for a fresh one.
A retired dictionary is only used by rows written up to its retirement, so retention drops it
once those rows are gone. The rotation is here; the table is the store's (`DictionaryTable`).
"""

from __future__ import annotations

import threading
from typing import Protocol

DICTIONARY_BYTES = 32 * 1024  # bodies of a kind are alike: their last 32 KB is enough
DICTIONARY_REFRESH = 50_000  # bodies compressed against one dictionary before a fresh one
_CACHE = 256  # dictionaries kept in memory for reading

Kind = tuple[str, str, str]  # service, operation, request|response


class DictionaryTable(Protocol):
    def insert(self, data: bytes, retire: int | None) -> int:
        """Store a new dictionary (and mark `retire` retired): its number."""

    def select(self, number: int) -> bytes | None: ...


class PresetDictionaries:
    def __init__(self) -> None:
        self._current: dict[Kind, tuple[int, bytes, int]] = {}  # number, data, uses
        self._cache: dict[int, bytes] = {}
        self._lock = threading.Lock()

    def for_kind(self, table: DictionaryTable, kind: Kind, data: bytes) -> tuple[int, bytes] | None:
        """The dictionary (number, content) to compress `data` with; None for the body that
        becomes the next dictionary (it is stored whole and compressed on its own)."""
        with self._lock:
            current = self._current.get(kind)
            if current is not None and current[2] < DICTIONARY_REFRESH:
                number, content, uses = current
                self._current[kind] = (number, content, uses + 1)
                return number, content
        content = data[-DICTIONARY_BYTES:]
        number = table.insert(content, current[0] if current is not None else None)
        with self._lock:
            self._current[kind] = (number, content, 0)
            self._cache[number] = content
        return None

    def data(self, table: DictionaryTable, number: int) -> bytes:
        with self._lock:
            cached = self._cache.get(number)
        if cached is not None:
            return cached
        content = table.select(number)
        if content is None:
            raise LookupError(f"journal dictionary {number} is missing")
        with self._lock:
            if len(self._cache) > _CACHE:
                self._cache.clear()
            self._cache[number] = content
        return content

    def forget(self) -> list[int]:
        """Stop using every current dictionary (a clear, a close): their numbers."""
        with self._lock:
            numbers = [number for number, _, _ in self._current.values()]
            self._current.clear()
            self._cache.clear()
        return numbers
