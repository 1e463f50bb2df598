"""Business records that must survive a restart: issued attestations, UMA attestations, ...

One small key-value API over JSON documents, grouped by kind ("eattest", "uma", ...), so each
service keeps its own records without its own table. Every write is committed before it
returns: a record the client was told about is never lost, even if the process is killed.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Protocol

from simulator.store.sqlite_file import SqliteFile

Document = dict[str, Any]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS records (
    kind TEXT NOT NULL,
    key TEXT NOT NULL,
    value TEXT NOT NULL,
    PRIMARY KEY (kind, key)
);
"""


class Records(Protocol):
    def insert(self, kind: str, key: str, value: Mapping[str, Any]) -> bool:
        """Store a new record; False (and nothing written) when `key` already exists."""

    def put(self, kind: str, key: str, value: Mapping[str, Any]) -> None:
        """Store or replace a record."""

    def get(self, kind: str, key: str) -> Document | None: ...

    def find(self, kind: str, *, prefix: str = "", limit: int = 1000) -> list[tuple[str, Document]]:
        """Records of `kind` whose key starts with `prefix`, in key order."""

    def delete(self, kind: str, key: str) -> bool:
        """Remove a record; False when there was none."""

    def clear(self) -> None: ...

    def close(self) -> None: ...


class SqliteRecords:
    """`Records` in a SQLite file (WAL), shareable with the store's state file."""

    def __init__(self, path: Path) -> None:
        self._file = SqliteFile(path, synchronous="NORMAL", schema=_SCHEMA)

    def insert(self, kind: str, key: str, value: Mapping[str, Any]) -> bool:
        with self._file.transaction() as db:
            cursor = db.execute(
                "INSERT OR IGNORE INTO records (kind, key, value) VALUES (?, ?, ?)",
                (kind, key, json.dumps(value, sort_keys=True)),
            )
            return cursor.rowcount == 1

    def put(self, kind: str, key: str, value: Mapping[str, Any]) -> None:
        with self._file.transaction() as db:
            db.execute(
                "INSERT OR REPLACE INTO records (kind, key, value) VALUES (?, ?, ?)",
                (kind, key, json.dumps(value, sort_keys=True)),
            )

    def get(self, kind: str, key: str) -> Document | None:
        with self._file.lock:
            row = self._file.connection.execute(
                "SELECT value FROM records WHERE kind = ? AND key = ?", (kind, key)
            ).fetchone()
        return None if row is None else _document(row[0])

    def find(self, kind: str, *, prefix: str = "", limit: int = 1000) -> list[tuple[str, Document]]:
        # substr() rather than LIKE: keys may hold '%' or '_'.
        with self._file.lock:
            rows = self._file.connection.execute(
                "SELECT key, value FROM records WHERE kind = ? AND substr(key, 1, ?) = ? "
                "ORDER BY key LIMIT ?",
                (kind, len(prefix), prefix, limit),
            ).fetchall()
        return [(key, _document(value)) for key, value in rows]

    def delete(self, kind: str, key: str) -> bool:
        with self._file.transaction() as db:
            cursor = db.execute("DELETE FROM records WHERE kind = ? AND key = ?", (kind, key))
            return cursor.rowcount == 1

    def clear(self) -> None:
        with self._file.transaction() as db:
            db.execute("DELETE FROM records")

    def close(self) -> None:
        self._file.close()


def _document(raw: str) -> Document:
    value = json.loads(raw)
    if not isinstance(value, dict):
        raise ValueError("a stored record is not a JSON object")
    return value
