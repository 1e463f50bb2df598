"""Business records that must survive a restart: issued attestations, UMA attestations, ...

One small key-value API over JSON documents, grouped by kind ("eattest", "uma", ...), so each
service keeps its own records without its own table. Every write is committed before it
returns: a record the client was told about is never lost, even if the process is killed.

Several writes that must exist together or not at all (a GenAsync post: the posted file, its
processing state and its TAck) are made inside `deferred()`: they are only kept in memory,
visible to reads in the same context, until `commit(batch)` writes them in one transaction.
A batch never committed (a fault, a crash) leaves nothing behind.
"""

from __future__ import annotations

import json
from abc import ABC, abstractmethod
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, Protocol

from simulator.store.group_commit import LoopPassGroup
from simulator.store.sqlite_file import SqliteFile

Document = dict[str, Any]
Operation = Literal["insert", "put", "delete"]
Write = tuple[Operation, str, str, str | None]  # operation, kind, key, JSON text (None: delete)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS records (
    kind TEXT NOT NULL,
    key TEXT NOT NULL,
    value TEXT NOT NULL,
    PRIMARY KEY (kind, key)
);
"""


@dataclass
class Batch:
    """Writes held back by `Records.deferred()`: in order, and by key for reads."""

    operations: list[Write] = field(default_factory=list)
    documents: dict[tuple[str, str], str | None] = field(default_factory=dict)  # None: deleted
    committed: bool = False

    def hold(self, operation: Operation, kind: str, key: str, text: str | None) -> None:
        self.operations.append((operation, kind, key, text))
        self.documents[(kind, key)] = text


class Records(Protocol):
    def insert(self, kind: str, key: str, value: Mapping[str, Any]) -> bool:
        """Store a new record; False (and nothing written) when `key` already exists."""

    def put(self, kind: str, key: str, value: Mapping[str, Any]) -> None:
        """Store or replace a record."""

    async def put_many(self, kind: str, values: Mapping[str, Mapping[str, Any]]) -> None:
        """Store or replace records by key, committed when it returns, without holding the
        event loop on a round trip to another process."""

    def get(self, kind: str, key: str) -> Document | None: ...

    def get_many(self, kind: str, keys: Sequence[str]) -> dict[str, Document]:
        """The records of `kind` among `keys` that exist, by key, in one read where the
        backend can."""

    def find(self, kind: str, *, prefix: str = "", limit: int = 1000) -> list[tuple[str, Document]]:
        """Records of `kind` whose key starts with `prefix`, in key order."""

    def find_any(
        self, kind: str, prefixes: Sequence[str], *, limit: int = 1000
    ) -> list[tuple[str, Document]]:
        """Records of `kind` whose key starts with any of `prefixes`, in key order, in one
        read where the backend can (many small prefix scans cost a round trip each)."""

    def delete(self, kind: str, key: str) -> bool:
        """Remove a record; False when there was none."""

    def clear(self) -> None: ...

    def close(self) -> None: ...

    def deferred(self) -> Any:
        """Context manager: writes inside it go to the `Batch` it yields, not the store."""

    def commit(self, batch: Batch) -> None:
        """Write a deferred batch in one transaction (once; later calls do nothing)."""


class BatchedRecords(ABC):
    """The `Records` semantics every backend shares: JSON documents, and `deferred()` batches
    that reads in the same context see before they are committed. A backend supplies the
    immediate reads and writes and the one-transaction `_write_batch`."""

    def __init__(self) -> None:
        self._batch: ContextVar[Batch | None] = ContextVar(
            f"records-batch-{id(self)}", default=None
        )

    # -- what a backend implements ---------------------------------------------------------
    @abstractmethod
    def _read(self, kind: str, key: str) -> str | None: ...

    @abstractmethod
    def _scan(self, kind: str, prefix: str, limit: int) -> list[tuple[str, str]]:
        """(key, text) of `kind` whose key starts with `prefix`, in byte order."""

    def _read_many(self, kind: str, keys: Sequence[str]) -> dict[str, str]:
        """`_read` of every key (those that exist); a backend across the network reads once."""
        found = {key: self._read(kind, key) for key in keys}
        return {key: text for key, text in found.items() if text is not None}

    def _scan_any(self, kind: str, prefixes: Sequence[str], limit: int) -> list[tuple[str, str]]:
        """`_scan` of every prefix, merged; a backend across the network does it in one."""
        found: dict[str, str] = {}
        for prefix in prefixes:
            found.update(self._scan(kind, prefix, limit))
        return sorted(found.items())[:limit]

    @abstractmethod
    def _write(self, operation: Operation, kind: str, key: str, text: str | None) -> bool:
        """One immediate write, committed; whether it changed a row."""

    @abstractmethod
    def _write_batch(self, operations: list[Write]) -> None:
        """Every operation in one transaction."""

    async def _write_soon(self, operations: list[Write]) -> None:
        """`operations` committed when it returns. An in-process database writes at once
        (faster than any thread hop); a backend across the network overrides this."""
        self._write_batch(operations)

    # -- the Records API -------------------------------------------------------------------
    def insert(self, kind: str, key: str, value: Mapping[str, Any]) -> bool:
        text = json.dumps(value, sort_keys=True)
        batch = self._batch.get()
        if batch is None:
            return self._write("insert", kind, key, text)
        if self._raw(kind, key, batch) is not None:
            return False
        batch.hold("insert", kind, key, text)
        return True

    def put(self, kind: str, key: str, value: Mapping[str, Any]) -> None:
        text = json.dumps(value, sort_keys=True)
        batch = self._batch.get()
        if batch is None:
            self._write("put", kind, key, text)
        else:
            batch.hold("put", kind, key, text)

    async def put_many(self, kind: str, values: Mapping[str, Mapping[str, Any]]) -> None:
        operations: list[Write] = [
            ("put", kind, key, json.dumps(value, sort_keys=True)) for key, value in values.items()
        ]
        batch = self._batch.get()
        if batch is not None:
            for operation in operations:
                batch.hold(*operation)
        elif operations:
            await self._write_soon(operations)

    def get(self, kind: str, key: str) -> Document | None:
        raw = self._raw(kind, key, self._batch.get())
        return None if raw is None else _document(raw)

    def get_many(self, kind: str, keys: Sequence[str]) -> dict[str, Document]:
        batch = self._batch.get()
        held = batch.documents if batch is not None else {}
        stored = self._read_many(kind, [key for key in keys if (kind, key) not in held])
        for key in keys:
            if (kind, key) in held:
                text = held[(kind, key)]
                if text is not None:
                    stored[key] = text
        return {key: _document(text) for key, text in stored.items()}

    def _raw(self, kind: str, key: str, batch: Batch | None) -> str | None:
        if batch is not None and (kind, key) in batch.documents:
            return batch.documents[(kind, key)]
        return self._read(kind, key)

    def find(self, kind: str, *, prefix: str = "", limit: int = 1000) -> list[tuple[str, Document]]:
        return self._with_batch(kind, (prefix,), self._scan(kind, prefix, limit), limit)

    def find_any(
        self, kind: str, prefixes: Sequence[str], *, limit: int = 1000
    ) -> list[tuple[str, Document]]:
        if not prefixes:
            return []
        wanted = tuple(prefixes)
        return self._with_batch(kind, wanted, self._scan_any(kind, wanted, limit), limit)

    def _with_batch(
        self, kind: str, prefixes: tuple[str, ...], rows: list[tuple[str, str]], limit: int
    ) -> list[tuple[str, Document]]:
        """Rows read from the store, as the writes held in this context's batch change them."""
        batch = self._batch.get()
        if batch is not None and batch.documents:
            merged = dict(rows)
            for (held_kind, key), text in batch.documents.items():
                if held_kind == kind and key.startswith(prefixes):
                    if text is None:
                        merged.pop(key, None)
                    else:
                        merged[key] = text
            rows = sorted(merged.items())[:limit]
        return [(key, _document(value)) for key, value in rows]

    def delete(self, kind: str, key: str) -> bool:
        batch = self._batch.get()
        if batch is None:
            return self._write("delete", kind, key, None)
        if self._raw(kind, key, batch) is None:
            return False
        batch.hold("delete", kind, key, None)
        return True

    @contextmanager
    def deferred(self) -> Iterator[Batch]:
        if self._batch.get() is not None:
            raise RuntimeError("deferred() blocks do not nest")
        batch = Batch()
        token = self._batch.set(batch)
        try:
            yield batch
        finally:
            self._batch.reset(token)

    def commit(self, batch: Batch) -> None:
        if batch.committed:
            return
        self._write_batch(batch.operations)
        batch.committed = True


