"""Latency check: do the configured lognormal figures hold, drawn, slept and over HTTP?

1. Draw many delays from LogNormal(median, p99) and compare the measured p50/p99 with the
   configured ones.
2. Run N concurrent asyncio tasks that each sleep delays drawn by a ScenarioEngine (as the
   server does), and compare the measured durations of the sleeps with the configured figures.
3. Start `mycarenet-sim serve` with a scenario giving the ETK depot that latency, and have
   --tasks concurrent clients (one connection each) call it; compare the round trips the
   clients measure with the configured figures. Each client waits a random think time between
   calls (--think-ms on average), so that 200 clients are a load the server's CPU carries; the
   round trip includes the server's own work (a signed answer, a few ms).

All must be within --tolerance (10 %). Usage:

    python loadtests/bench_latency.py --median-ms 50 --p99-ms 200 --tasks 200
"""

from __future__ import annotations

import argparse
import asyncio
import random
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import aiohttp
from local_server import local_server

from simulator.codecs import etkdepot
from simulator.scenarios import LatencyTable, LogNormal, Scenario, ScenarioEngine
from simulator.soap.envelope import new_envelope, serialize

ETK_PATH = "/EtkDepot/v1"
ETK_ACTION = "urn:be:fgov:ehealth:etkdepot:1_0:protocol:GetEtk"


def percentile(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[round(q * (len(ordered) - 1))]


def report(label: str, model: LogNormal, samples_ms: list[float], tolerance: float) -> bool:
    ok = True
    for name, q, configured in (("p50", 0.5, model.median_ms), ("p99", 0.99, model.p99_ms)):
        measured = percentile(samples_ms, q)
        error = measured / configured - 1
        verdict = "ok" if abs(error) <= tolerance else "OUT"
        ok = ok and verdict == "ok"
        print(
            f"{label:<28} {name}: configured {configured:8.2f} ms  measured {measured:8.2f} ms"
            f"  ({error:+.1%}) {verdict}"
        )
    return ok


def drawn(model: LogNormal, samples: int, seed: int) -> list[float]:
    rng = random.Random(seed)
    return [model.sample(rng) * 1000 for _ in range(samples)]


async def slept(model: LogNormal, tasks: int, sleeps: int, seed: int) -> list[float]:
    scenario = Scenario("bench", latency=LatencyTable(default=model))
    engine = ScenarioEngine(scenario, lambda: datetime.now(UTC), seed)
    measured: list[float] = []

    async def client(index: int) -> None:
        for _ in range(sleeps):
            # Each client is its own endpoint, as concurrent requests draw independently.
            delay = engine.delay_for("bench", f"client-{index}")
            start = time.perf_counter()
            await asyncio.sleep(delay)
            measured.append((time.perf_counter() - start) * 1000)

    await asyncio.gather(*(client(i) for i in range(tasks)))
    return measured


def scenario_yaml(model: LogNormal) -> str:
    return (
        "name: bench-latency\n"
        "latency:\n"
        "  endpoints:\n"
        f"    - {{service: etkdepot, model: lognormal, median_ms: {model.median_ms}, "
        f"p99_ms: {model.p99_ms}}}\n"
        "rules: []\n"
    )


async def over_http(
    model: LogNormal, tasks: int, calls: int, think_ms: float, seed: int
) -> tuple[list[float], float]:
    """Round trips (ms) of `tasks` clients x `calls` GetEtk, and the seconds it took."""
    request = serialize(new_envelope(etkdepot.build_request("CBE", "0820563481", "MYCARENET")))
    headers = {"Content-Type": "text/xml; charset=utf-8", "SOAPAction": f'"{ETK_ACTION}"'}
    with tempfile.TemporaryDirectory() as work:
        scenario = Path(work) / "latency.yaml"
        scenario.write_text(scenario_yaml(model), encoding="utf-8")
        async with local_server("--scenario", str(scenario)) as server:
            measured: list[float] = []
            think = random.Random(seed)

            async def client() -> None:
                async with aiohttp.ClientSession(
                    connector=aiohttp.TCPConnector(limit=1)
                ) as session:
                    for _ in range(calls):
                        await asyncio.sleep(think.uniform(0, 2 * think_ms) / 1000)
                        start = time.perf_counter()
                        async with session.post(
                            server.base_url + ETK_PATH, data=request, headers=headers
                        ) as response:
                            await response.read()
                            if response.status != 200:
                                raise SystemExit(f"GetEtk answered HTTP {response.status}")
                        measured.append((time.perf_counter() - start) * 1000)

            started = time.perf_counter()
            await asyncio.gather(*(client() for _ in range(tasks)))
            return measured, time.perf_counter() - started


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--median-ms", type=float, default=50.0)
    parser.add_argument("--p99-ms", type=float, default=200.0)
    parser.add_argument("--samples", type=int, default=200_000, help="draws for part 1")
    parser.add_argument("--tasks", type=int, default=200, help="concurrent asyncio tasks")
    parser.add_argument("--sleeps", type=int, default=25, help="sleeps per task")
    parser.add_argument("--calls", type=int, default=25, help="HTTP calls per client (part 3)")
    parser.add_argument("--think-ms", type=float, default=1000.0, help="mean pause between calls")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--tolerance", type=float, default=0.10)
    args = parser.parse_args()

    model = LogNormal(args.median_ms, args.p99_ms)
    print(f"lognormal median {model.median_ms} ms, p99 {model.p99_ms} ms (sigma {model.sigma:.3f})")
    ok = report(
        f"drawn ({args.samples} samples)",
        model,
        drawn(model, args.samples, args.seed),
        args.tolerance,
    )
    started = time.perf_counter()
    sleeps = asyncio.run(slept(model, args.tasks, args.sleeps, args.seed))
    elapsed = time.perf_counter() - started
    ok = report(f"slept ({args.tasks} tasks x {args.sleeps})", model, sleeps, args.tolerance) and ok
    print(f"{len(sleeps)} sleeps in {elapsed:.1f} s")
    trips, elapsed = asyncio.run(over_http(model, args.tasks, args.calls, args.think_ms, args.seed))
    label = f"HTTP ({args.tasks} clients x {args.calls})"
    ok = report(label, model, trips, args.tolerance) and ok
    print(f"{len(trips)} GetEtk round trips in {elapsed:.1f} s ({len(trips) / elapsed:.0f}/s)")
    print("PASS" if ok else "FAIL")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
