"""Journal bodies compressed against preset dictionaries (store/preset_dictionaries.py), in
PostgreSQL's `journal_dict`. The current dictionaries of every worker are never dropped by
retention (a worker killed before it retires them leaves a few 32 KB rows behind).
"""

from __future__ import annotations

import time

from simulator.store.body_codec import BodyCodec
from simulator.store.postgres_pool import ConnectionPool
from simulator.store.preset_dictionaries import Kind, PresetDictionaries


class Dictionaries:
    def __init__(self, pool: ConnectionPool) -> None:
        self._table = _PostgresTable(pool)
        self._presets = PresetDictionaries()
        self.codec = BodyCodec()  # its dictionary numbers are this database's

    def compress(self, kind: Kind, data: bytes) -> tuple[bytes, int | None]:
        """`data` compressed, and the dictionary it needs (None: none)."""
        dictionary = self._presets.for_kind(self._table, kind, data)
        return self.codec.compress(data, dictionary), (dictionary[0] if dictionary else None)

    def decompress(self, data: bytes, number: int | None) -> bytes:
        preset = None if number is None else (number, self._presets.data(self._table, number))
        return self.codec.decompress(data, preset)

    def retire_all(self) -> None:
        """This process stops using its dictionaries (it closes): retention may drop them."""
        numbers = self._presets.forget()
        if numbers:
            with self._table.pool.connection() as connection:
                connection.execute(
                    "UPDATE journal_dict SET retired = %s WHERE id = ANY(%s)",
                    (time.time(), numbers),
                )


class _PostgresTable:
    def __init__(self, pool: ConnectionPool) -> None:
        self.pool = pool

    def insert(self, data: bytes, retire: int | None) -> int:
        with self.pool.connection() as connection:
            if retire is not None:
                connection.execute(
                    "UPDATE journal_dict SET retired = %s WHERE id = %s", (time.time(), retire)
                )
            row = connection.execute(
                "INSERT INTO journal_dict (data) VALUES (%s) RETURNING id", (data,)
            ).fetchone()
        if row is None:
            raise RuntimeError("a journal dictionary could not be stored")
        return int(row[0])

    def select(self, number: int) -> bytes | None:
        with self.pool.connection() as connection:
            row = connection.execute(
                "SELECT data FROM journal_dict WHERE id = %s", (number,)
            ).fetchone()
        return None if row is None else bytes(row[0])
