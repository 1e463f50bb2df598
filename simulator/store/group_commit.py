"""Group commit: writes that must be stored before an answer leaves, gathered from every
request in flight into one transaction.

On PostgreSQL each write is a round trip to another process. Made on the event loop it stalls
every other request; made with `asyncio.to_thread` each request pays a thread hop and a GIL
handoff (py-spy under load: about 4 % of a worker's CPU, loadtests/profile_etar.py). Here one
writer thread takes whatever is queued when it wakes (one request's writes at low load, a
dozen under load), writes it in one transaction and wakes the waiting requests together.
A request's writes are committed before its `write` returns, as with a direct write.
"""

from __future__ import annotations

import asyncio
import contextlib
import queue
import threading
from collections.abc import Callable, Sequence
from typing import Generic, TypeVar

Item = TypeVar("Item")
MAX_GROUP = 256  # items per transaction: a burst is written in a few bounded transactions


class GroupCommit(Generic[Item]):
    """Hands queued items to `write_group` (one transaction, in a thread of its own)."""

    def __init__(self, write_group: Callable[[Sequence[Item]], None], *, name: str) -> None:
        self._write_group = write_group
        self._name = name
        self._queue: queue.SimpleQueue[_Waiter[Item] | None] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._start_lock = threading.Lock()
        self._closed = False

    async def write(self, items: Sequence[Item]) -> None:
        """Return once `items` are committed; raise what the write raised."""
        if not items:
            return
        if self._closed:
            raise RuntimeError(f"{self._name} is closed")
        self._ensure_thread()
        loop = asyncio.get_running_loop()
        waiter = _Waiter(list(items), loop, loop.create_future())
        self._queue.put(waiter)
        await waiter.future

    def close(self) -> None:
        """Write what is queued, then stop the thread."""
        self._closed = True
        with self._start_lock:
            thread = self._thread
        if thread is not None:
            self._queue.put(None)
            thread.join(timeout=30)

    def _ensure_thread(self) -> None:
        with self._start_lock:
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name=self._name, daemon=True)
                self._thread.start()

    def _run(self) -> None:
        while True:
            first = self._queue.get()
            if first is None:
                return
            group = [first]
            stop = False
            while sum(len(w.items) for w in group) < MAX_GROUP:
                try:
                    more = self._queue.get_nowait()
                except queue.Empty:
                    break
                if more is None:
                    stop = True
                    break
                group.append(more)
            self._commit(group)
            if stop:
                return

    def _commit(self, group: list[_Waiter[Item]]) -> None:
        error: BaseException | None = None
        try:
            self._write_group([item for waiter in group for item in waiter.items])
        except Exception as failure:  # every request of the group gets it, as its own write
            error = failure
        by_loop: dict[asyncio.AbstractEventLoop, list[asyncio.Future[None]]] = {}
        for waiter in group:
            by_loop.setdefault(waiter.loop, []).append(waiter.future)
        for loop, futures in by_loop.items():
            with contextlib.suppress(RuntimeError):  # a closed loop: nobody waits any more
                loop.call_soon_threadsafe(_settle, futures, error)


class _Waiter(Generic[Item]):
    __slots__ = ("future", "items", "loop")

    def __init__(
        self, items: list[Item], loop: asyncio.AbstractEventLoop, future: asyncio.Future[None]
    ) -> None:
        self.items = items
        self.loop = loop
        self.future = future


def _settle(futures: list[asyncio.Future[None]], error: BaseException | None) -> None:
    for future in futures:
        if future.done():  # the request was cancelled (client gone): nothing to tell
            continue
        if error is None:
            future.set_result(None)
        else:
            future.set_exception(error)
