"""One simulator per session and security mode (strict, and off for deeper coverage), the
valid signed requests of every operation captured once, and a client that sends fuzzed
inputs as they are and times the answers."""

from __future__ import annotations

import asyncio
import logging
import os
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp
import pytest

from simulator.config import SecurityMode
from simulator.security.pki import write_keystore
from simulator.server.background import BackgroundServer
from tests.fuzz.corpus import Seed, Signer, build_corpus, make_signer
from tests.fuzz.mutators import Fuzzed
from tests.support.server import start_server

PASSWORD = "fuzz-password"
EXAMPLES = int(os.environ.get("MYCARENET_FUZZ_EXAMPLES", "40"))
ANSWER_BOUND_S = float(os.environ.get("MYCARENET_FUZZ_ANSWER_BOUND", "10"))


class _Unhandled(logging.Handler):
    """The pipeline logs every exception it turns into SOA-00001: the fuzzer's real finds."""

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@dataclass
class Target:
    server: BackgroundServer
    seeds: list[Seed]
    signer: Signer
    loop: asyncio.AbstractEventLoop
    session: aiohttp.ClientSession
    unhandled: _Unhandled
    sent: int = 0
    findings: list[tuple[str, Fuzzed, int, bytes]] = field(default_factory=list)

    def send(self, item: Fuzzed) -> tuple[int, bytes, float]:
        return self.loop.run_until_complete(self._send(item))

    async def _send(self, item: Fuzzed) -> tuple[int, bytes, float]:
        self.sent += 1
        started = time.monotonic()
        async with self.session.post(
            self.server.base_url + item.path,
            data=item.body,
            headers=dict(item.headers),
            skip_auto_headers=["Content-Type"],
            timeout=aiohttp.ClientTimeout(total=ANSWER_BOUND_S * 3),
        ) as response:
            body = await response.read()
        return response.status, body, time.monotonic() - started

    def health(self) -> int:
        async def get() -> int:
            async with self.session.get(self.server.base_url + "/__admin/health") as response:
                return response.status

        return self.loop.run_until_complete(get())


def _target(root: Path, mode: SecurityMode) -> Iterator[Target]:
    server = start_server(root, security_mode=mode)
    sim = server.sim
    assert sim is not None
    gp = next(p for p in sim.population.providers if p.kind == "GP")
    identity = sim.pki.issue_provider(gp.nihii, gp.ssin, f"{gp.first_name} {gp.last_name}", "rsa")
    keystore = sim.settings.data_dir / "fuzz.p12"
    write_keystore(keystore, identity, PASSWORD)
    loop = asyncio.new_event_loop()
    seeds = loop.run_until_complete(build_corpus(
        server.base_url, keystore, PASSWORD, sim.pki.ca_cert_path, sim.population,
        sim.clock.today(), business_now=sim.clock.now,
    ))  # fmt: skip
    signer = loop.run_until_complete(
        make_signer(server.base_url, keystore, PASSWORD, sim.pki.ca_cert_path)
    )
    session = loop.run_until_complete(_session())
    unhandled = _Unhandled()
    logging.getLogger("simulator").addHandler(unhandled)
    try:
        yield Target(server, seeds, signer, loop, session, unhandled)
    finally:
        logging.getLogger("simulator").removeHandler(unhandled)
        loop.run_until_complete(session.close())
        loop.close()
        server.stop()


async def _session() -> aiohttp.ClientSession:
    return aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=4))


@pytest.fixture(scope="session")
def strict_target(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Target]:
    yield from _target(tmp_path_factory.mktemp("fuzz-strict"), SecurityMode.STRICT)


@pytest.fixture(scope="session")
def open_target(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Target]:
    yield from _target(tmp_path_factory.mktemp("fuzz-off"), SecurityMode.OFF)
