"""A cheap load generator and CPU accounting for the side-by-side benchmarks.

The benchmarks run on the 2-core machine that also serves: a Python client would spend about
as much CPU per request as the server and take it from the server's second worker. So the
load comes from `wrk` (Debian's `wrk` package, C, one thread), posting pre-signed eTar bodies
it pre-formatted once (a Lua script cycles through them): its CPU is measured every round
(it is a child process: getrusage(RUSAGE_CHILDREN) across its run) and printed beside the
server's.

Each target is measured in rounds of fixed duration; the targets take turns round after round
(order rotated), so a burst of load from the other users of the machine falls on all of them.
CPU per target: its server process with every descendant (the workers) and, for PostgreSQL,
the whole cluster (postmaster and every backend) from /proc, before and after each round.
"""

from __future__ import annotations

import asyncio
import os
import resource
import shutil
import statistics
import tempfile
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

PATH = "/MyCareNet/Tarification/v1"
ACTION = "urn:be:fgov:ehealth:mycarenet:tarification:protocol:v1:TarificationConsult"
CORES = os.cpu_count() or 1

# Pre-formatted requests, cycled through; done() prints one parsable line.
WRK_SCRIPT = """\
local requests = {}
local index = 0

function init(args)
  local dir, count, path, action = args[1], tonumber(args[2]), args[3], args[4]
  local headers = {["Content-Type"] = "text/xml; charset=utf-8",
                   ["SOAPAction"] = '"' .. action .. '"'}
  for i = 1, count do
    local file = assert(io.open(dir .. "/" .. i .. ".xml", "rb"))
    requests[i] = wrk.format("POST", path, headers, file:read("*a"))
    file:close()
  end
end

function request()
  index = index % #requests + 1
  return requests[index]
end

function done(summary, latency, _)
  local e = summary.errors
  io.write(string.format("BENCH %d %d %d %d %d %d %d %d %d\\n", summary.requests,
    summary.duration, e.status, e.connect, e.read, e.write, e.timeout,
    latency:percentile(50), latency:percentile(99)))
end
"""


class GeneratorMissing(RuntimeError):
    pass


def wrk_binary() -> str:
    found = shutil.which("wrk")
    if found is None:
        raise GeneratorMissing("wrk is not installed: apt-get install wrk (Debian's package)")
    return found


def write_bodies(folder: Path, bodies: Sequence[bytes]) -> Path:
    """`folder/1.xml` ... `folder/N.xml`, as the Lua script reads them; the folder."""
    folder.mkdir(parents=True, exist_ok=True)
    for number, body in enumerate(bodies, start=1):
        (folder / f"{number}.xml").write_bytes(body)
    return folder


@dataclass(frozen=True)
class WrkResult:
    requests: int
    elapsed: float  # seconds
    failed: int  # non-2xx answers and socket errors
    p50_ms: float
    p99_ms: float
    generator_cpu: float  # CPU seconds wrk used


async def run_wrk(
    base_url: str, body_dir: Path, count: int, seconds: float, connections: int
) -> WrkResult:
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as script:
        script.write(WRK_SCRIPT)
    try:
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        process = await asyncio.create_subprocess_exec(
            wrk_binary(), "-t1", f"-c{connections}", f"-d{seconds:g}s", "--timeout", "30s",
            "-s", script.name, base_url + PATH, "--",
            str(body_dir), str(count), PATH, ACTION,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        )  # fmt: skip
        out, err = await process.communicate()
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
    finally:
        Path(script.name).unlink()
    line = next((x for x in out.decode().splitlines() if x.startswith("BENCH ")), None)
    if process.returncode != 0 or line is None:
        raise SystemExit(f"wrk failed ({process.returncode}): {err.decode()}{out.decode()}")
    requests, duration_us, *errors, p50_us, p99_us = (int(x) for x in line.split()[1:])
    cpu = (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)
    return WrkResult(requests, duration_us / 1e6, sum(errors), p50_us / 1e3, p99_us / 1e3, cpu)


# -- CPU of process trees (Linux /proc) ------------------------------------------------------
_TICK = os.sysconf("SC_CLK_TCK")


def _processes() -> dict[int, tuple[int, float]]:
    """pid -> (parent pid, user + system CPU seconds) of every live process."""
    found: dict[int, tuple[int, float]] = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            raw = Path(f"/proc/{entry.name}/stat").read_bytes()
            fields = raw.rsplit(b")", 1)[1].split()
        except OSError:
            continue
        found[int(entry.name)] = (int(fields[1]), (int(fields[11]) + int(fields[12])) / _TICK)
    return found


def tree_cpu(roots: Sequence[int]) -> float:
    """CPU seconds used so far by `roots` and all their live descendants."""
    processes = _processes()
    children: dict[int, list[int]] = {}
    for pid, (parent, _) in processes.items():
        children.setdefault(parent, []).append(pid)
    total, todo, seen = 0.0, list(roots), set()
    while todo:
        pid = todo.pop()
        if pid in seen or pid not in processes:
            continue
        seen.add(pid)
        total += processes[pid][1]
        todo.extend(children.get(pid, ()))
    return total


# -- targets and rounds ----------------------------------------------------------------------
@dataclass(frozen=True)
class Round:
    requests: int
    elapsed: float
    server_cpu: float  # the server's processes (every worker)
    store_cpu: float  # the PostgreSQL cluster's processes (0 without one)
    generator_cpu: float
    p50_ms: float
    p99_ms: float
    load: float  # 1-minute load average at the end of the round

    @property
    def rate(self) -> float:
        return self.requests / self.elapsed

    @property
    def cpu_per_request_ms(self) -> float:
        return (self.server_cpu + self.store_cpu) * 1000 / self.requests

    @property
    def per_cpu_second(self) -> float:
        return self.requests / (self.server_cpu + self.store_cpu)


