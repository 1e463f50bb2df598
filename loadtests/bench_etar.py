"""Signed eTar round trips per second on loopback, against one simulator process.

    python loadtests/bench_etar.py [--requests 3000] [--concurrency 32] [--rounds 5]

Starts `mycarenet-sim serve --scenario load` (strict security, replays of the pre-signed
requests allowed) in a child process on a free port, gets a token
from its STS like a connector, pre-signs every request (so the figure is the server's, not the
load generator's), fires them with N concurrent connections and prints round trips per second
with latency percentiles, next to the raw RSA-2048 signing ceiling of this machine. The server
does the whole pipeline per request: parse, schema-validate, verify the SAML holder-of-key
signature, decide, sign the answer, journal it.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import aiohttp
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from local_server import local_server

from simulator.client import ConnectorClient
from simulator.codecs import tarification as codec
from simulator.config import DEFAULT_SEED
from simulator.domain.population import build_population
from simulator.security.pki import TestPki, write_keystore
from simulator.security.wssecurity import sign_envelope_saml
from simulator.soap.envelope import new_envelope, serialize

PATH = "/MyCareNet/Tarification/v1"
ACTION = "urn:be:fgov:ehealth:mycarenet:tarification:protocol:v1:TarificationConsult"
TARGET_PER_CORE = 600


def rsa_sign_ceiling(seconds: float = 2.0) -> float:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    data = b"x" * 64
    count, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        key.sign(data, padding.PKCS1v15(), hashes.SHA256())
        count += 1
    return count / (time.perf_counter() - start)


def cpu_seconds(pid: int) -> float:
    """User + system CPU time a process has used so far (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def presign(base_url: str, data_dir: Path, count: int) -> list[bytes]:
    pki = TestPki.load_or_create(data_dir)
    today = datetime.now(UTC).date()
    population = build_population(seed=DEFAULT_SEED, patients=2000, providers=200, today=today)
    gp = next(p for p in population.providers if p.kind == "GP")
    identity = pki.issue_provider(gp.nihii, gp.ssin, f"{gp.first_name} {gp.last_name}")
    keystore = data_dir / "bench.p12"
    write_keystore(keystore, identity, "bench")
    patients = [p for p in population.patients if p.period_on(today) and not p.medical_house]
    bodies = []
    async with ConnectorClient(base_url, keystore, "bench", ca_cert=pki.ca_cert_path) as client:
        assertion = await client.token()
        for index in range(count):
            now = datetime.now(UTC)
            request = codec.build_request(
                provider_nihii=gp.nihii,
                provider_ssin=gp.ssin,
                provider_type="persphysician",
                patient_ssin=patients[index % len(patients)].ssin,
                encounter_date=today,
                codes=["101032"],
                gmd_manager=None,
                input_reference=f"{index:017d}",
                issue_instant=now,
            )
            envelope = new_envelope(request)
            sign_envelope_saml(envelope, assertion, identity.key, now=now)
            bodies.append(serialize(envelope))
    return bodies


async def fire(base_url: str, bodies: list[bytes], concurrency: int) -> tuple[float, list[float]]:
    headers = {"Content-Type": "text/xml; charset=utf-8", "SOAPAction": f'"{ACTION}"'}
    queue: asyncio.Queue[bytes] = asyncio.Queue()
    for body in bodies:
        queue.put_nowait(body)
    latencies: list[float] = []
    failures = 0

    async def worker(session: aiohttp.ClientSession) -> None:
        nonlocal failures
        while not queue.empty():
            body = queue.get_nowait()
            start = time.perf_counter()
            async with session.post(base_url + PATH, data=body, headers=headers) as response:
                await response.read()
                if response.status != 200:
                    failures += 1
            latencies.append(time.perf_counter() - start)

    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(connector=connector) as session:
        start = time.perf_counter()
        await asyncio.gather(*(worker(session) for _ in range(concurrency)))
        elapsed = time.perf_counter() - start
    if failures:
        raise SystemExit(f"{failures} of {len(bodies)} requests did not get HTTP 200")
    return elapsed, latencies


@dataclass(frozen=True)
class Round:
    elapsed: float  # wall-clock seconds
    server_cpu: float  # CPU seconds the server process used
    latencies: list[float]
    requests: int

    @property
    def rate(self) -> float:
        return self.requests / self.elapsed

    @property
    def per_core(self) -> float:
        return self.requests / self.server_cpu


async def run(requests: int, concurrency: int, rounds: int) -> None:
    results: list[Round] = []
    # Pre-signed requests are sent round after round: the shipped `load` scenario accepts
    # replays (any other refuses them as the ESB does) and has no latency model.
    async with local_server("--scenario", "load", "--no-delay") as server:
        print(f"pre-signing {requests} eTar requests ...", flush=True)
        bodies = await presign(server.base_url, server.data_dir, requests)
        await fire(server.base_url, bodies[: min(200, len(bodies))], concurrency)  # warm-up
        for number in range(1, rounds + 1):
            cpu_before = cpu_seconds(server.process.pid)
            elapsed, latencies = await fire(server.base_url, bodies, concurrency)
            cpu = cpu_seconds(server.process.pid) - cpu_before
            result = Round(elapsed, cpu, latencies, requests)
            results.append(result)
            print(
                f"round {number}: {result.rate:6.0f} round trips/s,"
                f" {result.per_core:6.0f} per server CPU-second",
                flush=True,
            )
    report(results, concurrency, rsa_sign_ceiling())


def report(results: list[Round], concurrency: int, ceiling: float) -> None:
    # The best round is the code's own cost: on a shared virtual machine, noise only adds CPU
    # time (rounds of identical work differ by up to ~25 % here). The median is shown beside it.
    best = max(results, key=lambda r: r.per_core)
    median = statistics.median(r.per_core for r in results)
    quantiles = statistics.quantiles(best.latencies, n=100)
    print(
        f"signed eTar round trips : {best.rate:8.0f} /s  (1 server process, {concurrency}"
        f" connections, {best.requests} requests in {best.elapsed:.2f} s, best round)"
    )
    print(
        f"latency                 : p50 {quantiles[49] * 1000:.1f} ms,"
        f" p99 {quantiles[98] * 1000:.1f} ms"
    )
    print(
        f"raw RSA-2048 sign       : {ceiling:8.0f} /s  (one core, the ceiling for signed answers)"
    )
    print(
        f"per server CPU-second   : {best.per_core:8.0f} /s best round, {median:.0f} /s median of"
        f" {len(results)} (the server used {best.server_cpu / best.elapsed:.2f} cores)"
    )
    verdict = "met" if best.per_core >= TARGET_PER_CORE else "NOT met"
    if best.per_core >= TARGET_PER_CORE > median:
        verdict += " on the best round, not on the median"
    print(
        f"target                  : {TARGET_PER_CORE} /s per core -> {verdict}"
        f"  (cores here: {os.cpu_count()})"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=3000)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--rounds", type=int, default=5, help="measured rounds (best and median)")
    args = parser.parse_args()
    asyncio.run(run(args.requests, args.concurrency, args.rounds))


if __name__ == "__main__":
    main()
