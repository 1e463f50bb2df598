"""`serve` refuses what cannot work with one error line and exit code 2, before printing a
banner (it used to print "listening on ..." and then a traceback)."""

from __future__ import annotations

import socket
import subprocess
import sys
from pathlib import Path

import pytest


def _serve(tmp_path: Path, *options: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "simulator", "serve", "--data-dir", str(tmp_path), *options],
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip


def test_a_port_in_use_is_one_error_line(tmp_path: Path) -> None:
    with socket.create_server(("127.0.0.1", 0)) as taken:
        port = taken.getsockname()[1]
        done = _serve(tmp_path, "--port", str(port))
    assert done.returncode == 2
    assert done.stderr == f"error: cannot listen on 127.0.0.1:{port}: Address already in use\n"
    assert done.stdout == ""


@pytest.mark.parametrize("port", ["99999", "-1"])
def test_a_port_out_of_range_is_one_error_line(tmp_path: Path, port: str) -> None:
    done = _serve(tmp_path, "--port", port)
    assert done.returncode == 2
    assert done.stderr == f"error: --port must be from 0 to 65535, got {port}\n"
    assert done.stdout == ""
