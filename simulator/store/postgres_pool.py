"""A small pool of synchronous psycopg connections, shared by the threads of one process.

Connections are autocommit (a statement is its own transaction); `transaction()` opens an
explicit one. A connection that breaks is dropped, not returned; one left in a transaction
by an error is rolled back first. Connections are opened lazily, up to `size`; a caller
waits (up to `timeout`) when all are in use. After a fork, a child must open its own pool:
connections are never shared between processes.
"""

from __future__ import annotations

import os
import queue
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import psycopg

DEFAULT_SIZE = 8
DEFAULT_TIMEOUT_S = 30.0
CONNECT_TIMEOUT_S = 10


class PoolTimeout(RuntimeError):
    pass


class ConnectionPool:
    def __init__(
        self, url: str, *, size: int = DEFAULT_SIZE, timeout: float = DEFAULT_TIMEOUT_S
    ) -> None:
        if size < 1:
            raise ValueError("a pool needs at least one connection")
        self.url = url
        self.size = size
        self.timeout = timeout
        self._idle: queue.LifoQueue[psycopg.Connection[Any]] = queue.LifoQueue()
        self._opened = 0
        self._lock = threading.Lock()
        self._released = threading.Condition(self._lock)
        self._pid = os.getpid()
        self._closed = False

    def connect(self) -> psycopg.Connection[Any]:
        """A new connection of the pool's kind, outside the pool (LISTEN, migrations)."""
        return psycopg.connect(self.url, autocommit=True, connect_timeout=CONNECT_TIMEOUT_S)

    @contextmanager
    def connection(self) -> Iterator[psycopg.Connection[Any]]:
        connection = self._acquire()
        try:
            yield connection
        except BaseException:
            self._release(connection, failed=True)
            raise
        self._release(connection, failed=False)

    @contextmanager
    def transaction(self) -> Iterator[psycopg.Connection[Any]]:
        """A connection inside a transaction: committed when the block ends, rolled back when
        it raises."""
        with self.connection() as connection, connection.transaction():
            yield connection

    def close(self) -> None:
        with self._lock:
            self._closed = True
            while True:
                try:
                    connection = self._idle.get_nowait()
                except queue.Empty:
                    break
                self._opened -= 1
                connection.close()

    def _acquire(self) -> psycopg.Connection[Any]:
        if os.getpid() != self._pid:
            raise RuntimeError("a connection pool cannot be used across a fork: open a new one")
        with self._lock:
            if self._closed:
                raise RuntimeError("the connection pool is closed")
            while True:
                try:
                    return self._idle.get_nowait()
                except queue.Empty:
                    pass
                if self._opened < self.size:
                    self._opened += 1
                    break
                if not self._released.wait(self.timeout):
                    raise PoolTimeout(
                        f"no PostgreSQL connection free within {self.timeout:g} s "
                        f"({self.size} in use)"
                    )
        try:
            return self.connect()
        except BaseException:
            with self._lock:
                self._opened -= 1
                self._released.notify()
            raise

    def _release(self, connection: psycopg.Connection[Any], *, failed: bool) -> None:
        keep = not connection.closed and not connection.broken
        if keep and failed:
            try:
                if connection.info.transaction_status != psycopg.pq.TransactionStatus.IDLE:
                    connection.rollback()
            except psycopg.Error:
                keep = False
        with self._lock:
            if keep and not self._closed:
                self._idle.put(connection)
            else:
                self._opened -= 1
                connection.close()
            self._released.notify()
