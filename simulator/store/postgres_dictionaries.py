"""Journal bodies compressed against preset dictionaries, in PostgreSQL (as store/sqlite.py
does in SQLite): the SAML assertion, the certificates and the envelope repeat from one
exchange to the next, so a signed eTar body of ~13 KB is kept in ~0.6 KB, and compressed
faster than without one (store/body_codec.py: zstd).

Each process keeps a current dictionary per (service, operation, direction): the first body
of a kind (its last 32 KB) is stored in `journal_dict` and used for the next DICTIONARY_REFRESH
bodies of that kind, then retired (`retired` = when). A retired dictionary is only used by
rows written up to its retirement, so retention drops it once those rows are gone; the
current ones of every worker are never dropped (a worker killed before it retires them
leaves a few 32 KB rows behind).
"""

from __future__ import annotations

import threading
import time

from simulator.store.body_codec import BodyCodec
from simulator.store.postgres_pool import ConnectionPool

DICTIONARY_BYTES = 32 * 1024  # bodies are cut at MAX_STORED_BODY anyway
DICTIONARY_REFRESH = 50_000
_CACHE = 256

Kind = tuple[str, str, str]  # service, operation, request|response


class Dictionaries:
    def __init__(self, pool: ConnectionPool) -> None:
        self._pool = pool
        self._current: dict[Kind, tuple[int, bytes, int]] = {}  # id, data, uses
        self._cache: dict[int, bytes] = {}
        self._lock = threading.Lock()
        self.codec = BodyCodec()  # its dictionary numbers are this database's

    def compress(self, kind: Kind, data: bytes) -> tuple[bytes, int | None]:
        """`data` compressed, and the dictionary it needs (None: none)."""
        dictionary = self._for_kind(kind, data)
        return self.codec.compress(data, dictionary), (dictionary[0] if dictionary else None)

    def decompress(self, data: bytes, number: int | None) -> bytes:
        preset = None if number is None else (number, self._data(number))
        return self.codec.decompress(data, preset)

    def retire_all(self) -> None:
        """This process stops using its dictionaries (it closes): retention may drop them."""
        with self._lock:
            numbers = [number for number, _, _ in self._current.values()]
            self._current.clear()
        if numbers:
            with self._pool.connection() as connection:
                connection.execute(
                    "UPDATE journal_dict SET retired = %s WHERE id = ANY(%s)",
                    (time.time(), numbers),
                )

    def _for_kind(self, kind: Kind, data: bytes) -> tuple[int, bytes] | None:
        with self._lock:
            current = self._current.get(kind)
            if current is not None and current[2] < DICTIONARY_REFRESH:
                number, zdict, uses = current
                self._current[kind] = (number, zdict, uses + 1)
                return number, zdict
        zdict = data[-DICTIONARY_BYTES:]
        with self._pool.connection() as connection:
            if current is not None:
                connection.execute(
                    "UPDATE journal_dict SET retired = %s WHERE id = %s", (time.time(), current[0])
                )
            row = connection.execute(
                "INSERT INTO journal_dict (data) VALUES (%s) RETURNING id", (zdict,)
            ).fetchone()
        if row is None:
            raise RuntimeError("a journal dictionary could not be stored")
        with self._lock:
            self._current[kind] = (int(row[0]), zdict, 0)
            self._cache[int(row[0])] = zdict
        return None  # this body is compressed alone: it is the dictionary

    def _data(self, number: int) -> bytes:
        with self._lock:
            cached = self._cache.get(number)
        if cached is not None:
            return cached
        with self._pool.connection() as connection:
            row = connection.execute(
                "SELECT data FROM journal_dict WHERE id = %s", (number,)
            ).fetchone()
        if row is None:
            raise LookupError(f"journal dictionary {number} is missing")
        data = bytes(row[0])
        with self._lock:
            if len(self._cache) > _CACHE:
                self._cache.clear()
            self._cache[number] = data
        return data
