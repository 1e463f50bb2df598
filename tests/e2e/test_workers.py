"""`serve --workers 2 --store postgresql://...`: two processes on one port, one world.

Signed eTar requests from our connector client land on both workers (each connection asks
/__admin/health which pid it is talking to); a clock change and a scenario replaced through
one worker are seen by the other; the shared journal holds every exchange of both; SIGTERM
to the parent stops both. Also: the refusals of several processes on SQLite.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from simulator.client import ConnectorClient
from simulator.client.connector import ServiceFault
from simulator.config import DEFAULT_SEED
from simulator.domain.population import build_population
from simulator.security.pki import TestPki, write_keystore
from tests.support.postgres import Cluster, cluster_or_skip

PASSWORD = "workers-test"
CLIENTS = 4  # at least; more until both workers were reached (the kernel spreads connections)
MAX_CLIENTS = 40
CALLS_PER_CLIENT = 2
START_TIMEOUT_S = 120.0


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture(scope="module")
def cluster() -> Iterator[Cluster]:
    with cluster_or_skip() as running:
        yield running


class Workers:
    def __init__(self, data_dir: Path, url: str) -> None:
        self.data_dir = data_dir
        self.port = _free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.log = data_dir.parent / "serve.log"
        command = [
            sys.executable, "-m", "simulator", "serve",
            "--workers", "2", "--store", url,
            "--port", str(self.port), "--data-dir", str(data_dir), "--no-delay",
        ]  # fmt: skip
        self.pids: set[int] = set()
        self.process = subprocess.Popen(
            command, stdout=self.log.open("w"), stderr=subprocess.STDOUT, text=True
        )

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def health(self) -> dict[str, Any]:
        with urllib.request.urlopen(f"{self.base_url}/__admin/health", timeout=5) as answer:
            return dict(json.loads(answer.read()))

    def wait_for_both(self) -> set[int]:
        """Health over new connections until both workers answered: their pids."""
        pids: set[int] = set()
        deadline = time.monotonic() + START_TIMEOUT_S
        while len(pids) < 2:
            assert self.process.poll() is None, self.output()
            assert time.monotonic() < deadline, f"only {pids} answered:\n{self.output()}"
            try:
                pids.add(int(self.health()["pid"]))
            except OSError:
                time.sleep(0.2)
        return pids

    def stop(self) -> int:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        return self.process.wait(timeout=60)


@pytest.fixture(scope="module")
def workers(cluster: Cluster, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Workers]:
    root = tmp_path_factory.mktemp("workers")
    running = Workers(root / "data", cluster.create_database("workers"))
    try:
        running.pids = running.wait_for_both()
        yield running
    finally:
        if running.process.poll() is None:
            running.stop()


async def _pinned(base_url: str, pid: int, timeout: float = 30.0) -> aiohttp.ClientSession:
    """A session whose (one, kept-alive) connection is served by worker `pid`."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=1))
        async with session.get(f"{base_url}/__admin/health") as answer:
            if (await answer.json())["pid"] == pid:
                return session
        await session.close()
    raise AssertionError(f"no connection reached worker {pid}")


def _gp_keystore(workers: Workers, today: date) -> Path:
    population = build_population(seed=DEFAULT_SEED, patients=2000, providers=200, today=today)
    gp = next(p for p in population.providers if p.kind == "GP")
    keystore = workers.data_dir.parent / "gp.p12"
    if not keystore.exists():
        pki = TestPki.load_or_create(workers.data_dir)
        write_keystore(keystore, pki.issue_provider(gp.nihii, gp.ssin, gp.last_name), PASSWORD)
    return keystore