# A key range the primary key's index answers, then the exact prefix test.
_SQLITE_SCAN = (
    "SELECT key, value FROM records WHERE kind = ? AND key >= ? AND key < ? "
    "AND substr(key, 1, ?) = ? ORDER BY key LIMIT ?"
)
_SQLITE_WRITES: dict[Operation, str] = {
    "insert": "INSERT OR IGNORE INTO records (kind, key, value) VALUES (?, ?, ?)",
    "put": "INSERT OR REPLACE INTO records (kind, key, value) VALUES (?, ?, ?)",
    "delete": "DELETE FROM records WHERE kind = ? AND key = ?",
}


class SqliteRecords(BatchedRecords):
    """`Records` in a SQLite file (WAL), shareable with the store's state file."""

    def __init__(self, path: Path) -> None:
        super().__init__()
        self._file = SqliteFile(path, synchronous="NORMAL", schema=_SCHEMA)
        self._group: LoopPassGroup[Write] = LoopPassGroup(
            lambda operations: self._write_batch(list(operations))
        )

    def _read(self, kind: str, key: str) -> str | None:
        with self._file.lock:
            row = self._file.connection.execute(
                "SELECT value FROM records WHERE kind = ? AND key = ?", (kind, key)
            ).fetchone()
        return None if row is None else str(row[0])

    def _scan(self, kind: str, prefix: str, limit: int) -> list[tuple[str, str]]:
        with self._file.lock:
            rows: list[tuple[str, str]] = self._file.connection.execute(
                _SQLITE_SCAN, (kind, prefix, prefix + "\U0010ffff", len(prefix), prefix, limit)
            ).fetchall()
        return rows

    def _write(self, operation: Operation, kind: str, key: str, text: str | None) -> bool:
        with self._file.transaction() as db:
            return db.execute(_SQLITE_WRITES[operation], parameters(kind, key, text)).rowcount == 1

    def _write_batch(self, operations: list[Write]) -> None:
        with self._file.transaction() as db:
            for operation, kind, key, text in operations:
                db.execute(_SQLITE_WRITES[operation], parameters(kind, key, text))

    async def _write_soon(self, operations: list[Write]) -> None:
        await self._group.write(operations)

    def clear(self) -> None:
        with self._file.transaction() as db:
            db.execute("DELETE FROM records")

    def close(self) -> None:
        self._file.close()


def parameters(kind: str, key: str, text: str | None) -> tuple[str, ...]:
    """The statement parameters of one write (a delete has no text)."""
    return (kind, key) if text is None else (kind, key, text)


def _document(raw: str) -> Document:
    value = json.loads(raw)
    if not isinstance(value, dict):
        raise ValueError("a stored record is not a JSON object")
    return value
