"""eFact processing worked off the event loop: the open files are jobs in the store.

Every server process runs one `JobWorker` (started and stopped with the aiohttp app). Every
POLL_INTERVAL_S, and whenever a `get` finds answers due for its caller, it claims a due file
(`store/due_jobs.py`: a lock in memory on SQLite, `FOR UPDATE SKIP LOCKED` on PostgreSQL, so
any worker of `serve --workers N` may take it and none takes it twice), runs its due steps
(`efact_processing.step`) in a thread of its own, and writes the file's OPEN pointer back. The
business clock decides what is due: moving it (admin API, tests) is seen at the next poll.

The event loop never computes an answer: while a big file is checked, other calls go on (they
share the CPU with the job thread, they do not wait for it). A thread rather than a process
pool: the step reads the simulator as it is in this process (its configured delays and rules,
the clock the admin API moves, the PKI that signs the answers), the GIL hands the event loop
its turn every few milliseconds, and SQLite has one writer anyway. Several processes on
PostgreSQL are the way to use more cores.

`get` does not compute answers either: `answered()` waits (at most GET_WAIT_S) until none of the
caller's files in that mailbox has a step due on the clock, kicking the worker, so a `get`
right after the clock moved sees the answers now due, as before; past the wait (a very large
file still being checked) it answers with what is there.

A worker killed mid-file leaves the job to whoever claims it next (another worker at once on
PostgreSQL, the restarted process on SQLite); the steps already taken are in the file's state
and a delivery cut short is recognised by its hash, so every answer is delivered exactly once.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import weakref
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

from simulator.runtime import Simulator
from simulator.services import efact_processing as efact
from simulator.store.due_jobs import Claims, LocalClaims, PostgresClaims, due

POLL_INTERVAL_S = 0.2  # how soon a clock moved by the admin API is noticed
GET_WAIT_S = 3.0  # how long a get waits for its caller's answers now due
RECHECK_S = 0.1  # a get's re-read of the store for jobs another process works on (PostgreSQL)
_LOG = logging.getLogger(__name__)
_SCAN = 1_000_000


class JobWorker:
    """Claims and works due eFact files for one simulator, in one thread off the loop."""

    def __init__(self, sim: Simulator, claims: Claims, *, shared: bool = False) -> None:
        self.sim = sim
        self.claims = claims
        # Other processes work on the same jobs (PostgreSQL): their progress is not announced
        # here, so a waiting get re-reads the store every RECHECK_S.
        self.shared = shared
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="efact-jobs")
        self._stopping = False
        self._holds = 0
        self._working = threading.Lock()  # held while a job runs (`hold` waits on it)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._wake: asyncio.Event | None = None
        self._progress: asyncio.Event | None = None
        self._task: asyncio.Task[None] | None = None
        self.jobs_done = 0

    # -- lifecycle (on the event loop) ---------------------------------------------------

    def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._wake = asyncio.Event()
        self._progress = asyncio.Event()
        self._task = self._loop.create_task(self._poll(), name="efact-jobs")

    async def stop(self) -> None:
        """Stop claiming; the job in hand is finished first (or taken again after a restart)."""
        self._stopping = True
        if self._wake is not None:
            self._wake.set()
        if self._task is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        self._executor.shutdown(wait=True)
        self.claims.close()

    def wake(self) -> None:
        if self._wake is not None:
            self._wake.set()

    @contextlib.contextmanager
    def hold(self) -> Iterator[None]:
        """No job is claimed inside this block (from any thread); the one running, if any, is
        finished first. For tests that drive `efact_processing` by hand."""
        self._holds += 1
        try:
            with self._working:
                pass
            yield
        finally:
            self._holds -= 1

    async def _poll(self) -> None:
        assert self._loop is not None and self._wake is not None
        while not self._stopping:
            self._wake.clear()
            try:
                await self._loop.run_in_executor(self._executor, self._work)
            except Exception:  # the store may be away for a while: try again at the next poll
                _LOG.exception("eFact jobs: claiming or finishing a job failed")
            if self._stopping:
                break
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), POLL_INTERVAL_S)

    # -- in the job thread ---------------------------------------------------------------

    def _work(self) -> None:
        """Claim and run due files until none is left (or the worker stops or is held)."""
        while not self._stopping and not self._holds:
            with self._working:
                if self._holds:
                    return
                now = self.sim.clock.now()
                claimed = self.claims.claim(efact.OPEN, now)
                if claimed is None:
                    return
                try:
                    done = efact.step(self.sim, claimed.document, now)
                except BaseException:
                    self.claims.release(claimed)
                    raise
                self.claims.finish(claimed, done.pointer)
                self.jobs_done += 1
            if self._loop is not None:
                self._loop.call_soon_threadsafe(self._progressed)

    def _progressed(self) -> None:
        if self._progress is not None:
            self._progress.set()
            self._progress = asyncio.Event()

    # -- for get (on the event loop) -----------------------------------------------------

    async def answered(self, mailbox: str, nihii: str) -> bool:
        """Wait until no file of `nihii` in `mailbox` has a step due (True), or GET_WAIT_S
        passed (False)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + GET_WAIT_S
        while self.due_for(mailbox, nihii):
            left = deadline - loop.time()
            if left <= 0:
                return False
            progress = self._progress
            self.wake()
            if progress is None:
                return False
            pause = min(left, RECHECK_S) if self.shared else left
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(progress.wait(), pause)
        return True

    def due_for(self, mailbox: str, nihii: str) -> bool:
        """Whether a file of `nihii` in `mailbox` has a step due on the clock now."""
        now = self.sim.clock.now()
        for _, pointer in self.sim.records.find(efact.OPEN, prefix=f"{mailbox}/", limit=_SCAN):
            if pointer.get("sender", nihii) == nihii and due(pointer, now):
                return True
        return False


