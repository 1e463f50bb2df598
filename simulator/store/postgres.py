"""PostgreSQL store: the same `Store` as SQLite's, for several processes or hosts.

Every worker of `serve --workers N` opens its own `PostgresStore` on one database and so sees
one journal, one set of sequences and one replay cache. As in the SQLite store, `record()`
only queues: a writer thread sends the queued entries in batches every FLUSH_INTERVAL_S
(bodies masked, cut at MAX_STORED_BODY and compressed in that thread), applies the
retention policy every RETENTION_INTERVAL_S (one worker at a time, by an advisory lock) and
forgets expired replay keys. Batches of different workers commit one after the other, so ids
become visible in order (a live tail by `after_id` misses none). Reads flush this process's
queue first; another worker's queue reaches the database within FLUSH_INTERVAL_S.

Sequences are reserved in blocks of SEQUENCE_BLOCK per process: unique across every process
and increasing within one; numbers drawn by two workers interleave.
"""

from __future__ import annotations

import hashlib
import logging
import threading
import time
from collections.abc import Iterable
from typing import Any

from psycopg import Rollback, sql
from psycopg.types.json import Jsonb

from simulator.store.base import JournalEntry, JournalPolicy, JournalQuery
from simulator.store.body_codec import journal_bytes
from simulator.store.migrations import migrate
from simulator.store.postgres_dictionaries import Dictionaries
from simulator.store.postgres_pool import ConnectionPool

FLUSH_INTERVAL_S = 0.1
RETENTION_INTERVAL_S = 5.0
SEQUENCE_BLOCK = 64
DELETE_BATCH = 5_000
_RETENTION_LOCK = 0x6D636E72  # advisory lock key: one worker applies retention at a time
_JOURNAL_LOCK = 0x6D636E6A  # advisory lock key: one journal batch commits at a time

log = logging.getLogger(__name__)

_METADATA = (
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
    "reference",
    "security",
    "stages",
)
_BODIES = ("request_z", "request_dict", "response_z", "response_dict", "content_z")
_WRITTEN = (*_METADATA, "written", *_BODIES)
_INSERT = sql.SQL("INSERT INTO journal ({}) VALUES ({})").format(
    sql.SQL(", ").join(map(sql.Identifier, _WRITTEN)),
    sql.SQL(", ").join(sql.Placeholder() * len(_WRITTEN)),
)


