"""The PostgreSQL schema, created and migrated by the simulator itself.

`schema_version` holds the steps applied; `migrate()` applies the ones above the last, in
order, in one transaction (a step that fails leaves the schema as it was). Several processes
starting at once are serialised by an advisory lock: the first migrates, the others find
nothing left to do.
A database migrated by a newer simulator (a version above the last step known here) is
refused rather than written with an older idea of its tables.

Add a step at the end to change the schema; never edit a step that has shipped.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import psycopg

# Any number unique to this application: pg_advisory_xact_lock's key while migrating.
_MIGRATION_LOCK = 0x6D636E73  # "mcns"


@dataclass(frozen=True)
class Migration:
    version: int
    description: str
    statements: tuple[str, ...]


MIGRATIONS: tuple[Migration, ...] = (
    Migration(
        1,
        "journal, sequences, records, replay cache, shared state",
        (
            """
            CREATE TABLE journal (
                id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
                at TEXT COLLATE "C" NOT NULL,  -- ISO instants: byte order is time order
                service TEXT NOT NULL,
                operation TEXT NOT NULL,
                path TEXT NOT NULL,
                soap_action TEXT,
                outcome TEXT NOT NULL,
                code TEXT,
                http_status INTEGER NOT NULL,
                duration_ms DOUBLE PRECISION NOT NULL,
                provider_nihii TEXT,
                patient_ssin TEXT,
                reference TEXT,
                security JSONB NOT NULL,
                stages JSONB NOT NULL,
                written DOUBLE PRECISION NOT NULL,
                request_z BYTEA,
                response_z BYTEA,
                content_z BYTEA
            )
            """,
            "CREATE INDEX journal_at ON journal (at)",
            "CREATE INDEX journal_service ON journal (service, operation)",
            "CREATE INDEX journal_written ON journal (written)",
            "CREATE TABLE sequences (name TEXT PRIMARY KEY, value BIGINT NOT NULL)",
            """
            CREATE TABLE records (
                kind TEXT NOT NULL,
                key TEXT COLLATE "C" NOT NULL,
                value TEXT NOT NULL,
                PRIMARY KEY (kind, key)
            )
            """,
            "CREATE TABLE seen (key BYTEA PRIMARY KEY, until DOUBLE PRECISION NOT NULL)",
            "CREATE INDEX seen_until ON seen (until)",
            """
            CREATE TABLE shared_state (
                name TEXT PRIMARY KEY,
                version BIGINT NOT NULL,
                value BYTEA NOT NULL
            )
            """,
        ),
    ),
    Migration(
        2,
        "scenario rule counters shared by every worker",
        (
            """
            CREATE TABLE scenario_counters (
                generation BIGINT NOT NULL,
                rule TEXT COLLATE "C" NOT NULL,
                matched BIGINT NOT NULL DEFAULT 0,
                fired BIGINT NOT NULL DEFAULT 0,
                PRIMARY KEY (generation, rule)
            )
            """,
        ),
    ),
    Migration(
        3,
        "journal bodies compressed against preset dictionaries",
        (
            """
            CREATE TABLE journal_dict (
                id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
                data BYTEA NOT NULL,
                retired DOUBLE PRECISION
            )
            """,
            "ALTER TABLE journal ADD COLUMN request_dict BIGINT, ADD COLUMN response_dict BIGINT",
        ),
    ),
)

LATEST = MIGRATIONS[-1].version


class SchemaTooNew(RuntimeError):
    pass


def current_version(connection: psycopg.Connection[Any]) -> int:
    """The schema's version; 0 for an empty database."""
    exists = connection.execute("SELECT to_regclass('schema_version') IS NOT NULL").fetchone()
    if not exists or not exists[0]:
        return 0
    row = connection.execute("SELECT max(version) FROM schema_version").fetchone()
    return int(row[0]) if row and row[0] is not None else 0


def migrate(
    connection: psycopg.Connection[Any], migrations: tuple[Migration, ...] = MIGRATIONS
) -> list[int]:
    """Bring the schema up to the last step; the versions applied (none when up to date)."""
    applied: list[int] = []
    with connection.transaction():
        connection.execute("SELECT pg_advisory_xact_lock(%s)", (_MIGRATION_LOCK,))
        connection.execute(
            "CREATE TABLE IF NOT EXISTS schema_version ("
            "version INTEGER PRIMARY KEY, description TEXT NOT NULL, "
            "applied TIMESTAMPTZ NOT NULL DEFAULT now())"
        )
        version = current_version(connection)
        latest = migrations[-1].version if migrations else 0
        if version > latest:
            raise SchemaTooNew(
                f"the database's schema is version {version}, newer than this simulator's "
                f"({latest}): upgrade mycarenet-sim or use another database"
            )
        for step in migrations:
            if step.version <= version:
                continue
            with connection.transaction():  # a savepoint: one step whole or not at all
                for statement in step.statements:
                    connection.execute(statement.encode())
                connection.execute(
                    "INSERT INTO schema_version (version, description) VALUES (%s, %s)",
                    (step.version, step.description),
                )
            applied.append(step.version)
    return applied
