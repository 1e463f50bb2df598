"""SQLite store (WAL): the embedded default, in the data directory.

Two files: the state (sequences), written through because callers hand its values to
clients, and the journal, written in batches by a background thread so that a request never
waits for the disk, without fsyncs (it survives a killed process, not a power cut).

The journal row is small on purpose: bodies are masked (passwords), cut at MAX_STORED_BODY and
compressed in the writer thread (store/body_codec.py: zstd) against a preset dictionary per
operation and direction (an earlier body of the same kind, kept once in `journal_dict`): the
SAML assertion, the certificates and the envelope repeat from one exchange to the next, so a
signed eTar exchange (~24 KB of XML) is kept in ~1.2 KB. The writer also applies the
retention policy (`JournalPolicy`: at most `max_rows` rows, none older than `max_age`) every
few seconds.
Queries use their own connection (WAL readers never wait for the writer) and are meant to
be called off the event loop.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from simulator.store.base import JournalEntry, JournalPolicy, JournalQuery
from simulator.store.body_codec import BodyCodec, journal_bytes
from simulator.store.preset_dictionaries import PresetDictionaries
from simulator.store.seen import SeenCache
from simulator.store.sqlite_file import SqliteFile

SCHEMA_VERSION = 1
FLUSH_INTERVAL_S = 0.1
RETENTION_INTERVAL_S = 5.0
SEQUENCE_BLOCK = 64
DELETE_BATCH = 5_000  # rows deleted per retention transaction (short write locks)

log = logging.getLogger(__name__)

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
CREATE TABLE IF NOT EXISTS journal_dict (id INTEGER PRIMARY KEY, data BLOB NOT NULL, retired REAL);
"""
# Columns added after version 1 (ALTER TABLE keeps older journals readable): when the row was
# written (wall time, for max_age) and the compressed bodies with their dictionaries. They
# come last, so that a scan of the metadata never walks a body's overflow pages.
_ADDED_COLUMNS = (
    ("written", "REAL"),
    ("request_z", "BLOB"),
    ("request_dict", "INTEGER"),
    ("response_z", "BLOB"),
    ("response_dict", "INTEGER"),
    # The request's reference (searchable) and the business content in clear, both ways
    # (JSON {"request": ..., "response": ...}, masked, compressed; NULL when none).
    ("reference", "TEXT"),
    ("content_z", "BLOB"),
)
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
_WRITTEN = (*_COLUMNS, *(name for name, _ in _ADDED_COLUMNS))


