"""Which store a simulator opens: SQLite in the data dir (one process, the embedded default)
or PostgreSQL (`serve --store postgresql://...`, several processes or hosts, one world).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlsplit, urlunsplit

from simulator.store.base import JournalPolicy, Store
from simulator.store.records import Records, SqliteRecords
from simulator.store.sqlite import SqliteStore

if TYPE_CHECKING:
    from simulator.store.shared_state import SharedState

POSTGRES_SCHEMES = ("postgresql", "postgres")
STORE_ENV = "MYCARENET_STORE"
SQLITE_FILE = "simulator.sqlite3"
# Connections per worker: the journal writer and admin queries; records (request handlers);
# the shared clock and scenario (plus one LISTEN connection of their own).
STORE_POOL = 4
RECORDS_POOL = 6
STATE_POOL = 2


class StoreUrlError(ValueError):
    pass


def is_postgres(url: str | None) -> bool:
    return url is not None and urlsplit(url).scheme in POSTGRES_SCHEMES


def check_url(url: str | None) -> None:
    """StoreUrlError, in words a user can act on, for a --store the simulator cannot open."""
    if url is None or is_postgres(url):
        if url is not None:
            try:
                import psycopg  # noqa: F401
            except ImportError:
                raise StoreUrlError(
                    "--store postgresql:// needs psycopg: pip install 'mycarenet-sim[postgres]'"
                ) from None
        return
    raise StoreUrlError(
        f"--store {shown_url(url)} is not a PostgreSQL URL (postgresql://user@host/db); "
        "without --store, the simulator keeps its state in SQLite in the data dir"
    )


def shown_url(url: str) -> str:
    """`url` without its password, for banners and logs."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.rsplit("@", 1)
    user = netloc[0].split(":", 1)[0]
    return urlunsplit(parts._replace(netloc=f"{user}:***@{netloc[1]}"))


@dataclass
class Backends:
    store: Store
    records: Records
    shared: SharedState | None  # the clock and scenario every process shares; None: SQLite
    kind: str  # "sqlite" | "postgresql"


def open_backends(data_dir: Path, url: str | None, policy: JournalPolicy) -> Backends:
    if url is None:
        path = data_dir / SQLITE_FILE
        return Backends(
            store=SqliteStore(path, policy=policy),
            records=SqliteRecords(path),
            shared=None,
            kind="sqlite",
        )
    check_url(url)
    from simulator.store.postgres import PostgresStore
    from simulator.store.postgres_pool import ConnectionPool
    from simulator.store.postgres_records import PostgresRecords
    from simulator.store.shared_state import SharedState

    store = PostgresStore(ConnectionPool(url, size=STORE_POOL), policy=policy)
    return Backends(
        store=store,
        records=PostgresRecords(ConnectionPool(url, size=RECORDS_POOL), migrate_schema=False),
        shared=SharedState(ConnectionPool(url, size=STATE_POOL)),
        kind="postgresql",
    )
