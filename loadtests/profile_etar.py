"""Where a server's CPU goes per signed eTar request: py-spy samples under wrk, by stage.

    python loadtests/profile_etar.py [--seconds 20] [--connections 32] [--postgres]
                                     [--serve "--workers 2"] [--raw samples.txt]

Starts `serve --scenario load --no-delay` (plus --serve's options; with `--workers 2` one
worker is sampled; --postgres: on a fresh database of a throw-away cluster, as
bench_workers.py), pre-signs 1,000 eTar requests, warms up, then runs wrk
(loadtests/wrk_load.py) while `py-spy record` samples the server process (every thread).
Samples of a thread waiting (a lock, a queue, a PostgreSQL round trip) are dropped; each
other one is put in one bucket: the pipeline stage it is in (server/pipeline.py), the
service's handler, the journal's writer and store threads, or the HTTP layer (aiohttp) and
the event loop around them. Printed: each bucket's share of the busy samples and, from the
server's CPU per request over the run, its CPU time per request; then the kernel's own count
for the sampled process, its event loop's thread against the others (py-spy sees a thread
waiting for the GIL as busy, so its share of a background thread is an upper bound). Needs py-spy
(`pip install py-spy`) and Debian's `wrk`.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import contextlib
import os
import shlex
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench_etar import presign
from bench_workers import postgres as throwaway_postgres
from local_server import local_server
from wrk_load import GeneratorMissing, run_wrk, tree_cpu, write_bodies, wrk_binary

TICK = os.sysconf("SC_CLK_TCK")

# The pipeline's stage functions (server/pipeline.py), by what they do.
STAGES = {
    "parse_xml": "parse the request (lxml, limits)",
    "read_envelope": "read the envelope",
    "resolve": "dispatch",
    "_validate": "schema validation",
    "_verify_security": "WS-Security and SAML checks",
    "_check_replay": "Timestamp lifetime and replay",
    "_secure": "sign the answer",
    "serialize": "serialise the answer",
    "_journal": "journal entry (event loop)",
    "_commit": "commit hooks",
    "shape_answer": "scenario shaping",
    "decide": "scenario decision",
}


# Leaves where a thread waits: py-spy does not always see those samples as idle (a Condition
# wait, an executor thread blocked on its queue).
IDLE_LEAVES = (
    ("wait", "threading.py"),
    ("_worker", "concurrent/futures/thread.py"),
    ("select", "selectors.py"),
    ("get", "queue.py"),
    ("wait", "psycopg/connection.py"),  # a round trip to PostgreSQL, or LISTEN
    ("_run", "store/group_commit.py"),  # its queue's get (C: no frame of its own)
)


def is_idle(leaf: str) -> bool:
    name = leaf.split(" (", 1)[0].rsplit(".", 1)[-1]  # "Condition.wait (threading.py:331)"
    return any(name == idle and where in leaf for idle, where in IDLE_LEAVES)


def bucket(frames: list[str]) -> str:
    """`frames` outermost first, as py-spy's raw format gives them ("name (file:line)")."""
    if frames and is_idle(frames[-1]):
        return "idle"
    names = [frame.split(" (", 1)[0] for frame in frames]
    files = " ".join(frames)
    for outer in ("_run_stages", "process"):
        if outer in names:
            index = names.index(outer)
            inner = names[index + 1] if index + 1 < len(names) else outer
            if outer == "_run_stages" and inner not in STAGES:
                return "the service (handler: decision, answer)"
            return STAGES.get(inner, f"pipeline: {inner}")
    if "store/sqlite" in files or "store/postgres" in files:
        return "journal and store threads"
    if "concurrent/futures/thread.py" in files:
        return "executor threads (other)"
    if "aiohttp/" in files:
        return "aiohttp (read, route, write)"
    if "asyncio/" in files:
        return "asyncio event loop"
    return "other"


def read_samples(raw: Path) -> collections.Counter[str]:
    counts: collections.Counter[str] = collections.Counter()
    for line in raw.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        frames = [f for f in stack.split(";") if not f.startswith(("thread (", "process "))]
        where = bucket(frames)
        if where != "idle":
            counts[where] += int(count)
    return counts