class SqliteStore:
    def __init__(
        self,
        path: Path,
        journal_path: Path | None = None,
        *,
        policy: JournalPolicy | None = None,
        seen_capacity: int | None = None,
    ) -> None:
        self.journal_policy = policy or JournalPolicy()
        self._state = SqliteFile(path, synchronous="NORMAL", schema=_STATE_SCHEMA)
        self._state.connection.execute(f"PRAGMA user_version={SCHEMA_VERSION}")
        journal_file = journal_path or path.with_name(f"{path.stem}-journal{path.suffix}")
        self._journal = SqliteFile(journal_file, synchronous="OFF", schema=_JOURNAL_SCHEMA)
        _add_columns(self._journal)
        # Readers get their own connection: a long query never holds up the writer.
        self._reader = SqliteFile(journal_file, synchronous="OFF", schema="")
        self._sequence_lock = threading.Lock()
        self._reserved: dict[str, tuple[int, int]] = {}  # name -> (last drawn, last reserved)
        self._seen = SeenCache(seen_capacity) if seen_capacity else SeenCache()
        self._dictionaries = PresetDictionaries()
        self._codec = BodyCodec()  # its dictionary numbers are this journal's
        self._pending: list[JournalEntry] = []
        self._pending_lock = threading.Lock()
        self._flush_lock = threading.Lock()  # one batch at a time, in order
        self._wake = threading.Event()
        self._closing = False
        self._last_retention = 0.0
        self._wrote = False  # rows written since the last retention pass
        self._writer = threading.Thread(target=self._write_loop, name="journal-writer", daemon=True)
        self._writer.start()

    # -- journal -------------------------------------------------------------------------
    def record(self, entry: JournalEntry) -> None:
        with self._pending_lock:
            self._pending.append(entry)

    def flush(self) -> None:
        with self._flush_lock:
            with self._pending_lock:
                batch, self._pending = self._pending, []
            if not batch:
                return
            self._wrote = True
            written = time.time()
            placeholders = ", ".join("?" for _ in _WRITTEN)
            with self._journal.transaction() as db:
                rows = [self._row(db, entry, written) for entry in batch]
                db.executemany(
                    f"INSERT INTO journal ({', '.join(_WRITTEN)}) VALUES ({placeholders})",  # noqa: S608
                    rows,
                )

    def journal(self, query: JournalQuery) -> list[JournalEntry]:
        self.flush()
        where, params = _where(query)
        order = "DESC" if query.newest_first else "ASC"
        sql = (
            f"SELECT {_selected(query.include_bodies)} FROM journal {where} "  # noqa: S608
            f"ORDER BY id {order} LIMIT ? OFFSET ?"
        )
        params.extend([query.limit, query.offset])
        with self._reader.lock:
            rows = self._reader.connection.execute(sql, params).fetchall()
            return [self._entry(row) for row in rows]

    def journal_count(self, query: JournalQuery) -> int:
        self.flush()
        where, params = _where(query)
        sql = f"SELECT count(*) FROM journal {where}"  # noqa: S608
        with self._reader.lock:
            return int(self._reader.connection.execute(sql, params).fetchone()[0])

    def journal_entry(self, entry_id: int) -> JournalEntry | None:
        self.flush()
        sql = f"SELECT {_selected(True)} FROM journal WHERE id = ?"  # noqa: S608
        with self._reader.lock:
            row = self._reader.connection.execute(sql, (entry_id,)).fetchone()
            return None if row is None else self._entry(row)

    def journal_rows(self) -> int:
        """How many rows the journal holds (for the benchmarks and the retention tests)."""
        self.flush()
        with self._reader.lock:
            return int(
                self._reader.connection.execute("SELECT count(*) FROM journal").fetchone()[0]
            )

    def apply_retention(self, now: float | None = None) -> int:
        """Delete what the policy no longer keeps, oldest first; returns how many rows went.
        The writer thread calls it every RETENTION_INTERVAL_S; callable directly (tests)."""
        policy = self.journal_policy
        now = time.time() if now is None else now
        with self._journal.lock:
            first, last = self._journal.connection.execute(
                "SELECT min(id), max(id) FROM journal"
            ).fetchone()
        if last is None:
            return 0
        below = int(first)  # rows with an id below this one go
        if policy.max_rows is not None:
            below = max(below, int(last) - policy.max_rows + 1)
        if policy.max_age is not None:
            below = max(below, self._first_id_written_since(now - policy.max_age.total_seconds()))
        deleted = 0
        while True:  # in batches: each transaction holds the write lock briefly
            with self._journal.transaction() as db:
                cursor = db.execute(
                    "DELETE FROM journal WHERE id IN "
                    "(SELECT id FROM journal WHERE id < ? ORDER BY id LIMIT ?)",
                    (below, DELETE_BATCH),
                )
                count = cursor.rowcount
            deleted += count
            if count < DELETE_BATCH:
                break
        if deleted:
            with self._journal.transaction() as db:
                # A retired dictionary is used by rows written up to its retirement only.
                db.execute(
                    "DELETE FROM journal_dict WHERE retired IS NOT NULL AND retired < "
                    "coalesce((SELECT written FROM journal ORDER BY id LIMIT 1), 1e300)"
                )
        return deleted

    def _first_id_written_since(self, cutoff: float) -> int:
        """The smallest id whose row was written at or after `cutoff` (ids grow with time):
        a binary search on the primary key, no index on `written` needed."""
        connection = self._journal.connection
        with self._journal.lock:
            low, high = connection.execute("SELECT min(id), max(id) + 1 FROM journal").fetchone()
            low, high = int(low), int(high)
            while low < high:
                middle = (low + high) // 2
                row = connection.execute(
                    "SELECT id, written FROM journal WHERE id >= ? ORDER BY id LIMIT 1", (middle,)
                ).fetchone()
                if row is None or (row[1] is not None and row[1] >= cutoff):
                    high = middle
                else:
                    low = int(row[0]) + 1
            return low

    # -- replay cache --------------------------------------------------------------------
    def first_seen(self, keys: Iterable[bytes], until: float) -> bool:
        return self._seen.first_seen(keys, until, time.time())

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
        with self._flush_lock:
            with self._pending_lock:
                self._pending.clear()
            with self._journal.transaction() as db:
                db.execute("DELETE FROM journal")
                db.execute("DELETE FROM journal_dict")
            self._dictionaries.forget()
        self._seen.clear()

    def close(self) -> None:
        self._closing = True
        self._wake.set()
        self._writer.join(timeout=5)
        self.flush()
        self._reader.close()
        self._journal.close()
        self._state.close()

    def _write_loop(self) -> None:
        while not self._closing:
            self._wake.wait(FLUSH_INTERVAL_S)
            try:
                self.flush()
                # Only a store that writes prunes: one opened to read a journal (conformance
                # evaluate on a data dir) must not delete what it came to read.
                due = time.monotonic() - self._last_retention >= RETENTION_INTERVAL_S
                if self._wrote and due:
                    self._last_retention = time.monotonic()
                    self._wrote = False
                    self.apply_retention()
            except Exception:  # the journal must never take the server down
                log.exception("journal writer: a batch could not be written")

    # -- rows ----------------------------------------------------------------------------
    def _row(self, db: Any, entry: JournalEntry, written: float) -> tuple[Any, ...]:
        keep = self.journal_policy.keeps_bodies(entry.outcome)
        request_z = request_dict = response_z = response_dict = None
        if keep:
            kind = (entry.service, entry.operation)
            request_z, request_dict = self._compress(db, (*kind, "request"), entry.request)
            response_z, response_dict = self._compress(db, (*kind, "response"), entry.response)
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
            json.dumps(entry.security, separators=(",", ":")),
            json.dumps(_compact_stages(entry.stages), separators=(",", ":")),
            "",
            "",
            written,
            request_z,
            request_dict,
            response_z,
            response_dict,
            entry.reference,
            self._codec.content_blob(entry.request_content, entry.response_content)
            if keep
            else None,
        )

    def _compress(
        self, db: Any, kind: tuple[str, str, str], text: str
    ) -> tuple[bytes | None, int | None]:
        if not text:
            return None, None
        data = journal_bytes(text)
        dictionary = self._dictionaries.for_kind(_SqliteTable(db), kind, data)
        return self._codec.compress(data, dictionary), (dictionary[0] if dictionary else None)

    def _entry(self, row: tuple[Any, ...]) -> JournalEntry:
        head = row[: 1 + len(_COLUMNS) - 2]
        reference, content_z = row[len(head) : len(head) + 2]
        request, response, request_z, request_dict, response_z, response_dict = row[-6:]
        values = dict(zip(("id", *_COLUMNS[:-2]), head, strict=True))
        values["reference"] = reference
        content = self._codec.content_of(content_z)
        values["request_content"] = content.get("request", "")
        values["response_content"] = content.get("response", "")
        values["security"] = json.loads(values["security"])
        values["stages"] = _expand_stages(json.loads(values["stages"]))
        values["request"] = self._text(request, request_z, request_dict)
        values["response"] = self._text(response, response_z, response_dict)
        return JournalEntry(**values)

    def _text(self, plain: str, compressed: bytes | None, dictionary: int | None) -> str:
        if compressed is None:
            return plain  # a row of an older journal, or no body kept
        preset = None
        if dictionary is not None:
            table = _SqliteTable(self._reader.connection)
            preset = (dictionary, self._dictionaries.data(table, dictionary))
        return self._codec.decompress(compressed, preset).decode("utf-8", errors="replace")