async def _signed_etar_calls(workers: Workers) -> tuple[set[int], int]:
    """Connector clients, each on its own connection: token, then eTar calls; at least
    CLIENTS, and until both workers were reached. The workers the connections reached, and
    how many SOAP exchanges were made."""
    today = datetime.now(UTC).date()
    population = build_population(seed=DEFAULT_SEED, patients=2000, providers=200, today=today)
    keystore = _gp_keystore(workers, today)
    pki = TestPki.load_or_create(workers.data_dir)
    patients = [
        p
        for p in population.patients
        if (period := p.period_on(today)) is not None
        and period.in_order
        and 25 <= p.age_on(today) < 75
        and not (p.medical_house or p.chronic or p.death_date)
    ]
    reached: set[int] = set()
    exchanges = 0
    for index in range(MAX_CLIENTS):
        if index >= CLIENTS and len(reached) == 2:
            break
        async with ConnectorClient(
            workers.base_url, keystore, PASSWORD, ca_cert=pki.ca_cert_path
        ) as client:
            session = client._session
            assert session is not None
            async with session.get(f"{workers.base_url}/__admin/health") as answer:
                reached.add((await answer.json())["pid"])
            await client.token()
            exchanges += 1
            for call in range(CALLS_PER_CLIENT):
                patient = patients[(index * CALLS_PER_CLIENT + call) % len(patients)]
                result = await client.tarification(patient.ssin, ["101032"], today)
                assert result.complete and not result.errors, result.errors
                exchanges += 1
    return reached, exchanges


COUNTED = """name: counted
rules:
  - id: second-etar
    match: {service: etar, nth: 2}
    action: {type: soap_fault, code: SOA-02001}
"""


async def _nth_call_across_workers(workers: Workers) -> tuple[list[int], int, dict[str, int]]:
    """4 eTar calls alternating between the two workers under a rule that fires on the 2nd:
    which calls it fired on, how many exchanges were made, and the rule's counters as the
    other worker reports them."""
    first, second = sorted(workers.pids)
    pinned = [await _pinned(workers.base_url, pid) for pid in (first, second)]
    try:
        async with pinned[1].put(
            f"{workers.base_url}/__admin/scenario",
            data=COUNTED,
            headers={"Content-Type": "application/yaml"},
        ) as answer:
            assert answer.status == 200, await answer.text()
        async with pinned[0].get(f"{workers.base_url}/__admin/clock") as answer:
            business = datetime.fromisoformat((await answer.json())["now"])
        await asyncio.sleep(0.5)  # worker one takes the scenario (notified; ms in practice)
        keystore = _gp_keystore(workers, business.date())
        population = build_population(
            seed=DEFAULT_SEED, patients=2000, providers=200, today=business.date()
        )
        patient = next(
            p
            for p in population.patients
            if (period := p.period_on(business.date())) is not None and period.in_order
        )
        ca_cert = TestPki.load_or_create(workers.data_dir).ca_cert_path
        clients = [
            ConnectorClient(
                workers.base_url, keystore, PASSWORD, ca_cert=ca_cert, now=lambda: business
            )
            for _ in range(2)
        ]
        forced: list[int] = []
        exchanges = 0
        for index, client in enumerate(clients):  # each on a connection to its worker
            await client.__aenter__()
            await client._session.close()  # type: ignore[union-attr]
            client._session = await _pinned(workers.base_url, (first, second)[index])
            await client.token()
            exchanges += 1
        for call in range(1, 5):
            exchanges += 1
            try:
                await clients[call % 2].tarification(patient.ssin, ["101032"], business.date())
            except ServiceFault:
                forced.append(call)
        for client in clients:
            await client.__aexit__(None, None, None)
        async with pinned[0].get(f"{workers.base_url}/__admin/scenarios") as answer:
            rules = (await answer.json())["active"]["rules"]
        counted = {"matched": rules[0]["matched"], "fired": rules[0]["fired"]}
        return forced, exchanges, counted
    finally:
        for session in pinned:
            await session.close()