def sampled_pid(root: int) -> int:
    """The server process, or with --workers its first worker (a child of the supervisor)."""
    children = Path(f"/proc/{root}/task/{root}/children").read_text().split()
    return int(children[0]) if children else root


def report(counts: collections.Counter[str], cpu_ms_per_request: float) -> None:
    total = sum(counts.values())
    print(f"\n{'where':<42} {'busy samples':>12} {'share':>6} {'ms/request':>10}")
    for name, count in counts.most_common():
        share = count / total
        print(f"{name:<42} {count:>12} {share:>6.1%} {share * cpu_ms_per_request:>10.3f}")
    print(f"{'all':<42} {total:>12} {1:>6.0%} {cpu_ms_per_request:>10.3f}")


async def run(
    seconds: float, connections: int, serve: Iterable[str], postgres: bool, keep: Path | None
) -> None:
    py_spy = shutil.which("py-spy")
    if py_spy is None:
        raise SystemExit("skipped: py-spy is not installed (pip install py-spy)")
    try:
        wrk_binary()
    except GeneratorMissing as error:
        raise SystemExit(f"skipped: {error}") from None
    options = ("--scenario", "load", "--no-delay", *serve)
    with contextlib.ExitStack() as stack, tempfile.TemporaryDirectory() as work:
        if postgres:
            urls, _ = stack.enter_context(throwaway_postgres(None))
            options = (*options, "--store", urls[0])
        async with local_server(*options) as server:
            bodies = write_bodies(Path(work) / "bodies", await presign(
                server.base_url, server.data_dir, 1000))  # fmt: skip
            await run_wrk(server.base_url, bodies, 1000, 3.0, connections)  # warm-up
            pid = sampled_pid(server.process.pid)
            raw = Path(work) / "samples.txt"
            spy = subprocess.Popen(
                [py_spy, "record", "--pid", str(pid), "--duration", str(int(seconds)),
                 "--format", "raw", "--output", str(raw), "--threads", "--rate", "250"],
                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
            )  # fmt: skip
            cpu_before = tree_cpu([server.process.pid])
            threads_before = thread_cpu(pid)
            result = await run_wrk(server.base_url, bodies, 1000, seconds, connections)
            cpu = tree_cpu([server.process.pid]) - cpu_before
            threads_after = thread_cpu(pid)
            _, err = spy.communicate(timeout=60)
            if spy.returncode != 0:
                raise SystemExit(f"py-spy failed: {err.decode()}")
        counts = read_samples(raw)
        if keep is not None:
            shutil.copyfile(raw, keep)
    per_request = cpu * 1000 / max(result.requests, 1)
    print(
        f"{result.requests} requests in {result.elapsed:.1f} s"
        f" ({result.requests / result.elapsed:.0f}/s), server CPU {per_request:.2f} ms a request"
        f" (all its processes); samples from pid {pid}"
    )
    report(counts, per_request)
    # py-spy counts a thread waiting for the GIL as busy: the kernel's per-thread CPU says
    # what the event loop's thread and the others (journal writer, store, jobs) really used.
    main_ms, others_ms = (
        (after - before) * 1000 / max(result.requests, 1)
        for before, after in zip(threads_before, threads_after, strict=True)
    )
    print(
        f"CPU of pid {pid} by thread (/proc): event loop {main_ms:.3f} ms a request,"
        f" other threads {others_ms:.3f}"
    )


def thread_cpu(pid: int) -> tuple[float, float]:
    """CPU seconds of the process's main thread (the event loop) and of its other threads."""
    main = others = 0.0
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            fields = (task / "stat").read_bytes().rsplit(b")", 1)[1].split()
        except OSError:  # the thread ended meanwhile
            continue
        used = (int(fields[11]) + int(fields[12])) / TICK
        if int(task.name) == pid:
            main += used
        else:
            others += used
    return main, others


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--serve", default="", help="more `serve` options, as one string")
    parser.add_argument(
        "--postgres", action="store_true", help="on a fresh database of a throw-away cluster"
    )
    parser.add_argument(
        "--raw", type=Path, help="keep py-spy's raw samples there (for a flame graph)"
    )
    args = parser.parse_args()
    serve = shlex.split(args.serve)
    asyncio.run(run(args.seconds, args.connections, serve, args.postgres, args.raw))


if __name__ == "__main__":
    main()
