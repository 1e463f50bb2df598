"""Group commit: writes that must be stored before an answer leaves (eTar's payment
commitments), gathered from the requests in flight into one transaction. A request's writes
are committed before its `write` returns, as with a direct write; a failed transaction fails
every request in it.

PostgreSQL (`AsyncGroupCommit`): a write is a round trip to another process. Blocking the
event loop on it stalls every other request; `asyncio.to_thread` costs each request a thread
wake-up and a GIL handoff (about 4 % of a worker's CPU under load, loadtests/profile_etar.py).
Here the writes go over an asyncio connection of the worker's own loop: while one group is on
its way, the next one gathers. SQLite (`LoopPassGroup`): an in-process transaction costs
~0.1 ms whatever it holds; the writes of one pass of the event loop share one.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, Sequence
from typing import Generic, TypeVar

Item = TypeVar("Item")
Connection = TypeVar("Connection")
MAX_GROUP = 256  # requests per transaction: a burst is written in a few bounded transactions
_Waiting = tuple[list[Item], asyncio.Future[None]]  # a request's writes, and its answer


def _settle(futures: list[asyncio.Future[None]], error: BaseException | None) -> None:
    for future in futures:
        if future.done():  # the request was cancelled (client gone): nothing to tell
            continue
        if error is None:
            future.set_result(None)
        else:
            future.set_exception(error)


class AsyncGroupCommit(Generic[Item, Connection]):
    """Groups on the event loop itself, over one asyncio connection (opened on first use by
    `connect`; `close_now` closes it without its loop, which may be stopped). Meant for one
    loop at a time, a worker's: a later loop (a test's next `asyncio.run`) opens its own."""

    def __init__(
        self,
        connect: Callable[[], Awaitable[Connection]],
        write_group: Callable[[Connection, Sequence[Item]], Awaitable[None]],
        close_now: Callable[[Connection], None],
    ) -> None:
        self._connect_new = connect
        self._write_group = write_group
        self._close_now = close_now
        self._pending: list[_Waiting[Item]] = []
        self._draining = False
        self._connection: Connection | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._task: asyncio.Task[None] | None = None

    async def write(self, items: Sequence[Item]) -> None:
        if not items:
            return
        loop = asyncio.get_running_loop()
        future: asyncio.Future[None] = loop.create_future()
        self._pending.append((list(items), future))
        if not self._draining:
            self._draining = True
            self._task = loop.create_task(self._drain())  # referenced: not collected early
        await future

    def close(self) -> None:
        connection, self._connection = self._connection, None
        if connection is not None:
            with contextlib.suppress(Exception):
                self._close_now(connection)

    async def _drain(self) -> None:
        try:
            while self._pending:
                group, self._pending = self._pending[:MAX_GROUP], self._pending[MAX_GROUP:]
                error: BaseException | None = None
                try:
                    connection = await self._connection_of_this_loop()
                    await self._write_group(connection, [i for items, _ in group for i in items])
                except Exception as failure:  # every request of the group gets it
                    error = failure
                    self.close()  # a broken connection is not reused
                _settle([future for _, future in group], error)
        finally:
            self._draining = False

    async def _connection_of_this_loop(self) -> Connection:
        loop = asyncio.get_running_loop()
        if self._connection is not None and self._loop is not loop:
            self.close()  # opened on another loop (by now stopped): unusable here
        if self._connection is None:
            self._connection = await self._connect_new()
            self._loop = loop
        return self._connection


class LoopPassGroup(Generic[Item]):
    """For an in-process database (SQLite): the writes queued while the event loop runs one
    pass of its ready callbacks (the requests that reached this point together) are committed
    in one transaction right after it, on the loop. A transaction costs ~0.1 ms whatever it
    holds; no thread, no round trip."""

    def __init__(self, write_group: Callable[[Sequence[Item]], None]) -> None:
        self._write_group = write_group
        self._queued: dict[asyncio.AbstractEventLoop, list[_Waiting[Item]]] = {}

    async def write(self, items: Sequence[Item]) -> None:
        if not items:
            return
        loop = asyncio.get_running_loop()
        future: asyncio.Future[None] = loop.create_future()
        queued = self._queued.setdefault(loop, [])
        if not queued:
            loop.call_soon(self._commit, loop)
        queued.append((list(items), future))
        await future

    def _commit(self, loop: asyncio.AbstractEventLoop) -> None:
        group = self._queued.pop(loop, [])
        error: BaseException | None = None
        try:
            self._write_group([item for items, _ in group for item in items])
        except Exception as failure:  # every request of the group gets it, as its own write
            error = failure
        _settle([future for _, future in group], error)
