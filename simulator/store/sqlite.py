"""SQLite store (WAL): the embedded default, in the data directory.

Two files: the state (sequences), written through because callers hand its values to
clients, and the journal, written in batches by a background thread so that a request never
waits for the disk, without fsyncs (it survives a killed process, not a power cut).
"""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Any

from simulator.store.base import JournalEntry, JournalQuery
from simulator.store.sqlite_file import SqliteFile

SCHEMA_VERSION = 1
FLUSH_INTERVAL_S = 0.1
SEQUENCE_BLOCK = 64
MAX_STORED_BODY = 4 * 1024 * 1024

_JOURNAL_SCHEMA = """
CREATE TABLE IF NOT EXISTS journal (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    at TEXT NOT NULL,
    service TEXT NOT NULL,
    operation TEXT NOT NULL,
    path TEXT NOT NULL,
    soap_action TEXT,
    outcome TEXT NOT NULL,
    code TEXT,
    http_status INTEGER NOT NULL,
    duration_ms REAL NOT NULL,
    provider_nihii TEXT,
    patient_ssin TEXT,
    security TEXT NOT NULL,
    stages TEXT NOT NULL,
    request TEXT NOT NULL,
    response TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS journal_at ON journal (at);
CREATE INDEX IF NOT EXISTS journal_service ON journal (service, operation);
"""
_STATE_SCHEMA = """
CREATE TABLE IF NOT EXISTS sequences (name TEXT PRIMARY KEY, value INTEGER NOT NULL);
"""

_COLUMNS = (
    "at",
    "service",
    "operation",
    "path",
    "soap_action",
    "outcome",
    "code",
    "http_status",
    "duration_ms",
    "provider_nihii",
    "patient_ssin",
    "security",
    "stages",
    "request",
    "response",
)


class SqliteStore:
    def __init__(self, path: Path, journal_path: Path | None = None) -> None:
        self._state = SqliteFile(path, synchronous="NORMAL", schema=_STATE_SCHEMA)
        self._state.connection.execute(f"PRAGMA user_version={SCHEMA_VERSION}")
        self._journal = SqliteFile(
            journal_path or path.with_name(f"{path.stem}-journal{path.suffix}"),
            synchronous="OFF",
            schema=_JOURNAL_SCHEMA,
        )
        self._sequence_lock = threading.Lock()
        self._reserved: dict[str, tuple[int, int]] = {}  # name -> (last drawn, last reserved)
        self._pending: list[JournalEntry] = []
        self._pending_lock = threading.Lock()
        self._wake = threading.Event()
        self._closing = False
        self._writer = threading.Thread(target=self._write_loop, name="journal-writer", daemon=True)
        self._writer.start()

    # -- journal -------------------------------------------------------------------------
    def record(self, entry: JournalEntry) -> None:
        with self._pending_lock:
            self._pending.append(entry)

    def flush(self) -> None:
        with self._pending_lock:
            batch, self._pending = self._pending, []
        if not batch:
            return
        rows = [_row(entry) for entry in batch]
        placeholders = ", ".join("?" for _ in _COLUMNS)
        with self._journal.transaction() as db:
            db.executemany(
                f"INSERT INTO journal ({', '.join(_COLUMNS)}) VALUES ({placeholders})",  # noqa: S608
                rows,
            )

    def journal(self, query: JournalQuery) -> list[JournalEntry]:
        self.flush()
        clauses: list[str] = []
        params: list[Any] = []
        for column in ("service", "operation", "outcome", "provider_nihii", "patient_ssin"):
            value = getattr(query, column)
            if value is not None:
                clauses.append(f"{column} = ?")
                params.append(value)
        if query.since is not None:
            clauses.append("at >= ?")
            params.append(query.since)
        if query.until is not None:
            clauses.append("at < ?")
            params.append(query.until)
        where = f"WHERE {' AND '.join(clauses)}" if clauses else ""
        sql = f"SELECT id, {', '.join(_COLUMNS)} FROM journal {where} ORDER BY id LIMIT ? OFFSET ?"  # noqa: S608
        params.extend([query.limit, query.offset])
        with self._journal.lock:
            rows = self._journal.connection.execute(sql, params).fetchall()
        return [_entry(row, query.include_bodies) for row in rows]

    # -- sequences -----------------------------------------------------------------------
    def next_sequence(self, name: str) -> int:
        # Numbers are reserved in blocks: one transaction per SEQUENCE_BLOCK draws instead of one
        # per draw. Unique and increasing across restarts; a restart may leave a gap.
        with self._sequence_lock:
            drawn, reserved = self._reserved.get(name, (0, 0))
            if drawn == reserved:
                reserved = self._reserve(name, SEQUENCE_BLOCK)
                drawn = reserved - SEQUENCE_BLOCK
            self._reserved[name] = (drawn + 1, reserved)
            return drawn + 1

    def _reserve(self, name: str, count: int) -> int:
        with self._state.transaction() as db:
            db.execute(
                "INSERT INTO sequences (name, value) VALUES (?, ?) "
                "ON CONFLICT(name) DO UPDATE SET value = value + excluded.value",
                (name, count),
            )
            row = db.execute("SELECT value FROM sequences WHERE name = ?", (name,)).fetchone()
        return int(row[0])

    # -- lifecycle -----------------------------------------------------------------------
    def clear(self) -> None:
        # Sequences are kept: numbers handed out (commitments, attestations) stay unique even
        # across an admin reset, as the insurer's would.
        with self._pending_lock:
            self._pending.clear()
        with self._journal.transaction() as db:
            db.execute("DELETE FROM journal")

    def close(self) -> None:
        self._closing = True
        self._wake.set()
        self._writer.join(timeout=5)
        self.flush()
        self._journal.close()
        self._state.close()

    def _write_loop(self) -> None:
        while not self._closing:
            self._wake.wait(FLUSH_INTERVAL_S)
            self.flush()


def _row(entry: JournalEntry) -> tuple[Any, ...]:
    return (
        entry.at,
        entry.service,
        entry.operation,
        entry.path,
        entry.soap_action,
        entry.outcome,
        entry.code,
        entry.http_status,
        entry.duration_ms,
        entry.provider_nihii,
        entry.patient_ssin,
        json.dumps(entry.security),
        json.dumps(entry.stages),
        entry.request[:MAX_STORED_BODY],
        entry.response[:MAX_STORED_BODY],
    )


def _entry(row: tuple[Any, ...], include_bodies: bool) -> JournalEntry:
    values = dict(zip(("id", *_COLUMNS), row, strict=True))
    values["security"] = json.loads(values["security"])
    values["stages"] = json.loads(values["stages"])
    if not include_bodies:
        values["request"] = values["response"] = ""
    return JournalEntry(**values)
