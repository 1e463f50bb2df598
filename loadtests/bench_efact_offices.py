"""Many offices posting eFact files at once: every file answered exactly once, and how soon.

    python loadtests/bench_efact_offices.py [--offices 20] [--files 10] [--invoices 1000]
                                            [--kill-worker] [--store postgresql://...]

Starts `mycarenet-sim serve --no-delay` in its own process with the insurer's delays at 0
(MYCARENET_EFACT_DELAYS=0,0,0), gets one keystore per office (the i-th GP of the population)
from POST /__admin/keystores, generates --files files of --invoices invoices per office (the
office as third party, its own sending numbers), and lets every office post its files one
after the other and poll `get` (confirming what it took) until each file has its verdict,
all offices at once. Printed: how many files got a 931000, a verdict (920098 or 920099) and,
when accepted, a 920900 — each must be exactly one — the seconds from a file's post to its
verdict (p50, p99, max), and the server's resident memory (its processes summed) at the start
and at the end.

The insurer's rules apply: one file a day per third party (a second one the same day is
920099 100724), and the offices' patients overlap, so most files after each office's first are
refused; a refusal is an answer like an acceptance for this count.

--kill-worker: the server runs `--workers 2 --store postgresql://...` (--store's database, or
a throw-away cluster in a temporary folder) and, once every file is posted and some verdicts
are in, one worker is SIGKILLed: the files it was checking are taken by the other worker, and
the count above must still be exactly one of each.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import io
import os
import signal
import statistics
import sys
import tempfile
import time
from collections import Counter, defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import aiohttp
from local_server import LocalServer, local_server

from simulator.client import ConnectorClient
from simulator.client import genasync as ga_client
from simulator.client.admin_api import AdminApi
from simulator.codecs import genasync as codec
from simulator.config import DEFAULT_SEED, Settings
from simulator.domain.population import build_population
from simulator.efact.generator import Spec, generate

PASSWORD = "bench-offices"
VERDICTS = ("920098", "920099")
POLL_S = 0.5
DRAIN_S = 600.0


@dataclass
class Office:
    index: int
    nihii: str
    keystore: Path
    files: list[tuple[str, bytes]]  # (input reference, 920000)
    posted_at: dict[str, float] = field(default_factory=dict)
    seen: dict[str, Counter[str]] = field(default_factory=lambda: defaultdict(Counter))
    verdict_at: dict[str, float] = field(default_factory=dict)
    messages: set[str] = field(default_factory=set)  # the References of the messages taken


def rss_kb(root: int) -> int:
    """Resident memory of `root` and its children (serve --workers forks them), in kB."""
    total = 0
    for pid in [root, *children(root)]:
        try:
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
        except OSError:
            continue
    return total


def children(pid: int) -> list[int]:
    found: list[int] = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            found += [int(c) for c in (task / "children").read_text().split()]
        except OSError:
            continue
    return found


@contextmanager
def postgres(url: str | None) -> Iterator[str]:
    from tests.support.postgres import PostgresUnavailable, running_cluster

    if url is not None:
        yield url
        return
    try:
        with running_cluster() as cluster:
            yield cluster.create_database("offices")
    except PostgresUnavailable as error:
        raise SystemExit(f"--kill-worker needs PostgreSQL: {error}") from None


def offices_of(server: LocalServer, args: argparse.Namespace, work: Path) -> list[Office]:
    admin = AdminApi(server.base_url)
    today = admin.clock().today
    defaults = Settings(data_dir=work)
    population = build_population(DEFAULT_SEED, defaults.patients, defaults.providers, today)
    ca = work / "ca.pem"
    offices = []
    for index in range(args.offices):
        issued = admin.keystore(kind="GP", index=index, password=PASSWORD, key_type="rsa")
        keystore = work / f"office-{index}.p12"
        keystore.write_bytes(base64.b64decode(issued["pkcs12_base64"]))
        ca.write_text(issued["ca_pem"])
        files = []
        for number in range(args.files):
            out = io.BytesIO()
            spec = Spec(
                invoices=args.invoices, seed=index * 1000 + number, today=today,
                sending_number=number + 1, doctor=issued["nihii"], insurer="300",
            )  # fmt: skip
            generate(out, population, spec)
            files.append((f"2026{index:04d}{number:06d}", out.getvalue()))
        offices.append(Office(index, issued["nihii"], keystore, files))
    return offices


async def work_office(office: Office, base_url: str, ca: Path, posted: asyncio.Event) -> None:
    async with ConnectorClient(base_url, office.keystore, PASSWORD, ca_cert=ca) as client:
        for reference, content in office.files:
            office.posted_at[reference] = time.perf_counter()
            await ga_client.post(
                client, "hcpfac", content, message_name="HCPFAC", destination_io="300",
                input_reference=reference,
            )  # fmt: skip
        posted.set()
        deadline = time.perf_counter() + DRAIN_S
        while not finished(office) and time.perf_counter() < deadline:
            await take(client, office)
            await asyncio.sleep(POLL_S)
        await take(client, office)  # anything sent twice would show here


async def take(client: ConnectorClient, office: Office) -> None:
    """Get and confirm. Messages are told apart by their own Reference: one seen again
    (its confirm's answer lost with a killed worker) counts once, one delivered twice twice."""
    for attempt in range(5):  # a worker killed under a connection: the next one answers
        try:
            found = await ga_client.get(client, "hcpfac", max_messages=100, max_tacks=100)
            note(office, found)
            await ga_client.confirm(
                client, "hcpfac", references=[m.detail.reference or "" for m in found.messages],
                tack_contents=[t.tack.content for t in found.tacks],
            )  # fmt: skip
        except (OSError, ValueError, aiohttp.ClientError, ga_client.GenAsyncFaultError) as error:
            if attempt == 4:
                raise
            print(f"  office {office.index}: {type(error).__name__}, again", file=sys.stderr)
            continue
        return


def note(office: Office, found: codec.GetResponse) -> None:
    now = time.perf_counter()
    for message in found.messages:
        if message.detail.reference in office.messages:
            continue
        office.messages.add(message.detail.reference or "?")
        reference = message.common.input_reference or "?"
        kind = message.detail.content[:6].decode("ascii", "replace")
        office.seen[reference][kind] += 1
        if kind in VERDICTS and reference not in office.verdict_at:
            office.verdict_at[reference] = now


def finished(office: Office) -> bool:
    for reference, _ in office.files:
        seen = office.seen[reference]
        if not any(seen[v] for v in VERDICTS) or (seen["920098"] and not seen["920900"]):
            return False
    return True


def once(offices: list[Office]) -> tuple[Counter[str], list[str]]:
    """How many files got each answer exactly once, and what went wrong with the others."""
    counts: Counter[str] = Counter()
    problems = []
    for office in offices:
        for reference, _ in office.files:
            seen = office.seen[reference]
            verdicts = sum(seen[v] for v in VERDICTS)
            wanted = {"931000": 1, "verdict": 1, "920900": 1 if seen["920098"] else 0}
            got = {"931000": seen["931000"], "verdict": verdicts, "920900": seen["920900"]}
            if got == wanted:
                counts["exactly once"] += 1
                counts["accepted" if seen["920098"] else "refused"] += 1
            else:
                problems.append(f"{reference}: {dict(seen)}")
    return counts, problems


async def run(args: argparse.Namespace) -> int:
    options = ["--no-delay"]
    environment = {"MYCARENET_EFACT_DELAYS": "0,0,0"}
    with tempfile.TemporaryDirectory() as scratch, postgres_if(args) as url:
        work = Path(scratch)
        if url is not None:
            options += ["--store", url, "--workers", "2"]
        async with local_server(*options, environment=environment) as server:
            pid = server.process.pid
            rss_start = rss_kb(pid)
            started = time.perf_counter()
            offices = await asyncio.to_thread(offices_of, server, args, work)
            print(f"{args.offices} offices x {args.files} files x {args.invoices} invoices "
                  f"generated in {time.perf_counter() - started:.1f} s"
                  f"{' on postgresql, 2 workers' if url else ' on sqlite'}")  # fmt: skip
            ca = work / "ca.pem"
            posted = [asyncio.Event() for _ in offices]
            started = time.perf_counter()
            tasks = [
                asyncio.create_task(work_office(office, server.base_url, ca, done))
                for office, done in zip(offices, posted, strict=True)
            ]
            if args.kill_worker:
                await kill_one_worker(pid, offices, posted)
            await asyncio.gather(*tasks)
            elapsed = time.perf_counter() - started
            rss_end = rss_kb(pid)
    return report(offices, elapsed, rss_start, rss_end)


@contextmanager
def postgres_if(args: argparse.Namespace) -> Iterator[str | None]:
    if not args.kill_worker and args.store is None:
        yield None
        return
    with postgres(args.store) as url:
        yield url


async def kill_one_worker(pid: int, offices: list[Office], posted: list[asyncio.Event]) -> None:
    """Once every file is posted and a fifth of the verdicts are in: SIGKILL one worker."""
    for event in posted:
        await event.wait()
    total = sum(len(o.files) for o in offices)
    while sum(len(o.verdict_at) for o in offices) < total // 5:
        await asyncio.sleep(0.1)
    workers = children(pid)
    if len(workers) < 2:
        raise SystemExit(f"expected two workers under pid {pid}, found {workers}")
    os.kill(workers[0], signal.SIGKILL)
    verdicts = sum(len(o.verdict_at) for o in offices)
    print(f"SIGKILLed worker pid {workers[0]} with {verdicts} of {total} verdicts in")


def report(offices: list[Office], elapsed: float, rss_start: int, rss_end: int) -> int:
    counts, problems = once(offices)
    total = sum(len(o.files) for o in offices)
    waits = sorted(
        o.verdict_at[r] - o.posted_at[r] for o in offices for r in o.verdict_at if r in o.posted_at
    )
    print(
        f"files answered exactly once: {counts['exactly once']} of {total} "
        f"({counts['accepted']} accepted 920098 + 920900, {counts['refused']} refused 920099)"
    )
    if waits:
        p99 = waits[min(len(waits) - 1, int(len(waits) * 0.99))]
        print(
            f"post to verdict: p50 {statistics.median(waits):.1f} s, p99 {p99:.1f} s, "
            f"max {waits[-1]:.1f} s ({len(waits)} files, {elapsed:.0f} s in all)"
        )
    print(f"server RSS: {rss_start / 1024:.0f} MB at start, {rss_end / 1024:.0f} MB at the end")
    for problem in problems[:20]:
        print(f"  not exactly once: {problem}")
    return 0 if not problems else 1


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--offices", type=int, default=20)
    parser.add_argument("--files", type=int, default=10, help="files per office")
    parser.add_argument("--invoices", type=int, default=1000, help="invoices per file")
    parser.add_argument("--kill-worker", action="store_true",
                        help="serve --workers 2 on PostgreSQL and SIGKILL one mid-run")  # fmt: skip
    parser.add_argument("--store", help="a PostgreSQL URL instead of a throw-away cluster")
    sys.exit(asyncio.run(run(parser.parse_args())))


if __name__ == "__main__":
    main()