class _SqliteTable:
    """`journal_dict` through one connection (the writer's transaction, or the reader)."""

    def __init__(self, db: Any) -> None:
        self.db = db

    def insert(self, data: bytes, retire: int | None) -> int:
        if retire is not None:
            self.db.execute(
                "UPDATE journal_dict SET retired = ? WHERE id = ?", (time.time(), retire)
            )
        return int(self.db.execute("INSERT INTO journal_dict (data) VALUES (?)", (data,)).lastrowid)

    def select(self, number: int) -> bytes | None:
        row = self.db.execute("SELECT data FROM journal_dict WHERE id = ?", (number,)).fetchone()
        return None if row is None else bytes(row[0])


def _add_columns(journal: SqliteFile) -> None:
    with journal.lock:
        present = {row[1] for row in journal.connection.execute("PRAGMA table_info(journal)")}
        for name, kind in _ADDED_COLUMNS:
            if name not in present:
                journal.connection.execute(f"ALTER TABLE journal ADD COLUMN {name} {kind}")
        # Dictionaries a previous process was using: none is current any more.
        journal.connection.execute(
            "UPDATE journal_dict SET retired = ? WHERE retired IS NULL", (time.time(),)
        )


def _where(query: JournalQuery) -> tuple[str, list[Any]]:
    """The WHERE clause of `query`'s filters (limit and offset aside), with its parameters."""
    clauses: list[str] = []
    params: list[Any] = []
    for column in ("service", "operation", "outcome", "provider_nihii", "patient_ssin", "code"):
        value = getattr(query, column)
        if value is not None:
            clauses.append(f"{column} = ?")
            params.append(value)
    if query.reference:
        clauses.append("instr(reference, ?) > 0")
        params.append(query.reference)
    if query.after_id is not None:
        clauses.append("id > ?")
        params.append(query.after_id)
    if query.since is not None:
        clauses.append("at >= ?")
        params.append(query.since)
    if query.until is not None:
        clauses.append("at < ?")
        params.append(query.until)
    return (f"WHERE {' AND '.join(clauses)}" if clauses else ""), params


def _selected(bodies: bool) -> str:
    """The columns `_entry` reads: id, metadata, reference, content, then the six of bodies."""
    columns = ", ".join(_COLUMNS[:-2])
    if bodies:
        return (
            f"id, {columns}, reference, content_z, "
            "request, response, request_z, request_dict, response_z, response_dict"
        )
    return f"id, {columns}, reference, NULL, '', '', NULL, NULL, NULL, NULL"


def _compact_stages(stages: list[dict[str, Any]]) -> list[list[Any]]:
    """[name, ms] or [name, ms, note]: a third of the JSON of the dicts."""
    compact: list[list[Any]] = []
    for stage in stages:
        item = [stage.get("name", ""), stage.get("ms", 0.0)]
        if stage.get("note"):
            item.append(stage["note"])
        compact.append(item)
    return compact


def _expand_stages(stored: list[Any]) -> list[dict[str, Any]]:
    expanded: list[dict[str, Any]] = []
    for item in stored:
        if isinstance(item, dict):  # a row of an older journal
            expanded.append(item)
        else:
            expanded.append(
                {"name": item[0], "ms": item[1], "note": item[2] if len(item) > 2 else ""}
            )
    return expanded
