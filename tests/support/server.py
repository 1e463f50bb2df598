"""A real simulator on a real socket, run in a background thread for the tests."""

from __future__ import annotations

import asyncio
import threading
from dataclasses import replace
from pathlib import Path

from aiohttp import web

from simulator.config import Settings
from simulator.runtime import Simulator
from simulator.server.app import create_app, server_ssl_context


class ServerThread:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.sim: Simulator | None = None
        self.base_url = ""
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._stop: asyncio.Event | None = None
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="simulator", daemon=True)

    def start(self) -> ServerThread:
        self._thread.start()
        if not self._ready.wait(60):
            raise RuntimeError("simulator did not start within 60 s")
        if self._error is not None:
            raise self._error
        return self

    def stop(self) -> None:
        if self._stop is not None:
            self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(timeout=30)

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        try:
            self._loop.run_until_complete(self._serve())
        except BaseException as error:  # surfaced to the test that started us
            self._error = error
            self._ready.set()

    async def _serve(self) -> None:
        self._stop = asyncio.Event()
        sim = Simulator.create(self.settings)
        runner = web.AppRunner(create_app(sim))
        await runner.setup()
        context = server_ssl_context(sim) if self.settings.tls else None
        site = web.TCPSite(runner, self.settings.host, 0, ssl_context=context)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self.settings = replace(self.settings, port=port)
        self.base_url = self.settings.base_url
        self.sim = sim
        self._ready.set()
        await self._stop.wait()
        await runner.cleanup()


def start_server(data_dir: Path, **overrides: object) -> ServerThread:
    settings = replace(Settings(data_dir=data_dir, patients=600, providers=80, no_delay=True), **overrides)  # type: ignore[arg-type]
    return ServerThread(settings).start()