# -- one worker per simulator ---------------------------------------------------------------

_WORKERS: weakref.WeakKeyDictionary[object, JobWorker] = weakref.WeakKeyDictionary()


def claims_for(sim: Simulator) -> Claims:
    """How this simulator's processes share the jobs: row locks on PostgreSQL, else in memory."""
    url = sim.settings.store_url
    if sim.store_kind == "postgresql" and url is not None:
        return PostgresClaims(url)
    return LocalClaims(sim.records)


def start(sim: Simulator) -> JobWorker:
    """Start this simulator's worker on the running loop (aiohttp on_startup)."""
    claims = claims_for(sim)
    worker = JobWorker(sim, claims, shared=isinstance(claims, PostgresClaims))
    worker.start()
    _WORKERS[sim.records] = worker
    return worker


async def stop(sim: Simulator) -> None:
    worker = _WORKERS.pop(sim.records, None)
    if worker is not None:
        await worker.stop()


def worker_of(sim: Simulator) -> JobWorker | None:
    return _WORKERS.get(sim.records)


async def answered(sim: Simulator, mailbox: str, nihii: str) -> None:
    """Before a `get`: the caller's answers due on the clock are delivered (by the worker; in
    the caller when no worker runs, e.g. a simulator used without its server)."""
    if not efact.processes(mailbox):
        return
    worker = worker_of(sim)
    if worker is None:
        efact.advance(sim, mailbox)
        return
    await worker.answered(mailbox, nihii)


@contextlib.contextmanager
def held(sim: Simulator) -> Iterator[None]:
    """No eFact job runs in the background inside this block (see `JobWorker.hold`)."""
    worker = worker_of(sim)
    if worker is None:
        yield
        return
    with worker.hold():
        yield


__all__ = [
    "GET_WAIT_S",
    "POLL_INTERVAL_S",
    "JobWorker",
    "answered",
    "claims_for",
    "held",
    "start",
    "stop",
    "worker_of",
]
