"""The simulator on a real socket, served from a background thread of the calling process.

For callers that need the `Simulator` object itself while it serves, to reset its state, set
its clock or read its journal between calls: the conformance harness and the tests. Bind to
port 0 for a free port; `base_url` then names the one the system picked.
"""

from __future__ import annotations

import asyncio
import threading
from dataclasses import replace

from aiohttp import web

from simulator.clock import Clock
from simulator.config import Settings
from simulator.runtime import Simulator
from simulator.server import transport
from simulator.server.app import create_app, server_ssl_context

START_TIMEOUT_S = 60


class BackgroundServer:
    def __init__(self, settings: Settings, clock: Clock | None = None) -> None:
        self.settings = settings
        self.clock = clock
        self._sim: Simulator | None = None
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._stop: asyncio.Event | None = None
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="simulator", daemon=True)

    @property
    def sim(self) -> Simulator:
        if self._sim is None:
            raise RuntimeError("the simulator is not running")
        return self._sim

    @property
    def base_url(self) -> str:
        return self.settings.base_url

    def start(self) -> BackgroundServer:
        """Serve; returns once the socket listens, or raises what kept it from starting."""
        self._thread.start()
        if not self._ready.wait(START_TIMEOUT_S):
            raise RuntimeError(f"the simulator did not start within {START_TIMEOUT_S} s")
        if self._error is not None:
            raise self._error
        return self

    def stop(self) -> None:
        if self._stop is not None:
            self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(timeout=30)

    def __enter__(self) -> BackgroundServer:
        return self.start()

    def __exit__(self, *_exc: object) -> None:
        self.stop()

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        try:
            self._loop.run_until_complete(self._serve())
        except BaseException as error:  # surfaced to the caller of start()
            self._error = error
            self._ready.set()
        finally:
            self._loop.close()

    async def _serve(self) -> None:
        self._stop = asyncio.Event()
        sim = Simulator.create(self.settings, self.clock)
        runner = web.AppRunner(create_app(sim), **transport.runner_options(self.settings))
        await runner.setup()
        context = server_ssl_context(sim) if self.settings.tls else None
        site = web.TCPSite(runner, self.settings.host, self.settings.port, ssl_context=context)
        await site.start()
        sockets = getattr(site._server, "sockets", None) or []
        if sockets:  # port 0: learn the one the system picked
            self.settings = replace(self.settings, port=sockets[0].getsockname()[1])
        self._sim = sim
        self._ready.set()
        await self._stop.wait()
        await runner.cleanup()
