"""The `--workers` supervisor: a worker that dies is started again on its socket; one that
keeps dying is left down and its socket closed, so every connection reaches a live worker.

The workers here are tiny accept loops answering "index pid starts", so the supervisor is
tested on its own, in a few seconds (tests/e2e/test_workers.py runs the real simulator)."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from simulator.cli.workers import MAX_RESTARTS

SCRIPT = textwrap.dedent(
    """
    import os, sys
    from simulator.cli import workers

    sockets = workers.listening_sockets("127.0.0.1", 0, 2)
    print(sockets[0].getsockname()[1], flush=True)

    def worker(index, listening, starts):
        if sys.argv[1] == "crash" and index == 1:
            sys.exit(3)
        while True:
            connection, _ = listening.accept()
            connection.sendall(f"{index} {os.getpid()} {starts}".encode())
            connection.close()

    sys.exit(workers.run(sockets, worker))
    """
)


class Pool:
    def __init__(self, tmp_path: Path, mode: str) -> None:
        self.stderr = tmp_path / "stderr.txt"
        self.process = subprocess.Popen(
            [sys.executable, "-c", SCRIPT, mode],
            stdout=subprocess.PIPE,
            stderr=self.stderr.open("w"),
            text=True,
        )
        assert self.process.stdout is not None
        self.port = int(self.process.stdout.readline())

    def ask(self) -> tuple[int, int, int]:
        """One new connection: (worker index, pid, starts) of whoever answered."""
        with socket.create_connection(("127.0.0.1", self.port), timeout=10) as connection:
            index, pid, starts = connection.recv(100).decode().split()
        return int(index), int(pid), int(starts)

    def until(self, wanted: int, starts: int = 0, limit: int = 400) -> int:
        """Ask until worker `wanted` (started `starts` times before) answers: its pid."""
        for _ in range(limit):
            index, pid, seen = self.ask()
            if index == wanted and seen == starts:
                return pid
            time.sleep(0.01)
        raise AssertionError(f"worker {wanted} (start {starts}) never answered")

    def stop(self) -> int:
        self.process.send_signal(signal.SIGTERM)
        return self.process.wait(timeout=30)


def _until_gone(pid: int, seconds: float = 10) -> None:
    deadline = time.monotonic() + seconds
    while True:
        try:
            os.kill(pid, 0)  # a zombie still answers: gone means reaped by the supervisor
        except ProcessLookupError:
            return
        assert time.monotonic() < deadline, f"pid {pid} was not reaped"
        time.sleep(0.01)


@pytest.fixture
def pools(tmp_path: Path) -> Iterator[list[Pool]]:
    started: list[Pool] = []
    yield started
    for pool in started:
        if pool.process.poll() is None:
            pool.process.kill()
            pool.process.wait()


def test_a_killed_worker_is_started_again_on_its_socket(tmp_path: Path, pools: list[Pool]) -> None:
    pool = Pool(tmp_path, "serve")
    pools.append(pool)
    pool.until(0)
    first = pool.until(1)
    os.kill(first, signal.SIGKILL)
    # SIGKILL is delivered asynchronously: a connection the dying worker accepted in that
    # instant dies with it (a client's retry). Ask once the supervisor has reaped it.
    _until_gone(first)
    second = pool.until(1, starts=1)
    assert second != first
    assert pool.stop() == 1  # a worker died during the run
    log = pool.stderr.read_text()
    assert f"worker 1 (pid {first}) was killed by SIGKILL; started again (pid {second})" in log


def test_a_worker_that_keeps_dying_is_left_down_and_the_others_take_every_connection(
    tmp_path: Path, pools: list[Pool]
) -> None:
    pool = Pool(tmp_path, "crash")
    pools.append(pool)
    deadline = time.monotonic() + 30
    while "left down" not in pool.stderr.read_text():
        assert time.monotonic() < deadline, pool.stderr.read_text()
        time.sleep(0.05)
    answers = {pool.ask()[0] for _ in range(50)}  # none hangs on the dead worker's socket
    assert answers == {0}
    assert pool.stop() == 1
    log = pool.stderr.read_text()
    assert log.count("exited with status 3; started again") == MAX_RESTARTS
    assert f"left down after {MAX_RESTARTS} restarts within 60 s; 1 worker still serving" in log
