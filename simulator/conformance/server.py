"""The simulator on a free loopback port, in a background thread of the harness's process, so
that the harness can reset its state, set its clock and read its journal between cases."""

from __future__ import annotations

import asyncio
import threading
from dataclasses import replace

from aiohttp import web

from simulator.clock import Clock
from simulator.config import Settings
from simulator.runtime import Simulator
from simulator.server.app import create_app

START_TIMEOUT_S = 60


class InProcessServer:
    def __init__(self, settings: Settings, clock: Clock) -> None:
        self.settings = settings
        self.clock = clock
        self._sim: Simulator | None = None
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._stop: asyncio.Event | None = None
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="conformance-simulator", daemon=True)

    @property
    def sim(self) -> Simulator:
        if self._sim is None:
            raise RuntimeError("the simulator is not running")
        return self._sim

    @property
    def base_url(self) -> str:
        return self.settings.base_url

    def __enter__(self) -> InProcessServer:
        self._thread.start()
        if not self._ready.wait(START_TIMEOUT_S):
            raise RuntimeError(f"the simulator did not start within {START_TIMEOUT_S} s")
        if self._error is not None:
            raise self._error
        return self

    def __exit__(self, *_exc: object) -> None:
        if self._stop is not None:
            self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(timeout=30)

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        try:
            self._loop.run_until_complete(self._serve())
        except BaseException as error:  # surfaced to the caller of __enter__
            self._error = error
            self._ready.set()
        finally:
            self._loop.close()

    async def _serve(self) -> None:
        self._stop = asyncio.Event()
        sim = Simulator.create(self.settings, self.clock)
        runner = web.AppRunner(create_app(sim))
        await runner.setup()
        site = web.TCPSite(runner, self.settings.host, self.settings.port)
        await site.start()
        server = site._server
        sockets = getattr(server, "sockets", None) or []
        if sockets:
            self.settings = replace(self.settings, port=sockets[0].getsockname()[1])
        self._sim = sim
        self._ready.set()
        await self._stop.wait()
        await runner.cleanup()
