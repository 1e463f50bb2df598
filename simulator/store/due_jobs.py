"""Claiming due jobs kept as records, so that exactly one worker works each one at a time.

A job is a record of one kind (eFact's OPEN pointers) whose document says when it is next due:
`next`, an ISO instant; a job without one is due now. `claim` hands out one due job nobody
holds, `finish` writes what became of it (a new document, or None: done, deleted) and lets it
go, `release` lets it go unchanged (to be claimed again).

- SQLite (one process per data dir): held jobs are a set in memory, behind a lock. A process
  that dies loses the set with it: its restart claims the jobs again.
- PostgreSQL (several processes or hosts): `SELECT ... FOR UPDATE SKIP LOCKED` in a
  transaction kept open on a connection of its own while the job runs. The row lock is the
  lease: a worker that dies (SIGKILL, OOM, lost host) loses its connection, PostgreSQL rolls
  the transaction back and the job is free for any other worker at once; `finish` updates or
  deletes the row on that same connection and commits.

What a job does must be idempotent per step (eFact notes the hash of a message before it
delivers it), since a worker may die after doing it and before `finish`.
"""

from __future__ import annotations

import contextlib
import json
import os
import threading
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from simulator.store.records import Document, Records

_SCAN = 1_000_000


@dataclass
class Claimed:
    """A job held by this process until `finish` or `release`."""

    kind: str
    key: str
    document: Document
    handle: Any = field(default=None, repr=False)  # PostgreSQL: the connection holding it


class Claims(Protocol):
    def claim(self, kind: str, now: datetime) -> Claimed | None:
        """One job of `kind` due at `now` that no one holds; None when there is none."""

    def finish(self, claimed: Claimed, document: Document | None) -> None:
        """Store `document` as the job's (None: delete it) and let it go."""

    def release(self, claimed: Claimed) -> None:
        """Let the job go unchanged."""

    def close(self) -> None: ...


def due(document: Document, now: datetime) -> bool:
    """Whether a job document is due at `now` (no `next`: due now)."""
    return "next" not in document or datetime.fromisoformat(str(document["next"])) <= now


class LocalClaims:
    """Claims within one process (the SQLite store): a set of held keys."""

    def __init__(self, records: Records) -> None:
        self._records = records
        self._held: set[tuple[str, str]] = set()
        self._lock = threading.Lock()

    def claim(self, kind: str, now: datetime) -> Claimed | None:
        for key, document in self._records.find(kind, limit=_SCAN):
            if not due(document, now):
                continue
            with self._lock:
                if (kind, key) in self._held:
                    continue
                self._held.add((kind, key))
            return Claimed(kind, key, document)
        return None

    def finish(self, claimed: Claimed, document: Document | None) -> None:
        try:
            if document is None:
                self._records.delete(claimed.kind, claimed.key)
            elif document != claimed.document:
                self._records.put(claimed.kind, claimed.key, document)
        finally:
            self.release(claimed)

    def release(self, claimed: Claimed) -> None:
        with self._lock:
            self._held.discard((claimed.kind, claimed.key))

    def held(self) -> int:
        with self._lock:
            return len(self._held)

    def close(self) -> None:
        pass


APPLICATION_NAME = "mycarenet-sim efact-jobs"  # + the worker's pid
_CLAIM = (
    "SELECT key, value FROM records WHERE kind = %s AND ("
    "(value::jsonb ->> 'next') IS NULL OR (value::jsonb ->> 'next')::timestamptz <= %s) "
    "ORDER BY key LIMIT 1 FOR UPDATE SKIP LOCKED"
)
_UPDATE = "UPDATE records SET value = %s WHERE kind = %s AND key = %s"
_DELETE = "DELETE FROM records WHERE kind = %s AND key = %s"


class PostgresClaims:
    """Claims shared by every process on one database: row locks, `SKIP LOCKED`."""

    def __init__(self, url: str) -> None:
        self._url = url
        self._idle: list[Any] = []
        self._lock = threading.Lock()

    def claim(self, kind: str, now: datetime) -> Claimed | None:
        connection = self._connection()
        try:
            row = connection.execute(_CLAIM, (kind, now)).fetchone()
        except BaseException:
            self._drop(connection)
            raise
        if row is None:
            connection.rollback()
            self._put_back(connection)
            return None
        document = json.loads(row[1])
        return Claimed(kind, str(row[0]), document, handle=connection)

    def finish(self, claimed: Claimed, document: Document | None) -> None:
        connection = claimed.handle
        try:
            if document is None:
                connection.execute(_DELETE, (claimed.kind, claimed.key))
            elif document != claimed.document:
                text = json.dumps(document, sort_keys=True)
                connection.execute(_UPDATE, (text, claimed.kind, claimed.key))
            connection.commit()
        except BaseException:
            self._drop(connection)
            raise
        self._put_back(connection)

    def release(self, claimed: Claimed) -> None:
        connection = claimed.handle
        try:
            connection.rollback()
        except Exception:
            self._drop(connection)
            return
        self._put_back(connection)

    def close(self) -> None:
        with self._lock:
            idle, self._idle = self._idle, []
        for connection in idle:
            connection.close()

    def _connection(self) -> Any:
        with self._lock:
            if self._idle:
                return self._idle.pop()
        import psycopg

        # Named, so that pg_stat_activity shows which worker holds which job.
        name = f"{APPLICATION_NAME} {os.getpid()}"
        return psycopg.connect(
            self._url, autocommit=False, connect_timeout=10, application_name=name
        )

    def _put_back(self, connection: Any) -> None:
        if connection.closed or connection.broken:
            return
        with self._lock:
            self._idle.append(connection)

    @staticmethod
    def _drop(connection: Any) -> None:
        with contextlib.suppress(Exception):  # it is being dropped for being broken
            connection.close()


__all__ = ["APPLICATION_NAME", "Claimed", "Claims", "LocalClaims", "PostgresClaims", "due"]
