"""A `mycarenet-sim serve` child process on a free loopback port, for the benchmarks.

The benchmarks measure the server as vendors run it: its own process, its own event loop, a
fresh data dir; the figures then do not include the load generator's CPU.
"""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
import tempfile
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import aiohttp


@dataclass(frozen=True)
class LocalServer:
    base_url: str
    data_dir: Path
    process: subprocess.Popen[bytes]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@asynccontextmanager
async def local_server(
    *options: str, environment: Mapping[str, str] | None = None
) -> AsyncIterator[LocalServer]:
    """`serve --port P --data-dir TMP *options`, healthy on entry, stopped on exit."""
    with tempfile.TemporaryDirectory() as work:
        data_dir = Path(work) / "sim"
        port = free_port()
        command = [sys.executable, "-m", "simulator", "serve", "--port", str(port)]
        command += ["--data-dir", str(data_dir), *options]
        process = subprocess.Popen(
            command,
            env={**os.environ, **(environment or {})},
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        server = LocalServer(f"http://127.0.0.1:{port}", data_dir, process)
        try:
            await _wait_healthy(server)
            yield server
        finally:
            process.terminate()
            process.wait(timeout=30)


async def _wait_healthy(server: LocalServer) -> None:
    async with aiohttp.ClientSession() as session:
        for _ in range(600):
            if server.process.poll() is not None:
                error = server.process.stderr.read().decode() if server.process.stderr else ""
                raise SystemExit(f"the server exited with {server.process.returncode}:\n{error}")
            try:
                async with session.get(server.base_url + "/__admin/health") as response:
                    if response.status == 200:
                        return
            except aiohttp.ClientError:
                pass
            await asyncio.sleep(0.1)
    raise SystemExit("the server did not become healthy within 60 s")
