"""`mycarenet-sim serve` from a fresh data dir: creates its state, prints where things are, serves."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.mark.slow
def test_serve_starts_from_nothing_and_prints_its_endpoints(tmp_path: Path) -> None:
    data_dir = tmp_path / "fresh"
    port = _free_port()
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "simulator",
            "serve",
            "--port",
            str(port),
            "--data-dir",
            str(data_dir),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        health = None
        for _ in range(300):
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/__admin/health") as response:
                    health = response.read().decode()
                    break
            except OSError:
                assert server.poll() is None, server.stdout.read() if server.stdout else ""
                time.sleep(0.1)
        assert health is not None and '"status": "ok"' in health
    finally:
        server.terminate()
        output, _ = server.communicate(timeout=30)
    assert f"listening on http://127.0.0.1:{port}" in output
    assert str((data_dir / "pki" / "ca.pem").resolve()) in output
    for path in ("/IAM/SecurityTokenService/v1", "/EtkDepot/v1", "/MyCareNet/Tarification/v1"):
        assert f"http://127.0.0.1:{port}{path}" in output
    assert (data_dir / "simulator.sqlite3").is_file()
    assert "Traceback" not in output
