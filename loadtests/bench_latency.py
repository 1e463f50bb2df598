"""Latency check, model level: do the configured lognormal figures hold, drawn and slept?

1. Draw many delays from LogNormal(median, p99) and compare the measured p50/p99 with the
   configured ones.
2. Run N concurrent asyncio tasks that each sleep delays drawn by a ScenarioEngine (as the
   server will), and compare the measured durations of the sleeps with the configured figures.

Both must be within --tolerance (10 %). The over-HTTP check comes once the engine is wired
into the server. Usage:

    python loadtests/bench_latency.py --median-ms 50 --p99-ms 200 --tasks 200
"""

from __future__ import annotations

import argparse
import asyncio
import random
import sys
import time
from datetime import UTC, datetime

from simulator.scenarios import LatencyTable, LogNormal, Scenario, ScenarioEngine


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


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--median-ms", type=float, default=50.0)
    parser.add_argument("--p99-ms", type=float, default=200.0)
    parser.add_argument("--samples", type=int, default=200_000, help="draws for part 1")
    parser.add_argument("--tasks", type=int, default=200, help="concurrent asyncio tasks")
    parser.add_argument("--sleeps", type=int, default=25, help="sleeps per task")
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
    print(f"{len(sleeps)} sleeps in {elapsed:.1f} s; {'PASS' if ok else 'FAIL'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