@dataclass
class Target:
    name: str
    base_url: str
    server_pids: Callable[[], list[int]]  # the server's root process(es)
    store_pids: Callable[[], list[int]]  # the PostgreSQL postmaster, or none
    bodies: Callable[[], Awaitable[Path]]  # folder of pre-signed bodies, refreshed when old
    count: int
    processes: int = 1  # how many cores the server itself can keep busy (threads: CORES)
    rounds: list[Round] = field(default_factory=list)

    def capacity(self) -> float:
        """Requests/s the server would answer with this machine to itself, the generator's
        share aside: its median CPU per request spread over the cores it can use (one event
        loop per process; PostgreSQL's backends take the other cores' time too)."""
        rs = self.rounds
        server = statistics.median(r.server_cpu / r.requests for r in rs)
        total = statistics.median((r.server_cpu + r.store_cpu) / r.requests for r in rs)
        generator = statistics.median(r.generator_cpu / r.elapsed for r in rs)
        return min(min(self.processes, CORES) / server, (CORES - generator) / total)


async def measure(target: Target, seconds: float, connections: int) -> Round:
    body_dir = await target.bodies()
    server_before = tree_cpu(target.server_pids())
    store_before = tree_cpu(target.store_pids())
    result = await run_wrk(target.base_url, body_dir, target.count, seconds, connections)
    server = tree_cpu(target.server_pids()) - server_before
    store = tree_cpu(target.store_pids()) - store_before
    if result.failed:
        raise SystemExit(f"{target.name}: {result.failed} of {result.requests} requests failed")
    return Round(
        result.requests, result.elapsed, server, store, result.generator_cpu,
        result.p50_ms, result.p99_ms, os.getloadavg()[0],
    )  # fmt: skip


async def run_rounds(
    targets: Sequence[Target], rounds: int, seconds: float, connections: int, warmup: float
) -> None:
    for target in targets:
        await run_wrk(target.base_url, await target.bodies(), target.count, warmup, connections)
    for number in range(rounds):
        shift = number % len(targets)
        for target in [*targets[shift:], *targets[:shift]]:
            result = await measure(target, seconds, connections)
            target.rounds.append(result)
            print(
                f"round {number + 1} {target.name:<22} {result.rate:7.0f} req/s wall,"
                f" {result.cpu_per_request_ms:5.2f} ms server CPU/req"
                f" ({result.store_cpu * 1000 / result.requests:4.2f} of it PostgreSQL),"
                f" wrk {result.generator_cpu / result.elapsed * 100:4.1f} % of a core,"
                f" load {result.load:4.1f}",
                flush=True,
            )


def report(targets: Sequence[Target]) -> None:
    print()
    print(f"{'target':<22} {'wall req/s':>13} {'req/server CPU-s':>17} {'server ms/req':>14}"
          f" {'of it PG':>8} {'cores used':>10} {'wrk core':>8} {'p50/p99 ms':>12}"
          f" {'capacity/s':>10}")  # fmt: skip
    for target in targets:
        rs = target.rounds
        best = max(rs, key=lambda r: r.rate)
        rate = f"{best.rate:.0f} / {statistics.median(r.rate for r in rs):.0f}"
        per_cpu = (
            f"{max(r.per_cpu_second for r in rs):.0f} /"
            f" {statistics.median(r.per_cpu_second for r in rs):.0f}"
        )
        ms = statistics.median(r.cpu_per_request_ms for r in rs)
        pg = statistics.median(r.store_cpu * 1000 / r.requests for r in rs)
        cores = statistics.median((r.server_cpu + r.store_cpu) / r.elapsed for r in rs)
        wrk = statistics.median(r.generator_cpu / r.elapsed for r in rs)
        latency = f"{best.p50_ms:.0f} / {best.p99_ms:.0f}"
        print(f"{target.name:<22} {rate:>13} {per_cpu:>17} {ms:>14.2f} {pg:>8.2f}"
              f" {cores:>10.2f} {wrk:>8.2f} {latency:>12} {target.capacity():>10.0f}")  # fmt: skip
    loads = [r.load for t in targets for r in t.rounds]
    print(
        f"(best / median of {len(targets[0].rounds)} rounds; server ms/req, cores and wrk"
        f" are medians; load average {min(loads):.1f}-{max(loads):.1f} on {CORES} cores;"
        " capacity: median CPU per request spread over the cores the server can use, wrk's"
        " share aside)"
    )


def ratio(top: Target, bottom: Target) -> tuple[float, float]:
    """Best and median of the per-round ratio of wall-clock rates (rounds taken back to back,
    so both sides of one ratio saw about the same load from elsewhere)."""
    ratios = [a.rate / b.rate for a, b in zip(top.rounds, bottom.rounds, strict=True)]
    return max(ratios), statistics.median(ratios)


class BodyCache:
    """Pre-signed bodies for one server, signed again before their Timestamps expire
    (a Timestamp lives 5 minutes, accepted 5 more minutes of clock skew)."""

    MAX_AGE_S = 420.0

    def __init__(self, folder: Path, sign: Callable[[], Awaitable[Sequence[bytes]]]) -> None:
        self.folder = folder
        self._sign = sign
        self._signed_at = -1e9

    async def __call__(self) -> Path:
        if time.monotonic() - self._signed_at > self.MAX_AGE_S:
            write_bodies(self.folder, await self._sign())
            self._signed_at = time.monotonic()
        return self.folder
