"""`serve --workers 2 --store postgresql://...`: the worker checking a file is SIGKILLed, the
other one takes the file over (its row lock went with the dead worker's connection), and the
file gets each of its answers exactly once."""

from __future__ import annotations

import asyncio
import io
import json
import os
import signal
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from simulator.client import ConnectorClient
from simulator.client import genasync as ga_client
from simulator.config import DEFAULT_SEED
from simulator.domain.population import build_population
from simulator.efact.generator import Spec, generate
from simulator.security.pki import TestPki, write_keystore
from simulator.services import efact_processing as processing
from simulator.store.due_jobs import APPLICATION_NAME
from tests.e2e.test_workers import Workers
from tests.support.postgres import Cluster, cluster_or_skip, psycopg_or_skip

PASSWORD = "jobs-workers"


@pytest.fixture(scope="module")
def cluster() -> Iterator[Cluster]:
    with cluster_or_skip() as running:
        yield running


def _wait_until(condition: Callable[[], bool], timeout: float, what: str) -> None:
    """Poll the database until `condition` holds (the workers are other processes)."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not within {timeout} s")
        time.sleep(0.02)


def test_the_other_worker_takes_over_a_file_whose_worker_was_killed_mid_check(
    cluster: Cluster, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(processing.ENVIRONMENT, "0,0,0")  # every step due at once
    url = cluster.create_database("jobs")
    workers = Workers(tmp_path / "data", url)
    try:
        workers.pids = workers.wait_for_both()
        today = datetime.now(UTC).date()
        population = build_population(DEFAULT_SEED, 2000, 200, today)
        gp = next(p for p in population.providers if p.kind == "GP")
        keystore = tmp_path / "gp.p12"
        pki = TestPki.load_or_create(workers.data_dir)
        write_keystore(keystore, pki.issue_provider(gp.nihii, gp.ssin, gp.last_name), PASSWORD)
        out = io.BytesIO()
        generate(out, population, Spec(invoices=6_000, today=today, insurer="300"))

        def client() -> ConnectorClient:
            return ConnectorClient(workers.base_url, keystore, PASSWORD, ca_cert=pki.ca_cert_path)

        async def post() -> str:
            async with client() as connector:
                tack = await ga_client.post(
                    connector, "hcpfac", out.getvalue(), message_name="HCPFAC",
                    destination_io="300", input_reference="20260000000555",
                )  # fmt: skip
                assert tack.reference is not None
                return tack.reference

        async def take() -> list[str]:
            async with client() as connector:
                found = await ga_client.get(connector, "hcpfac", max_messages=100)
                await ga_client.confirm(
                    connector,
                    "hcpfac",
                    references=[m.detail.reference or "" for m in found.messages],
                )
                return [m.detail.content[:6].decode() for m in found.messages]

        psycopg = psycopg_or_skip()
        with psycopg.connect(url, autocommit=True) as database:

            def step() -> str:
                row = database.execute(
                    "SELECT value FROM records WHERE kind = %s AND key = %s",
                    (processing.FILES, f"hcpfac/{reference}"),
                ).fetchone()
                return str(json.loads(row[0])["step"]) if row else "missing"

            def holder() -> int | None:
                """The worker whose job connection holds a claim (a transaction open)."""
                row = database.execute(
                    "SELECT application_name FROM pg_stat_activity WHERE application_name "
                    "LIKE %s AND state = 'idle in transaction'",
                    (f"{APPLICATION_NAME} %",),
                ).fetchone()
                return int(str(row[0]).rsplit(" ", 1)[1]) if row else None

            reference = asyncio.run(post())
            # The 931000 is out and a worker holds the file: it is checking it. Kill it there.
            _wait_until(lambda: step() == "receipt" and holder() is not None, 60, "no check")
            killed = holder()
            assert killed in workers.pids
            os.kill(killed, signal.SIGKILL)
            assert step() == "receipt", "killed too late: the file was already checked"

            _wait_until(lambda: step() in ("settled", "rejected"), 120, "not taken over")
            kinds = asyncio.run(take())
            assert kinds in (["931000", "920098", "920900"], ["931000", "920099"]), kinds
            row = database.execute(
                "SELECT value FROM records WHERE kind = %s AND key = %s",
                (processing.FILES, f"hcpfac/{reference}"),
            ).fetchone()
            assert row is not None
            assert [h["message"] for h in json.loads(row[0])["history"]] == kinds
            assert asyncio.run(take()) == []  # and nothing comes twice
    finally:
        workers.stop()
