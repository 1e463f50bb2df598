"""A simulator in its own process for the load tests: eFact answers without delay."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest


@dataclass(frozen=True)
class Simulator:
    url: str
    data_dir: Path


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Simulator]:
    data_dir = tmp_path_factory.mktemp("load")
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    log = (data_dir / "server.log").open("wb")
    serve = [sys.executable, "-m", "simulator", "serve", "--port", str(port), "--no-delay"]
    process = subprocess.Popen(
        [*serve, "--data-dir", str(data_dir / "sim")],
        env={**os.environ, "MYCARENET_EFACT_DELAYS": "0,0,0"},
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_healthy(url, process)
        yield Simulator(url, data_dir / "sim")
    finally:
        process.terminate()
        process.wait(timeout=30)
        log.close()


def _wait_healthy(url: str, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the simulator exited with {process.returncode}")
        try:
            with urllib.request.urlopen(url + "/__admin/health", timeout=1):
                return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError("the simulator did not answer within 60 s")
