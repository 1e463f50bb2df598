"""`serve --workers N`: N processes answering on one port.

The parent binds N listening sockets to the same address with SO_REUSEPORT (the kernel
spreads new connections over them), forks one worker per socket, and then only supervises:
SIGTERM or SIGINT to the parent stops every worker (SIGKILL after STOP_GRACE_S). A worker that
dies otherwise is reported on stderr and started again on its socket, which the parent keeps
open: connections the kernel queued on it meanwhile are answered by the new worker. A worker
that keeps dying (MAX_RESTARTS within RESTART_WINDOW_S) is left down and its socket closed
(the kernel then spreads connections over the others); the parent exits
non-zero once none is left, or at shutdown after any death.
The parent forks before it starts any thread or opens any connection, and stays that way, so
it can fork again: each worker opens its own store, keys and population.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import sys
import threading
import time
import traceback
from collections.abc import Callable
from types import FrameType

STOP_GRACE_S = 15.0
MAX_RESTARTS = 5  # of one worker within RESTART_WINDOW_S; then it is left down
RESTART_WINDOW_S = 60.0

# worker(index, its listening socket, how many times it was started before) -> exit status
Worker = Callable[[int, socket.socket, int], int]


def listening_sockets(host: str, port: int, count: int) -> list[socket.socket]:
    """`count` sockets listening on host:port together (SO_REUSEPORT). OSError when the port
    is taken: first checked with a plain bind, which any other listener makes fail, so a
    second simulator cannot silently join the group of a running one."""
    family, kind, protocol, _, address = socket.getaddrinfo(
        host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
    )[0]
    with socket.socket(family, kind, protocol) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        probe.bind(address)
        address = (address[0], probe.getsockname()[1], *address[2:])  # port 0: the one given
    sockets: list[socket.socket] = []
    try:
        for _ in range(count):
            listening = socket.socket(family, kind, protocol)
            sockets.append(listening)
            listening.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            listening.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
            listening.bind(address)
            listening.listen(socket.SOMAXCONN)
    except OSError:
        for listening in sockets:
            listening.close()
        raise
    return sockets


def run(sockets: list[socket.socket], worker: Worker) -> int:
    """Fork `worker` once per socket and supervise; the exit status."""
    if threading.active_count() > 1:  # a fork copies only the calling thread
        raise RuntimeError("serve --workers must fork before any thread starts")
    try:
        return _Supervisor(sockets, worker).run()
    finally:
        for listening in sockets:
            listening.close()


def _child(index: int, starts: int, sockets: list[socket.socket], worker: Worker) -> None:
    code = 1
    listening = sockets[index]
    try:
        for other in sockets:
            if other is not listening:
                other.close()
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        signal.signal(signal.SIGINT, signal.default_int_handler)
        code = worker(index, listening, starts)
    except KeyboardInterrupt:
        code = 0
    except SystemExit as exit_:
        code = exit_.code if isinstance(exit_.code, int) else 1
    except BaseException:
        traceback.print_exc()
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)


class _Supervisor:
    def __init__(self, sockets: list[socket.socket], worker: Worker) -> None:
        self.sockets = sockets
        self.worker = worker
        self.children: dict[int, int] = {}  # pid -> worker index
        self.starts: dict[int, list[float]] = {}  # worker index -> when it was started
        self.stopping = False
        self.failed = False

    def run(self) -> int:
        for index in range(len(self.sockets)):
            self._start(index)
        signal.signal(signal.SIGTERM, self._stop)
        signal.signal(signal.SIGINT, self._stop)
        deadline: float | None = None
        while self.children:
            if self.stopping and deadline is None:
                deadline = time.monotonic() + STOP_GRACE_S
            try:
                pid, status = os.waitpid(-1, os.WNOHANG if self.stopping else 0)
            except ChildProcessError:
                break
            if pid == 0:
                if deadline is not None and time.monotonic() > deadline:
                    for child in self.children:
                        _signal(child, signal.SIGKILL)
                    deadline = time.monotonic() + STOP_GRACE_S
                time.sleep(0.05)
                continue
            if pid not in self.children:
                continue
            index = self.children.pop(pid)
            if not self.stopping:
                self._died(index, pid, status)
        return 1 if self.failed else 0

    def _start(self, index: int) -> int:
        sys.stdout.flush()
        sys.stderr.flush()
        history = self.starts.setdefault(index, [])
        pid = os.fork()
        if pid == 0:
            _child(index, len(history), self.sockets, self.worker)  # never returns
        history.append(time.monotonic())
        self.children[pid] = index
        return pid

    def _died(self, index: int, pid: int, status: int) -> None:
        self.failed = True
        now = time.monotonic()
        recent = [at for at in self.starts[index] if now - at < RESTART_WINDOW_S]
        if len(recent) <= MAX_RESTARTS:
            new = self._start(index)
            what = f"started again (pid {new})"
        else:
            # Nobody accepts on its socket any more: closed, the kernel sends new connections
            # to the other workers' sockets instead of queueing them there.
            self.sockets[index].close()
            left = len(self.children)
            what = (
                f"left down after {MAX_RESTARTS} restarts within {RESTART_WINDOW_S:.0f} s; "
                f"{left} worker{'s' if left != 1 else ''} still serving"
            )
        print(f"error: worker {index} (pid {pid}) {_ended(status)}; {what}", file=sys.stderr,
              flush=True)  # fmt: skip

    def _stop(self, signum: int, frame: FrameType | None) -> None:
        self.stopping = True
        for pid in self.children:
            _signal(pid, signal.SIGTERM)


def _ended(status: int) -> str:
    if os.WIFSIGNALED(status):
        number = os.WTERMSIG(status)
        try:
            name = signal.Signals(number).name
        except ValueError:
            name = str(number)
        return f"was killed by {name}"
    return f"exited with status {os.waitstatus_to_exitcode(status)}"


def _signal(pid: int, number: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, number)
