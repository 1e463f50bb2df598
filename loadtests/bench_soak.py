"""Soak: N signed eTar requests against one server at the default journal settings.

    python loadtests/bench_soak.py [--requests 1000000] [--every 50000] [--concurrency 16]

Starts `mycarenet-sim serve --no-delay` (strict security, default scenario: replays refused,
so every request is signed afresh, with its own Timestamp, like a connector would) and sends
`--requests` eTar consultations. Every `--every` requests it prints the journal's size on disk
(database + WAL), its row count, the server's RSS and the rate; at the end, the journal bytes
per request and what a million requests would leave. Signing happens in a second process
(this machine's other core), so the server is the bottleneck, not the load generator.
"""

from __future__ import annotations

import argparse
import asyncio
import concurrent.futures
import os
import shlex
import sqlite3
import time
from datetime import UTC, date, datetime
from pathlib import Path

import aiohttp
from local_server import local_server
from lxml import etree

from simulator.client import ConnectorClient
from simulator.codecs import tarification as codec
from simulator.config import DEFAULT_JOURNAL_MAX_ROWS, DEFAULT_SEED
from simulator.domain.population import build_population
from simulator.security.pki import TestPki, load_keystore, write_keystore
from simulator.security.wssecurity import sign_envelope_saml
from simulator.soap.envelope import new_envelope, serialize

PATH = "/MyCareNet/Tarification/v1"
ACTION = "urn:be:fgov:ehealth:mycarenet:tarification:protocol:v1:TarificationConsult"
PASSWORD = "soak"
BATCH = 500  # requests signed per job of the signing process
MB = 1024 * 1024


def journal_bytes(data_dir: Path) -> int:
    files = data_dir.glob("simulator-journal.sqlite3*")  # the database, its -wal and -shm
    return sum(path.stat().st_size for path in files)


def journal_rows(data_dir: Path) -> int:
    connection = sqlite3.connect(f"file:{data_dir / 'simulator-journal.sqlite3'}?mode=ro", uri=True)
    try:
        return int(connection.execute("SELECT count(*) FROM journal").fetchone()[0])
    finally:
        connection.close()


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


# -- signing, in a worker process -------------------------------------------------------------

_SIGNER: dict[str, object] = {}


def _start_signer(
    keystore: str, assertion: bytes, provider: tuple[str, str], ssins: list[str]
) -> None:
    _SIGNER.update(
        identity=load_keystore(Path(keystore), PASSWORD),
        assertion=etree.fromstring(assertion),
        provider=provider,
        ssins=ssins,
    )


def _sign_batch(start: int, count: int) -> list[bytes]:
    identity = _SIGNER["identity"]
    assertion = _SIGNER["assertion"]
    nihii, ssin = _SIGNER["provider"]  # type: ignore[misc]
    ssins: list[str] = _SIGNER["ssins"]  # type: ignore[assignment]
    today = date.today()
    bodies = []
    for index in range(start, start + count):
        now = datetime.now(UTC)
        request = codec.build_request(
            provider_nihii=nihii,
            provider_ssin=ssin,
            provider_type="persphysician",
            patient_ssin=ssins[index % len(ssins)],
            encounter_date=today,
            codes=["101032"],
            gmd_manager=None,
            input_reference=f"{index:017d}",
            issue_instant=now,
        )
        envelope = new_envelope(request)
        sign_envelope_saml(envelope, assertion, identity.key, now=now)  # type: ignore[attr-defined]
        bodies.append(serialize(envelope))
    return bodies


# -- the soak ---------------------------------------------------------------------------------


async def prepare(base_url: str, data_dir: Path) -> tuple[str, bytes, tuple[str, str], list[str]]:
    pki = TestPki.load_or_create(data_dir)
    today = datetime.now(UTC).date()
    population = build_population(seed=DEFAULT_SEED, patients=2000, providers=200, today=today)
    gp = next(p for p in population.providers if p.kind == "GP")
    identity = pki.issue_provider(gp.nihii, gp.ssin, f"{gp.first_name} {gp.last_name}")
    keystore = data_dir / "soak.p12"
    write_keystore(keystore, identity, PASSWORD)
    patients = [p.ssin for p in population.patients if p.period_on(today) and not p.medical_house]
    async with ConnectorClient(base_url, keystore, PASSWORD, ca_cert=pki.ca_cert_path) as client:
        assertion = etree.tostring(await client.token())
    return str(keystore), assertion, (gp.nihii, gp.ssin), patients