@pytest.mark.slow
def test_two_workers_share_one_world(workers: Workers) -> None:
    pids = workers.pids
    assert len(pids) == 2 and workers.process.pid not in pids
    assert workers.health()["store"] == "postgresql"

    reached, exchanges = asyncio.run(_signed_etar_calls(workers))
    assert reached == pids, "the signed calls did not reach both workers"

    async def shared_changes() -> tuple[float, float]:
        first, second = sorted(pids)
        one = await _pinned(workers.base_url, first)
        two = await _pinned(workers.base_url, second)
        try:
            # The clock, set through worker one, read through worker two.
            at = "2025-10-15T10:00:00+02:00"
            async with one.put(
                f"{workers.base_url}/__admin/clock", json={"at": at, "frozen": True}
            ) as answer:
                assert answer.status == 200, await answer.text()
            start = time.monotonic()
            while True:
                async with two.get(f"{workers.base_url}/__admin/clock") as answer:
                    seen = await answer.json()
                if seen["now"] == "2025-10-15T08:00:00+00:00" and seen["frozen"]:
                    break
                assert time.monotonic() - start < 5, seen
                await asyncio.sleep(0.01)
            clock_lag = time.monotonic() - start
            # The scenario, replaced through worker two, running in worker one.
            async with two.put(
                f"{workers.base_url}/__admin/scenario", json={"shipped": "chaos"}
            ) as answer:
                assert answer.status == 200, await answer.text()
            start = time.monotonic()
            while True:
                async with one.get(f"{workers.base_url}/__admin/scenarios") as answer:
                    active = (await answer.json())["active"]["name"]
                if active == "chaos":
                    break
                assert time.monotonic() - start < 5, active
                await asyncio.sleep(0.01)
            return clock_lag, time.monotonic() - start
        finally:
            await one.close()
            await two.close()

    clock_lag, scenario_lag = asyncio.run(shared_changes())
    assert clock_lag < 2 and scenario_lag < 2

    # A rule's "n-th call" counts the calls of both workers.
    forced, calls, counted = asyncio.run(_nth_call_across_workers(workers))
    exchanges += calls
    assert forced == [2], forced  # only the 2nd eTar call overall, whichever worker took it
    assert counted == {"matched": 4, "fired": 1}

    # Every exchange of both workers in the one journal (each flushes within 0.1 s).
    deadline = time.monotonic() + 10
    while True:
        with urllib.request.urlopen(
            f"{workers.base_url}/__admin/journal?limit=1", timeout=5
        ) as answer:
            total = json.loads(answer.read())["total"]
        if total >= exchanges or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    assert total == exchanges

    assert workers.stop() == 0
    output = workers.output()
    assert "Traceback" not in output and "error:" not in output, output
    assert output.count("listening on") == 1  # one banner for the two workers
    for pid in pids:
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)


def test_several_processes_on_sqlite_are_refused(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "simulator", "serve", "--workers", "2",
         "--port", str(_free_port()), "--data-dir", str(tmp_path / "d")],
        capture_output=True, text=True, timeout=60,
        env={k: v for k, v in os.environ.items() if k != "MYCARENET_STORE"},
    )  # fmt: skip
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "--workers 2 needs a store" in lines[0], done.stderr
    assert "--store postgresql://" in lines[0]


@pytest.mark.slow
def test_a_second_serve_on_the_same_sqlite_data_dir_is_refused(tmp_path: Path) -> None:
    data_dir = tmp_path / "d"
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if k != "MYCARENET_STORE"}
    first = subprocess.Popen(
        [sys.executable, "-m", "simulator", "serve", "--port", str(port),
         "--data-dir", str(data_dir), "--no-delay"],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, env=env,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + START_TIMEOUT_S
        while True:
            assert first.poll() is None, first.stderr.read() if first.stderr else ""
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/__admin/health", timeout=2)
                break
            except OSError:
                assert time.monotonic() < deadline
                time.sleep(0.2)
        second = subprocess.run(
            [sys.executable, "-m", "simulator", "serve", "--port", str(_free_port()),
             "--data-dir", str(data_dir)],
            capture_output=True, text=True, timeout=60, env=env,
        )  # fmt: skip
        assert second.returncode == 2
        lines = second.stderr.strip().splitlines()
        assert len(lines) == 1, second.stderr
        assert "is in use by another `mycarenet-sim serve`" in lines[0]
        assert f"pid {first.pid}" in lines[0]
    finally:
        first.terminate()
        first.wait(timeout=30)
    # The lock went with the process: the data dir can be served again.
    again = subprocess.Popen(
        [sys.executable, "-m", "simulator", "serve", "--port", str(_free_port()),
         "--data-dir", str(data_dir), "--no-delay"],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, env=env,
    )  # fmt: skip
    time.sleep(3)
    assert again.poll() is None, again.stderr.read() if again.stderr else ""
    again.terminate()
    again.wait(timeout=30)
