"""`serve --workers N`: N processes answering on one port.

The parent binds N listening sockets to the same address with SO_REUSEPORT (the kernel
spreads new connections over them), forks one worker per socket, and then only supervises:
SIGTERM or SIGINT to the parent stops every worker (SIGKILL after STOP_GRACE_S); a worker that
dies otherwise is reported on stderr, and the parent exits non-zero once none is left.
The parent forks before it starts any thread or opens any connection: each worker opens its
own store, keys and population.
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

Worker = Callable[[int, socket.socket], int]


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
    """Fork `worker(index, socket)` once per socket and supervise; the exit status."""
    if threading.active_count() > 1:  # a fork copies only the calling thread
        raise RuntimeError("serve --workers must fork before any thread starts")
    children: dict[int, int] = {}  # pid -> worker index
    for index, listening in enumerate(sockets):
        sys.stdout.flush()
        sys.stderr.flush()
        pid = os.fork()
        if pid == 0:
            _child(index, listening, sockets, worker)  # never returns
        children[pid] = index
    for listening in sockets:
        listening.close()
    return _supervise(children)


def _child(
    index: int, listening: socket.socket, sockets: list[socket.socket], worker: Worker
) -> None:
    code = 1
    try:
        for other in sockets:
            if other is not listening:
                other.close()
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        signal.signal(signal.SIGINT, signal.default_int_handler)
        code = worker(index, listening)
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


def _supervise(children: dict[int, int]) -> int:
    stopping = False
    failed = False

    def stop(signum: int, frame: FrameType | None) -> None:
        nonlocal stopping
        stopping = True
        for pid in children:
            _signal(pid, signal.SIGTERM)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    deadline: float | None = None
    while children:
        if stopping and deadline is None:
            deadline = time.monotonic() + STOP_GRACE_S
        try:
            pid, status = os.waitpid(-1, os.WNOHANG if stopping else 0)
        except ChildProcessError:
            break
        if pid == 0:
            if deadline is not None and time.monotonic() > deadline:
                for child in children:
                    _signal(child, signal.SIGKILL)
                deadline = time.monotonic() + STOP_GRACE_S
            time.sleep(0.05)
            continue
        index = children.pop(pid, None)
        if index is None or stopping:
            continue
        failed = True
        left = len(children)
        print(
            f"error: worker {index} (pid {pid}) {_ended(status)}; "
            f"{left} worker{'s' if left != 1 else ''} still serving",
            file=sys.stderr,
            flush=True,
        )
    return 1 if failed else 0


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
