"""Signed eTar round trips with 1 and 2 workers on PostgreSQL against 1 process on SQLite.

    python loadtests/bench_workers.py [--rounds 5] [--seconds 8] [--connections 32]
                                      [--store postgresql://...]

In one run: `serve --scenario load --no-delay` on SQLite (one process), on PostgreSQL with one
worker and on PostgreSQL with `--workers 2` (each on a fresh database of a throw-away cluster
started in a temporary folder, or of --store's server). Each gets its own pre-signed requests
(its own STS token) and wrk (loadtests/wrk_load.py) sends them for --seconds per round, the
three taking turns. Printed per target: requests per wall-clock second, requests per server
CPU-second (the simulator's processes plus, on PostgreSQL, the cluster's), how much of it
PostgreSQL used, and the CPU the load generator took (it runs on the same machine: wrk costs a
few percent of one core, and is shown so that it can be accounted for). Figures are printed,
never judged against a threshold: the machine is shared and noisy.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
from collections.abc import AsyncIterator, Iterator
from contextlib import AsyncExitStack, asynccontextmanager, contextmanager
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench_etar import presign
from local_server import LocalServer, local_server
from wrk_load import (
    CORES,
    BodyCache,
    GeneratorMissing,
    Target,
    ratio,
    report,
    run_rounds,
    wrk_binary,
)

SCALING_TARGET = 1.7


@contextmanager
def postgres(url: str | None) -> Iterator[tuple[list[str], list[int]]]:
    """Two fresh databases' URLs and the postmaster's pid (for its CPU; none for --store)."""
    from tests.support.postgres import PostgresUnavailable, running_cluster

    if url is not None:
        yield [url, url], []
        return
    try:
        with running_cluster() as cluster:
            postmaster = int((cluster.data / "postmaster.pid").read_text().split()[0])
            yield [cluster.create_database("bench"), cluster.create_database("bench")], [postmaster]
    except PostgresUnavailable as error:
        raise SystemExit(f"skipped: {error}") from None


def target(
    name: str,
    server: LocalServer,
    store_pids: list[int],
    folder: Path,
    count: int,
    processes: int = 1,
) -> Target:
    async def sign() -> list[bytes]:
        return await presign(server.base_url, server.data_dir, count)

    return Target(
        name=name,
        base_url=server.base_url,
        server_pids=lambda: [server.process.pid],
        store_pids=lambda: store_pids,
        bodies=BodyCache(folder, sign),
        count=count,
        processes=processes,
    )


@asynccontextmanager
async def simulators(
    stack: AsyncExitStack, urls: list[str], store_pids: list[int], work: Path, count: int
) -> AsyncIterator[list[Target]]:
    common = ("--scenario", "load", "--no-delay")
    sqlite = await stack.enter_async_context(local_server(*common))
    pg1 = await stack.enter_async_context(local_server(*common, "--store", urls[0]))
    pg2 = await stack.enter_async_context(
        local_server(*common, "--store", urls[1], "--workers", "2")
    )
    yield [
        target("sqlite, 1 process", sqlite, [], work / "sqlite", count),
        target("postgresql, 1 worker", pg1, store_pids, work / "pg1", count),
        target("postgresql, 2 workers", pg2, store_pids, work / "pg2", count, 2),
    ]


async def run(args: argparse.Namespace) -> None:
    try:
        wrk_binary()
    except GeneratorMissing as error:
        raise SystemExit(f"skipped: {error}") from None
    with postgres(args.store) as (urls, store_pids), tempfile.TemporaryDirectory() as work:
        async with (
            AsyncExitStack() as stack,
            simulators(stack, urls, store_pids, Path(work), args.bodies) as targets,
        ):
            print(f"{len(targets)} servers up; pre-signing and warming up ...", flush=True)
            await run_rounds(targets, args.rounds, args.seconds, args.connections, 3.0)
            report(targets)
            sqlite, pg1, pg2 = targets
            for top, bottom in ((pg2, pg1), (pg2, sqlite), (pg1, sqlite)):
                best, median = ratio(top, bottom)
                print(f"{top.name} / {bottom.name}: {best:.2f}x best, {median:.2f}x median"
                      " (per-round ratios of wall-clock requests/s)")  # fmt: skip
            scaling = pg2.capacity() / pg1.capacity()
            print(f"capacity, 2 workers / 1 worker: {scaling:.2f}x (the generator's CPU aside)")
            wrk_share = max(r.generator_cpu / r.elapsed for r in pg2.rounds) / CORES
            print(
                f"target: 2 workers >= {SCALING_TARGET}x 1 worker in wall-clock requests/s"
                f" (wrk took at most {wrk_share * 100:.1f} % of the {CORES} cores)"
            )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5, help="measured rounds per target")
    parser.add_argument("--seconds", type=float, default=8.0, help="duration of one round")
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--bodies", type=int, default=1000, help="pre-signed requests a target")
    parser.add_argument("--store", default=None, help="a PostgreSQL server to use (its database "
                        "gets the benchmark's rows) instead of a throw-away cluster")  # fmt: skip
    asyncio.run(run(parser.parse_args()))


if __name__ == "__main__":
    main()
