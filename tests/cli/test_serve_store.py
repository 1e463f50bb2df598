"""`serve --store` / `--workers` misuse: one error line, exit code 2, no banner; and the
pieces `serve --workers` is made of (sockets sharing a port, the data dir lock)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from simulator.cli import data_lock, workers
from simulator.cli.serve_scale import options_problem
from simulator.store.backends import shown_url
from tests.support.postgres import psycopg_or_skip


def _serve(tmp_path: Path, *options: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "MYCARENET_STORE"}
    return subprocess.run(
        [sys.executable, "-m", "simulator", "serve", "--data-dir", str(tmp_path / "d"),
         "--port", "0", *options],
        capture_output=True, text=True, timeout=120, check=False, env=env,
    )  # fmt: skip


@pytest.mark.parametrize(
    ("options", "expected"),
    [
        (("--workers", "3"), "--workers 3 needs a store every process shares"),
        (("--store", "sqlite:///x.db"), "--store sqlite:///x.db is not a PostgreSQL URL"),
        (
            ("--store", "postgresql://sim@/nope?host=/nonexistent-dir&port=5432"),
            "cannot use the store postgresql://sim@/nope?host=/nonexistent-dir&port=5432: ",
        ),
    ],
)
def test_misuse_is_one_error_line(tmp_path: Path, options: tuple[str, ...], expected: str) -> None:
    if any(option.startswith("postgresql://") for option in options):
        psycopg_or_skip()  # without the [postgres] extra the error is that one (test below)
    done = _serve(tmp_path, *options)
    assert done.returncode == 2, done.stderr
    lines = done.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and expected in lines[0], lines
    assert done.stdout == ""


def test_workers_out_of_range_are_refused_by_the_parser(tmp_path: Path) -> None:
    done = _serve(tmp_path, "--workers", "0")
    assert done.returncode == 2 and "give 1 to 64 workers" in done.stderr


def test_the_store_comes_from_the_environment_too() -> None:
    assert options_problem(None, 1) is None
    problem = options_problem(None, 2)
    assert problem is not None and "$MYCARENET_STORE" in problem
    psycopg_or_skip()
    assert options_problem("postgresql://h/db", 4) is None


def test_a_password_never_shows() -> None:
    assert shown_url("postgresql://sim:s3cret@db:5432/sim") == "postgresql://sim:***@db:5432/sim"
    assert shown_url("postgresql://sim@db/sim") == "postgresql://sim@db/sim"


def test_worker_sockets_share_one_port_and_refuse_a_taken_one() -> None:
    sockets = workers.listening_sockets("127.0.0.1", 0, 3)
    try:
        ports = {s.getsockname()[1] for s in sockets}
        assert len(ports) == 1 and 0 not in ports
        with pytest.raises(OSError):  # a second simulator cannot join the group
            workers.listening_sockets("127.0.0.1", ports.pop(), 2)
    finally:
        for listening in sockets:
            listening.close()
    with socket.create_server(("127.0.0.1", 0)) as taken, pytest.raises(OSError):
        workers.listening_sockets("127.0.0.1", taken.getsockname()[1], 2)


def test_the_data_dir_lock_names_its_holder_and_goes_with_the_process(tmp_path: Path) -> None:
    script = (
        "import sys, time\nfrom pathlib import Path\nfrom simulator.cli import data_lock\n"
        "held = data_lock.hold(Path(sys.argv[1]))\nprint('held', flush=True)\ntime.sleep(60)\n"
    )
    holder = subprocess.Popen(
        [sys.executable, "-c", script, str(tmp_path)], stdout=subprocess.PIPE, text=True
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        with pytest.raises(data_lock.DataDirBusy, match=f"pid {holder.pid}"):
            data_lock.hold(tmp_path)
    finally:
        holder.kill()
        holder.wait(timeout=10)
    data_lock.hold(tmp_path).close()  # the kernel let go of the dead holder's lock
