"""Records per second to parse and validate a generated 920000, and peak memory while doing it.

    python loadtests/bench_efact.py [--invoices 50000] [--small 10000] [--errors 2%] [--rounds 5]

Generates two files from the default population (one of --small invoices, one of --invoices),
then, for each: times parse + every check (with and without the population's beneficiary and
tariff checks) over several rounds, printing the best and the median round, and measures the
peak Python memory of a checking pass with tracemalloc (a separate pass: tracing slows the code
down). Memory flat in file size = the two peaks agree, while the files differ in size.
Target (issue 4): >= 300,000 records/s per core.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
import tracemalloc
from datetime import date
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from simulator.cli.efact import parse_rate
from simulator.config import Settings
from simulator.domain.population import Population, build_population
from simulator.efact.checks import CheckOptions, check_file
from simulator.efact.generator import Spec, generate

TODAY = date(2026, 1, 15)


def _records(path: Path) -> int:
    return (path.stat().st_size - 67 - 160) // 350


def _time(path: Path, options: CheckOptions, rounds: int) -> tuple[float, float, int]:
    """Best and median records/s over `rounds` identical passes (the VM is noisy: rounds of
    the same work differ by up to 25 %), and the number of rejections found."""
    rates = []
    found = 0
    for _ in range(rounds):
        start = time.perf_counter()
        with path.open("rb") as source:
            found = len(check_file(source, options))
        rates.append(_records(path) / (time.perf_counter() - start))
    return max(rates), statistics.median(rates), found


def _peak(path: Path, options: CheckOptions) -> int:
    tracemalloc.start()
    with path.open("rb") as source:
        check_file(source, options)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return peak


def _bench(path: Path, world: Population, rounds: int) -> None:
    size = path.stat().st_size
    print(f"\n{path.name}: {_records(path):,} records, {size / 1e6:.1f} MB, {rounds} rounds")
    for label, population in (("structure+identifiers", None), ("+ world and tariff", world)):
        options = CheckOptions(today=TODAY, population=population)
        best, median, found = _time(path, options, rounds)
        peak = _peak(path, options)
        print(
            f"  {label:<22} best {best:>9,.0f} median {median:>9,.0f} records/s  "
            f"{found:>5} rejections  peak traced memory {peak / 1e6:.2f} MB"
        )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--invoices", type=int, default=50_000)
    parser.add_argument("--small", type=int, default=10_000)
    parser.add_argument("--errors", default="2%")
    parser.add_argument("--rounds", type=int, default=5, help="timed passes per measure")
    args = parser.parse_args()
    settings = Settings()
    world = build_population(settings.seed, settings.patients, settings.providers, TODAY)
    rate = parse_rate(args.errors)
    print(
        f"python {sys.version.split()[0]}, pid {os.getpid()}, one core; "
        f"population {settings.patients} patients"
    )
    with tempfile.TemporaryDirectory() as tmp:
        for invoices in (args.small, args.invoices):
            path = Path(tmp) / f"invoices-{invoices}.920000"
            start = time.perf_counter()
            with path.open("wb") as out:
                generate(out, world, Spec(invoices=invoices, error_rate=rate, seed=1, today=TODAY))
            print(f"generated {invoices:,} invoices in {time.perf_counter() - start:.1f} s")
            _bench(path, world, args.rounds)
    print("\ntarget: >= 300,000 records/s per core; peaks should not grow with the file")
    return 0


if __name__ == "__main__":
    sys.exit(main())