async def soak(
    requests: int, every: int, concurrency: int, latency: bool, serve: list[str]
) -> None:
    options = (*([] if latency else ["--no-delay"]), *serve)
    async with local_server(*options) as server:
        keystore, assertion, provider, ssins = await prepare(server.base_url, server.data_dir)
        loop = asyncio.get_running_loop()
        signer = concurrent.futures.ProcessPoolExecutor(
            max_workers=1,
            initializer=_start_signer,
            initargs=(keystore, assertion, provider, ssins),
        )
        headers = {"Content-Type": "text/xml; charset=utf-8", "SOAPAction": f'"{ACTION}"'}
        queue: asyncio.Queue[bytes | None] = asyncio.Queue(maxsize=4 * BATCH)
        sent = failures = 0
        statuses: dict[int, int] = {}
        started = last_time = time.perf_counter()
        last_sent = 0
        print(
            f"{'requests':>9} {'journal MB':>11} {'rows':>9} {'B/row':>6} {'server RSS MB':>14}"
            f" {'req/s':>6}",
            flush=True,
        )

        async def produce() -> None:
            pending: list[asyncio.Future[list[bytes]]] = []
            for start in range(0, requests, BATCH):
                pending.append(
                    loop.run_in_executor(signer, _sign_batch, start, min(BATCH, requests - start))
                )
                if len(pending) >= 3:
                    for body in await pending.pop(0):
                        await queue.put(body)
            for future in pending:
                for body in await future:
                    await queue.put(body)
            for _ in range(concurrency):
                await queue.put(None)

        def report() -> None:
            nonlocal last_time, last_sent
            size = journal_bytes(server.data_dir)
            rows = journal_rows(server.data_dir)
            now = time.perf_counter()
            rate = (sent - last_sent) / (now - last_time)
            last_time, last_sent = now, sent
            print(
                f"{sent:>9,} {size / MB:>11.1f} {rows:>9,} {size / max(rows, 1):>6.0f}"
                f" {rss_mb(server.process.pid):>14.0f} {rate:>6.0f}",
                flush=True,
            )

        async def consume(session: aiohttp.ClientSession) -> None:
            nonlocal sent, failures
            while (body := await queue.get()) is not None:
                async with session.post(server.base_url + PATH, data=body, headers=headers) as r:
                    await r.read()
                    statuses[r.status] = statuses.get(r.status, 0) + 1
                    if r.status != 200:
                        failures += 1
                sent += 1
                if sent % every == 0:
                    report()

        connector = aiohttp.TCPConnector(limit=concurrency)
        async with aiohttp.ClientSession(connector=connector) as session:
            await asyncio.gather(produce(), *(consume(session) for _ in range(concurrency)))
        signer.shutdown()
        await asyncio.sleep(0.5)  # the journal writer flushes every 100 ms
        if sent % every:
            report()
        elapsed = time.perf_counter() - started
        size = journal_bytes(server.data_dir)
        rows = journal_rows(server.data_dir)
        per_row = size / max(rows, 1)
        kept = min(1_000_000, DEFAULT_JOURNAL_MAX_ROWS)
        if serve:
            print(f"(serve options: {' '.join(serve)}; the million below is at the defaults)")
        print(
            f"{sent:,} requests in {elapsed:.0f} s ({sent / elapsed:.0f}/s), answers {statuses}; "
            f"journal {size / MB:.1f} MB for {rows:,} rows = {per_row:.0f} bytes a request; "
            f"server RSS {rss_mb(server.process.pid):.0f} MB"
        )
        print(
            f"a million requests: {kept:,} rows kept"
            f" (--journal-max-rows {DEFAULT_JOURNAL_MAX_ROWS:,})"
            f" x {per_row:.0f} B = {kept * per_row / 1e9:.2f} GB of journal"
            f" ({1_000_000 * per_row / 1e9:.2f} GB if every row were kept)"
        )
        if failures:
            raise SystemExit(f"{failures} requests were not answered 200")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=1_000_000)
    parser.add_argument("--every", type=int, default=50_000, help="report every N requests")
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument(
        "--latency", action="store_true", help="keep the default scenario's latency model"
    )
    parser.add_argument(
        "--serve",
        default="",
        help='more `serve` options, as one string, e.g. --serve="--journal-max-rows 20000" '
        "(to watch retention hold the journal's size)",
    )
    args = parser.parse_args()
    os.environ.setdefault("PYTHONHASHSEED", "0")
    serve = shlex.split(args.serve)
    asyncio.run(soak(args.requests, args.every, args.concurrency, args.latency, serve))


if __name__ == "__main__":
    main()