class PostgresStore:
    def __init__(
        self,
        pool: ConnectionPool,
        *,
        policy: JournalPolicy | None = None,
        migrate_schema: bool = True,
    ) -> None:
        self.journal_policy = policy or JournalPolicy()
        self._pool = pool
        if migrate_schema:
            with pool.connection() as connection:
                migrate(connection)
        self._dictionaries = Dictionaries(pool)
        self._sequence_lock = threading.Lock()
        self._reserved: dict[str, tuple[int, int]] = {}  # name -> (last drawn, last reserved)
        self._pending: list[JournalEntry] = []
        self._pending_lock = threading.Lock()
        self._flush_lock = threading.Lock()
        self._wake = threading.Event()
        self._closing = False
        self._last_retention = 0.0
        self._writer = threading.Thread(
            target=self._write_loop, name="journal-writer-pg", daemon=True
        )
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
            written = time.time()
            rows = [self._row(entry, written) for entry in batch]
            with self._pool.transaction() as connection, connection.cursor() as cursor:
                # One writer at a time across workers, from taking ids to commit: rows become
                # visible in id order, so a live tail (`after_id`) never skips one.
                cursor.execute("SELECT pg_advisory_xact_lock(%s)", (_JOURNAL_LOCK,))
                cursor.executemany(_INSERT, rows)

    def journal(self, query: JournalQuery) -> list[JournalEntry]:
        self.flush()
        where, params = _where(query)
        bodies = (
            sql.SQL(", ").join(map(sql.Identifier, _BODIES))
            if query.include_bodies
            else sql.SQL("NULL, NULL, NULL, NULL, NULL")
        )
        statement = sql.SQL(
            "SELECT id, {metadata}, {bodies} FROM journal {where} ORDER BY id {order} "
            "LIMIT %s OFFSET %s"
        ).format(
            metadata=sql.SQL(", ").join(map(sql.Identifier, _METADATA)),
            bodies=bodies,
            where=where,
            order=sql.SQL("DESC" if query.newest_first else "ASC"),
        )
        with self._pool.connection() as connection:
            rows = connection.execute(statement, [*params, query.limit, query.offset]).fetchall()
        return [self._entry(row) for row in rows]

    def journal_count(self, query: JournalQuery) -> int:
        self.flush()
        where, params = _where(query)
        statement = sql.SQL("SELECT count(*) FROM journal {}").format(where)
        with self._pool.connection() as connection:
            row = connection.execute(statement, params).fetchone()
        return int(row[0]) if row else 0

    def journal_entry(self, entry_id: int) -> JournalEntry | None:
        self.flush()
        statement = sql.SQL("SELECT id, {}, {} FROM journal WHERE id = %s").format(
            sql.SQL(", ").join(map(sql.Identifier, _METADATA)),
            sql.SQL(", ").join(map(sql.Identifier, _BODIES)),
        )
        with self._pool.connection() as connection:
            row = connection.execute(statement, (entry_id,)).fetchone()
        return None if row is None else self._entry(row)

    def journal_rows(self) -> int:
        """How many rows the journal holds (benchmarks, retention tests)."""
        return self.journal_count(JournalQuery())

    def apply_retention(self, now: float | None = None) -> int:
        """Delete what the policy no longer keeps, oldest first; how many rows went."""
        policy = self.journal_policy
        now = time.time() if now is None else now
        deleted = 0
        with self._pool.connection() as connection:
            locked = connection.execute(
                "SELECT pg_try_advisory_lock(%s)", (_RETENTION_LOCK,)
            ).fetchone()
            if not locked or not locked[0]:
                return 0  # another worker is at it
            try:
                bounds = connection.execute("SELECT min(id), max(id) FROM journal").fetchone()
                if bounds is None or bounds[1] is None:
                    return 0
                below = int(bounds[0])
                if policy.max_rows is not None:
                    below = max(below, int(bounds[1]) - policy.max_rows + 1)
                if policy.max_age is not None:
                    cutoff = now - policy.max_age.total_seconds()
                    row = connection.execute(
                        "SELECT min(id) FROM journal WHERE written >= %s", (cutoff,)
                    ).fetchone()
                    first_kept = int(row[0]) if row and row[0] is not None else int(bounds[1]) + 1
                    below = max(below, first_kept)
                while True:
                    cursor = connection.execute(
                        "DELETE FROM journal WHERE id IN "
                        "(SELECT id FROM journal WHERE id < %s ORDER BY id LIMIT %s)",
                        (below, DELETE_BATCH),
                    )
                    deleted += cursor.rowcount
                    if cursor.rowcount < DELETE_BATCH:
                        break
                if deleted:  # a retired dictionary serves rows written up to its retirement
                    connection.execute(
                        "DELETE FROM journal_dict WHERE retired IS NOT NULL AND retired < "
                        "coalesce((SELECT written FROM journal ORDER BY id LIMIT 1), 1e300)"
                    )
            finally:
                connection.execute("SELECT pg_advisory_unlock(%s)", (_RETENTION_LOCK,))
        return deleted

    # -- replay cache --------------------------------------------------------------------
    def first_seen(self, keys: Iterable[bytes], until: float) -> bool:
        # Sorted keys: two workers inserting overlapping sets lock them in the same order.
        digests = sorted({hashlib.blake2b(key, digest_size=16).digest() for key in keys})
        if not digests:
            return True
        now = time.time()
        replay = False
        with self._pool.connection() as connection, connection.transaction() as transaction:
            cursor = connection.cursor()
            cursor.executemany(
                "INSERT INTO seen (key, until) VALUES (%s, %s) ON CONFLICT (key) DO UPDATE "
                "SET until = excluded.until WHERE seen.until <= %s RETURNING key",
                [(digest, until, now) for digest in digests],
                returning=True,
            )
            fresh = 0
            while True:
                if cursor.fetchone() is not None:
                    fresh += 1
                if not cursor.nextset():
                    break
            replay = fresh < len(digests)
            if replay:  # remember none of them: nothing of a refused message is kept
                raise Rollback(transaction)
        return not replay

    # -- sequences -----------------------------------------------------------------------
    def next_sequence(self, name: str) -> int:
        with self._sequence_lock:
            drawn, reserved = self._reserved.get(name, (0, 0))
            if drawn == reserved:
                reserved = self._reserve(name, SEQUENCE_BLOCK)
                drawn = reserved - SEQUENCE_BLOCK
            self._reserved[name] = (drawn + 1, reserved)
            return drawn + 1

    def _reserve(self, name: str, count: int) -> int:
        with self._pool.connection() as connection:
            row = connection.execute(
                "INSERT INTO sequences (name, value) VALUES (%s, %s) ON CONFLICT (name) "
                "DO UPDATE SET value = sequences.value + excluded.value RETURNING value",
                (name, count),
            ).fetchone()
        if row is None:
            raise RuntimeError(f"sequence {name!r} could not be reserved")
        return int(row[0])

    # -- lifecycle -----------------------------------------------------------------------
    def clear(self) -> None:
        # Sequences are kept: no number handed out is ever handed out again.
        with self._flush_lock:
            with self._pending_lock:
                self._pending.clear()
            with self._pool.transaction() as connection:
                connection.execute("DELETE FROM journal")
                # The dictionaries workers still use stay: their next rows refer to them.
                connection.execute("DELETE FROM journal_dict WHERE retired IS NOT NULL")
                connection.execute("DELETE FROM seen")

    def close(self) -> None:
        self._closing = True
        self._wake.set()
        self._writer.join(timeout=5)
        try:
            self.flush()
            self._dictionaries.retire_all()
        finally:
            self._pool.close()

    def _write_loop(self) -> None:
        while not self._closing:
            self._wake.wait(FLUSH_INTERVAL_S)
            try:
                self.flush()
                if time.monotonic() - self._last_retention >= RETENTION_INTERVAL_S:
                    self._last_retention = time.monotonic()
                    self.apply_retention()
                    with self._pool.connection() as connection:
                        connection.execute("DELETE FROM seen WHERE until <= %s", (time.time(),))
            except Exception:  # the journal must never take the server down
                log.exception("journal writer: a batch could not be written")

    def _row(self, entry: JournalEntry, written: float) -> tuple[Any, ...]:
        keep = self.journal_policy.keeps_bodies(entry.outcome)
        kind = (entry.service, entry.operation)
        request = self._compressed((*kind, "request"), entry.request) if keep else (None, None)
        response = self._compressed((*kind, "response"), entry.response) if keep else (None, None)
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
            entry.reference,
            Jsonb(entry.security),
            Jsonb(_stages(entry.stages)),
            written,
            *request,
            *response,
            self._dictionaries.codec.content_blob(entry.request_content, entry.response_content)
            if keep
            else None,
        )

    def _compressed(self, kind: tuple[str, str, str], text: str) -> tuple[bytes | None, int | None]:
        if not text:
            return None, None
        return self._dictionaries.compress(kind, journal_bytes(text))

    def _text(self, compressed: bytes | None, dictionary: int | None) -> str:
        if compressed is None:
            return ""
        return self._dictionaries.decompress(compressed, dictionary).decode(
            "utf-8", errors="replace"
        )

    def _entry(self, row: tuple[Any, ...]) -> JournalEntry:
        values = dict(zip(("id", *_METADATA), row[: 1 + len(_METADATA)], strict=True))
        request_z, request_dict, response_z, response_dict, content_z = row[1 + len(_METADATA) :]
        content = self._dictionaries.codec.content_of(content_z)
        return JournalEntry(
            **values,
            request=self._text(request_z, request_dict),
            response=self._text(response_z, response_dict),
            request_content=content.get("request", ""),
            response_content=content.get("response", ""),
        )


def _stages(stages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The stages as the SQLite store gives them back: name, ms and note (empty if none)."""
    return [
        {"name": s.get("name", ""), "ms": s.get("ms", 0.0), "note": s.get("note") or ""}
        for s in stages
    ]


def _where(query: JournalQuery) -> tuple[sql.Composable, list[Any]]:
    clauses: list[sql.Composable] = []
    params: list[Any] = []
    for column in ("service", "operation", "outcome", "provider_nihii", "patient_ssin", "code"):
        value = getattr(query, column)
        if value is not None:
            clauses.append(sql.SQL("{} = %s").format(sql.Identifier(column)))
            params.append(value)
    if query.reference:
        clauses.append(sql.SQL("strpos(reference, %s) > 0"))
        params.append(query.reference)
    if query.after_id is not None:
        clauses.append(sql.SQL("id > %s"))
        params.append(query.after_id)
    if query.since is not None:
        clauses.append(sql.SQL("at >= %s"))
        params.append(query.since)
    if query.until is not None:
        clauses.append(sql.SQL("at < %s"))
        params.append(query.until)
    if not clauses:
        return sql.SQL(""), params
    return sql.SQL("WHERE ") + sql.SQL(" AND ").join(clauses), params
