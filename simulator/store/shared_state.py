"""Small named values every process must agree on (the business clock, the running scenario),
kept in PostgreSQL with a version each, and a change notification.

`update(name, change)` rewrites a value in one transaction (the row locked: two processes
changing the clock at once are applied one after the other, neither lost) and NOTIFYs the
channel. Each process runs one listener thread that LISTENs to it and calls the callbacks
`subscribe()`d for the names whose version went up. In case a notification is missed (the
listening connection dropped and was opened again) the listener also compares versions every
POLL_INTERVAL_S, one cheap query.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from simulator.store.postgres_pool import ConnectionPool

CHANNEL = "mycarenet_sim_state"
POLL_INTERVAL_S = 1.0
RECONNECT_DELAY_S = 1.0

Callback = Callable[[int, bytes], None]

log = logging.getLogger(__name__)


class SharedState:
    def __init__(self, pool: ConnectionPool) -> None:
        self._pool = pool
        self._callbacks: dict[str, list[Callback]] = {}
        self._known: dict[str, int] = {}  # name -> the newest version handed to callbacks
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._listener: threading.Thread | None = None

    @property
    def pool(self) -> ConnectionPool:
        """The pool this state's queries use (the scenario's counters use it too)."""
        return self._pool

    def read(self, name: str) -> tuple[int, bytes] | None:
        with self._pool.connection() as connection:
            row = connection.execute(
                "SELECT version, value FROM shared_state WHERE name = %s", (name,)
            ).fetchone()
        return None if row is None else (int(row[0]), bytes(row[1]))

    def update(self, name: str, change: Callable[[bytes | None], bytes]) -> tuple[int, bytes]:
        """Replace `name`'s value by `change(current value)` (None when there is none yet),
        atomically across processes; the new version and value. Subscribers in this process
        are not called back for it: the caller applies its own change."""
        with self._pool.transaction() as connection:
            connection.execute(
                "INSERT INTO shared_state (name, version, value) VALUES (%s, 0, '') "
                "ON CONFLICT (name) DO NOTHING",
                (name,),
            )
            row = connection.execute(
                "SELECT version, value FROM shared_state WHERE name = %s FOR UPDATE", (name,)
            ).fetchone()
            if row is None:
                raise RuntimeError(f"shared state {name!r} vanished")
            current = bytes(row[1]) if int(row[0]) > 0 else None
            value = change(current)
            version = int(row[0]) + 1
            connection.execute(
                "UPDATE shared_state SET version = %s, value = %s WHERE name = %s",
                (version, value, name),
            )
            connection.execute("SELECT pg_notify(%s, %s)", (CHANNEL, f"{name}:{version}"))
        with self._lock:
            self._known[name] = max(self._known.get(name, 0), version)
        return version, value

    def subscribe(self, name: str, callback: Callback) -> None:
        """Call `callback(version, value)` (from the listener thread) whenever another process
        changes `name`. The listener starts with the first subscription."""
        current = self.read(name)
        with self._lock:
            self._callbacks.setdefault(name, []).append(callback)
            if current is not None:
                self._known[name] = max(self._known.get(name, 0), current[0])
            start = self._listener is None
            if start:
                self._listener = threading.Thread(
                    target=self._listen, name="shared-state-listener", daemon=True
                )
        if start and self._listener is not None:
            self._listener.start()

    def close(self) -> None:
        self._stopping.set()
        if self._listener is not None:
            self._listener.join(timeout=POLL_INTERVAL_S + 2)
        self._pool.close()

    # -- listener ------------------------------------------------------------------------
    def _listen(self) -> None:
        while not self._stopping.is_set():
            try:
                with self._pool.connect() as connection:
                    connection.execute(f"LISTEN {CHANNEL}")
                    while not self._stopping.is_set():
                        self._catch_up()  # what a notification announced, or any missed
                        for _ in connection.notifies(timeout=POLL_INTERVAL_S, stop_after=1):
                            pass
            except Exception:
                if self._stopping.is_set():
                    return
                log.warning(
                    "shared state: the listening connection failed; again in %g s",
                    RECONNECT_DELAY_S,
                    exc_info=True,
                )
                time.sleep(RECONNECT_DELAY_S)

    def _catch_up(self) -> None:
        with self._lock:
            names = list(self._callbacks)
        if not names:
            return
        with self._pool.connection() as connection:
            rows = connection.execute(
                "SELECT name, version, value FROM shared_state WHERE name = ANY(%s)", (names,)
            ).fetchall()
        for name, version, value in rows:
            with self._lock:
                if int(version) <= self._known.get(name, 0):
                    continue
                self._known[name] = int(version)
                callbacks = list(self._callbacks.get(name, ()))
            for callback in callbacks:
                try:
                    callback(int(version), bytes(value))
                except Exception:
                    log.exception("shared state: applying %s version %s failed", name, version)
