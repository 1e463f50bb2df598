"""The simulator beside WireMock 3 answering the same signed eTar answer statically.

    python loadtests/bench_wiremock.py [--rounds 5] [--seconds 8] [--connections 32]
                                       [--wiremock-jar PATH] [--store postgresql://...]

WireMock gets one stub: POST on the eTar path, the SOAPAction header equal to eTar's, and a
body in which the XPath //tar:TarificationConsultationRequest matches; it answers with a real
signed answer captured from the simulator (same status, Content-Type and bytes). It runs as
fast as it can: request journal and request logging off, default Jetty threads, warmed up for
the JIT. The simulator does the real work on every request: parse, schema validation, the
SAML holder-of-key signature check, the rules, the answer's signature, the journal.

In one run, taking turns round after round with the same generator (wrk posting the same
pre-signed requests, loadtests/wrk_load.py): `serve --workers 2` on PostgreSQL (a fresh
database of a throw-away cluster, or of --store's server), `serve` on SQLite (one process),
WireMock, and the simulator's own stack doing WireMock's job (loadtests/static_aiohttp.py:
aiohttp and lxml in two processes matching the request and answering the same bytes, the
floor under any work). Printed: requests per wall-clock second and per server CPU-second of
each, and the ratios. Skips (exit status 0, with the reason) when java, the WireMock jar (from npm's
`wiremock` package, installed with `npm install` into a folder outside the repository when
npm is there), wrk or PostgreSQL is missing.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import aiohttp
from bench_workers import postgres, target
from local_server import free_port, local_server
from wrk_load import (
    ACTION,
    CORES,
    PATH,
    GeneratorMissing,
    Target,
    ratio,
    report,
    run_rounds,
    wrk_binary,
)

from simulator.codecs.tarification import NAMESPACE

TARGET_RATIO = 0.5
# npm's package ships the standalone jar; installed here when no --wiremock-jar is given.
NPM_PREFIX = Path(tempfile.gettempdir()) / "mycarenet-sim-wiremock"


class Skip(RuntimeError):
    pass


def wiremock_jar(given: Path | None) -> Path:
    if shutil.which("java") is None:
        raise Skip("java is not installed (WireMock 3 needs Java 11 or newer)")
    if given is not None:
        if not given.is_file():
            raise Skip(f"--wiremock-jar {given} is not a file")
        return given
    if os.environ.get("WIREMOCK_JAR"):
        return Path(os.environ["WIREMOCK_JAR"])
    pattern = "node_modules/wiremock/build/wiremock-standalone-*.jar"
    found = sorted(NPM_PREFIX.glob(pattern))
    if not found:
        npm = shutil.which("npm")
        if npm is None:
            raise Skip("npm is not installed: no WireMock jar (or give --wiremock-jar)")
        print(f"npm install wiremock into {NPM_PREFIX} ...", flush=True)
        NPM_PREFIX.mkdir(parents=True, exist_ok=True)
        done = subprocess.run(
            [npm, "install", "--no-save", "--prefix", str(NPM_PREFIX), "wiremock"],
            capture_output=True, text=True, check=False, timeout=600,
        )  # fmt: skip
        found = sorted(NPM_PREFIX.glob(pattern))
        if done.returncode != 0 or not found:
            raise Skip(f"npm install wiremock failed: {done.stderr[-500:]}")
    return found[-1]


def stub_mapping(answer: bytes, content_type: str) -> dict[str, object]:
    return {
        "request": {
            "method": "POST",
            "url": PATH,
            "headers": {"SOAPAction": {"equalTo": f'"{ACTION}"'}},
            "bodyPatterns": [
                {
                    "matchesXPath": "//tar:TarificationConsultationRequest",
                    "xPathNamespaces": {"tar": NAMESPACE},
                }
            ],
        },
        "response": {
            "status": 200,
            "headers": {"Content-Type": content_type},
            "body": answer.decode("utf-8"),
        },
    }


async def capture_answer(base_url: str, body: bytes) -> tuple[bytes, str]:
    headers = {"Content-Type": "text/xml; charset=utf-8", "SOAPAction": f'"{ACTION}"'}
    async with (
        aiohttp.ClientSession() as session,
        session.post(base_url + PATH, data=body, headers=headers) as response,
    ):
        answer = await response.read()
        if response.status != 200 or b"Signature" not in answer:
            raise SystemExit(f"the simulator did not answer a signed eTar: {response.status}")
        return answer, response.headers.get("Content-Type", "text/xml; charset=utf-8")


@asynccontextmanager
async def wiremock(jar: Path, root: Path, mapping: dict[str, object]) -> AsyncIterator[Target]:
    (root / "mappings").mkdir(parents=True)
    (root / "__files").mkdir()
    (root / "mappings" / "etar.json").write_text(json.dumps(mapping))

    def command(port: int) -> list[str]:
        return [
            "java", "-jar", str(jar), "--port", str(port), "--bind-address", "127.0.0.1",
            "--root-dir", str(root), "--disable-banner", "--no-request-journal",
            "--disable-request-logging",
        ]  # fmt: skip

    def probe(session: aiohttp.ClientSession, base_url: str) -> Any:
        return session.get(f"{base_url}/__admin/mappings")

    # Jetty's threads use every core; started within 90 s (the JVM).
    async with _static_server("WireMock 3 (static)", command, probe, CORES, 90) as target:
        yield target


@asynccontextmanager
async def static_aiohttp(answer: bytes, content_type: str, root: Path) -> AsyncIterator[Target]:
    """loadtests/static_aiohttp.py: the simulator's own stack doing WireMock's job, in two
    processes as `serve --workers 2`."""
    root.mkdir(parents=True)
    (root / "answer.xml").write_bytes(answer)
    script = Path(__file__).with_name("static_aiohttp.py")

    def command(port: int) -> list[str]:
        return [
            sys.executable, str(script), "--port", str(port), "--answer", str(root / "answer.xml"),
            "--content-type", content_type, "--processes", "2",
        ]  # fmt: skip

    def probe(session: aiohttp.ClientSession, base_url: str) -> Any:
        return session.post(base_url + PATH, data=b"<x/>")

    async with _static_server("aiohttp (static), 2 proc", command, probe, 2, 30) as target:
        yield target


@asynccontextmanager
async def _static_server(
    name: str,
    command: Callable[[int], list[str]],
    probe: Callable[[aiohttp.ClientSession, str], Any],
    processes: int,
    start_s: float,
) -> AsyncIterator[Target]:
    """A server answering statically, started on a free port, as a target that takes a
    simulator's bodies (set by the caller); stopped on exit."""
    port = free_port()
    process = subprocess.Popen(command(port), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    base_url = f"http://127.0.0.1:{port}"
    try:
        await _wait_up(process, name, start_s, lambda session: probe(session, base_url))
        yield Target(
            name=name,
            base_url=base_url,
            server_pids=lambda: [process.pid],
            store_pids=lambda: [],
            bodies=_no_bodies,  # replaced by the simulator's
            count=0,
            processes=processes,
        )
    finally:
        process.terminate()
        process.wait(timeout=30)


async def _no_bodies() -> Path:
    raise AssertionError("a static server's target takes a simulator's bodies")


async def _wait_up(
    process: subprocess.Popen[bytes],
    name: str,
    seconds: float,
    probe: Callable[[aiohttp.ClientSession], Any],
) -> None:
    """Until `probe` gets an answer (not a 5xx) from the server `process` started."""
    deadline = time.monotonic() + seconds
    async with aiohttp.ClientSession() as session:
        while time.monotonic() < deadline:
            if process.poll() is not None:
                error = process.stderr.read().decode() if process.stderr else ""
                raise SystemExit(f"{name} exited with {process.returncode}:\n{error}")
            try:
                async with probe(session) as response:
                    await response.read()
                    if response.status < 500:
                        return
            except aiohttp.ClientError:
                pass
            await asyncio.sleep(0.2)
    raise SystemExit(f"{name} did not start within {seconds:g} s")


async def check_stub(base_url: str, body: bytes, answer: bytes) -> None:
    """The stub answers the signed request with the captured bytes, and only it: another
    SOAPAction, or a body without the element, is not matched (WireMock's 404)."""
    right = {"Content-Type": "text/xml; charset=utf-8", "SOAPAction": f'"{ACTION}"'}
    wrong = {**right, "SOAPAction": '"urn:other"'}
    other_body = body.replace(b"TarificationConsultationRequest", b"SomethingElseRequest")
    async with aiohttp.ClientSession() as session:
        for headers, data, status in ((right, body, 200), (wrong, body, 404),
                                      (right, other_body, 404)):  # fmt: skip
            async with session.post(base_url + PATH, data=data, headers=headers) as response:
                got = await response.read()
                if response.status != status or (status == 200 and got != answer):
                    raise SystemExit(f"WireMock's stub answered {response.status}, not {status}")


async def run(args: argparse.Namespace) -> None:
    try:
        wrk_binary()
        jar = wiremock_jar(args.wiremock_jar)
    except (GeneratorMissing, Skip) as error:
        print(f"skipped: {error}")
        return
    common = ("--scenario", "load", "--no-delay")
    with postgres(args.store) as (urls, store_pids), tempfile.TemporaryDirectory() as work_dir:
        work = Path(work_dir)
        async with (
            local_server(*common, "--store", urls[0], "--workers", "2") as pg2_server,
            local_server(*common) as sqlite_server,
        ):
            count = args.bodies
            pg2 = target("sim, 2 workers, PG", pg2_server, store_pids, work / "pg2", count, 2)
            sqlite = target("sim, 1 process, SQLite", sqlite_server, [], work / "sqlite", count)
            folder = await pg2.bodies()
            body = (folder / "1.xml").read_bytes()
            answer, content_type = await capture_answer(pg2.base_url, body)
            print(f"captured a signed eTar answer: {len(answer)} bytes", flush=True)
            async with (
                wiremock(jar, work / "wiremock", stub_mapping(answer, content_type)) as wm,
                static_aiohttp(answer, content_type, work / "static") as floor,
            ):
                for static in (wm, floor):
                    static.bodies, static.count = pg2.bodies, pg2.count
                    await check_stub(static.base_url, body, answer)
                print("WireMock and aiohttp stubs checked; warming up WireMock's JIT ...",
                      flush=True)  # fmt: skip
                await run_rounds([wm], 0, 0, args.connections, 30.0)
                targets = [pg2, sqlite, wm, floor]
                await run_rounds(targets, args.rounds, args.seconds, args.connections, 3.0)
                report(targets)
                for simulator in (pg2, sqlite, floor):
                    best, median = ratio(simulator, wm)
                    per_cpu = max(r.per_cpu_second for r in simulator.rounds) / max(
                        r.per_cpu_second for r in wm.rounds
                    )
                    capacity = simulator.capacity() / wm.capacity()
                    print(
                        f"{simulator.name} / WireMock: {best:.2f}x best, {median:.2f}x median"
                        f" in wall-clock requests/s; {per_cpu:.2f}x per server CPU-second"
                        f" (best rounds); {capacity:.2f}x in capacity"
                    )
                print(f"target: 2 workers >= {TARGET_RATIO}x WireMock's requests/s")
                floor_ms = statistics.median(r.cpu_per_request_ms for r in floor.rounds)
                print(
                    f"the simulator's HTTP stack doing WireMock's job alone (aiohttp + lxml, no"
                    f" work): {floor_ms:.2f} ms CPU a request, before any verification, rule,"
                    f" signature or journal"
                )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5, help="measured rounds per target")
    parser.add_argument("--seconds", type=float, default=8.0, help="duration of one round")
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--bodies", type=int, default=1000, help="pre-signed requests a target")
    parser.add_argument("--wiremock-jar", type=Path, default=None)
    parser.add_argument("--store", default=None, help="a PostgreSQL server to use instead of a "
                        "throw-away cluster")  # fmt: skip
    asyncio.run(run(parser.parse_args()))


if __name__ == "__main__":
    main()
