"""`Records` in PostgreSQL: the business records (attestations, GenAsync mailboxes, eFact file
states) every worker shares. Same semantics as `SqliteRecords`: every write is committed
before it returns; `deferred()` holds writes in a `Batch` until `commit(batch)` writes them
in one transaction. `put_many` (an answer's payment commitments) goes through a group commit
on the worker's event loop (store/group_commit.py): the writes of the requests in flight share
one transaction, without blocking the loop.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator, Sequence
from typing import Any

import psycopg

from simulator.store.group_commit import AsyncGroupCommit
from simulator.store.migrations import migrate
from simulator.store.postgres_pool import CONNECT_TIMEOUT_S, ConnectionPool
from simulator.store.records import BatchedRecords, Operation, Write, parameters

_INSERT = (
    "INSERT INTO records (kind, key, value) VALUES (%s, %s, %s) ON CONFLICT (kind, key) DO NOTHING"
)
_PUT = (
    "INSERT INTO records (kind, key, value) VALUES (%s, %s, %s) "
    "ON CONFLICT (kind, key) DO UPDATE SET value = excluded.value"
)
_DELETE = "DELETE FROM records WHERE kind = %s AND key = %s"


_WRITES: dict[Operation, str] = {"insert": _INSERT, "put": _PUT, "delete": _DELETE}


class PostgresRecords(BatchedRecords):
    def __init__(self, pool: ConnectionPool, *, migrate_schema: bool = True) -> None:
        super().__init__()
        self._pool = pool
        self._group: AsyncGroupCommit[Write, psycopg.AsyncConnection[Any]] = AsyncGroupCommit(
            lambda: psycopg.AsyncConnection.connect(
                pool.url, autocommit=True, connect_timeout=CONNECT_TIMEOUT_S
            ),
            _write_group,
            lambda connection: connection.pgconn.finish(),
        )
        if migrate_schema:
            with pool.connection() as connection:
                migrate(connection)

    def _read(self, kind: str, key: str) -> str | None:
        with self._pool.connection() as connection:
            row = connection.execute(
                "SELECT value FROM records WHERE kind = %s AND key = %s", (kind, key)
            ).fetchone()
        return None if row is None else str(row[0])

    def _scan(self, kind: str, prefix: str, limit: int) -> list[tuple[str, str]]:
        # The key column is COLLATE "C" (migrations.py): byte order, as SQLite sorts, and a
        # LIKE prefix the primary key's index answers; '%', '_' and '\\' in keys are escaped.
        pattern = prefix.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        with self._pool.connection() as connection:
            rows: list[tuple[str, str]] = connection.execute(
                "SELECT key, value FROM records WHERE kind = %s AND key LIKE %s "
                "ORDER BY key LIMIT %s",
                (kind, pattern, limit),
            ).fetchall()
        return rows

    def _read_many(self, kind: str, keys: Sequence[str]) -> dict[str, str]:
        if not keys:
            return {}
        with self._pool.connection() as connection:
            rows = connection.execute(
                "SELECT key, value FROM records WHERE kind = %s AND key = ANY(%s)",
                (kind, list(keys)),
            ).fetchall()
        return {str(key): str(value) for key, value in rows}

    def _scan_any(self, kind: str, prefixes: Sequence[str], limit: int) -> list[tuple[str, str]]:
        # One round trip. A LATERAL with its own LIMIT is an index range scan per prefix
        # whatever the statistics say (as a plain join, a table not analysed yet was read
        # whole for every prefix); a key under two prefixes comes once (DISTINCT ON).
        with self._pool.connection() as connection:
            rows: list[tuple[str, str]] = connection.execute(
                "SELECT DISTINCT ON (r.key) r.key, r.value FROM unnest(%s::text[]) AS p(prefix) "
                "CROSS JOIN LATERAL (SELECT key, value FROM records WHERE kind = %s "
                'AND key >= p.prefix COLLATE "C" AND key < (p.prefix || %s) COLLATE "C" '
                "ORDER BY key LIMIT %s) r "
                "WHERE left(r.key, length(p.prefix)) = p.prefix ORDER BY r.key LIMIT %s",
                (list(prefixes), kind, "\U0010ffff", limit, limit),
            ).fetchall()
        return rows

    def _write(self, operation: Operation, kind: str, key: str, text: str | None) -> bool:
        with self._pool.connection() as connection:
            return connection.execute(_WRITES[operation], parameters(kind, key, text)).rowcount == 1

    def _write_batch(self, operations: list[Write]) -> None:
        with self._pool.transaction() as connection, connection.cursor() as cursor:
            for statement, rows in _runs(operations):
                cursor.executemany(statement, rows)

    async def _write_soon(self, operations: list[Write]) -> None:
        await self._group.write(operations)

    def clear(self) -> None:
        with self._pool.connection() as connection:
            connection.execute("DELETE FROM records")

    def close(self) -> None:
        self._group.close()
        self._pool.close()


async def _write_group(
    connection: psycopg.AsyncConnection[Any], operations: Sequence[Write]
) -> None:
    async with connection.transaction(), connection.cursor() as cursor:
        for statement, rows in _runs(operations):
            await cursor.executemany(statement, rows)


def _runs(operations: Sequence[Write]) -> Iterator[tuple[str, list[tuple[str, ...]]]]:
    """Each run of the same statement with its rows, in order: one executemany a run
    (pipelined, not a round trip a row: an accepted eFact file puts thousands of ledger rows,
    a group commit the commitments of every request in flight)."""
    for operation, run in itertools.groupby(operations, key=lambda write: write[0]):
        yield _WRITES[operation], [parameters(kind, key, text) for _, kind, key, text in run]
