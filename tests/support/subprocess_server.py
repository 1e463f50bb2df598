"""A real simulator in its own process, so a test can SIGKILL it and start it again."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]

# Same population size as the in-thread server, so keystores issued in-process stay valid.
_SCRIPT = """
import sys
from pathlib import Path
from aiohttp import web
from simulator.config import Settings
from simulator.runtime import Simulator
from simulator.server.app import create_app

settings = Settings(
    data_dir=Path(sys.argv[1]), port=int(sys.argv[2]), patients=600, providers=80, no_delay=True
)
web.run_app(create_app(Simulator.create(settings)), host="127.0.0.1", port=settings.port,
            print=None, access_log=None)
"""


class SubprocessServer:
    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir
        self.port = _free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        self._process: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 60) -> SubprocessServer:
        self._process = subprocess.Popen(
            [sys.executable, "-c", _SCRIPT, str(self.data_dir), str(self.port)],
            cwd=REPO,
            env={**os.environ, "PYTHONPATH": str(REPO)},
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                error = self._process.stderr.read().decode() if self._process.stderr else ""
                raise RuntimeError(f"simulator process exited early:\n{error}")
            try:
                with urllib.request.urlopen(f"{self.base_url}/__admin/health", timeout=1):
                    return self
            except OSError:
                time.sleep(0.1)
        self.kill()
        raise RuntimeError(f"simulator process did not answer within {timeout} s")

    def kill(self) -> None:
        """SIGKILL: no cleanup, no flush, as a crash or an OOM kill would leave things."""
        if self._process is not None and self._process.poll() is None:
            os.kill(self._process.pid, signal.SIGKILL)
            self._process.wait(timeout=10)
        self._process = None


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])
