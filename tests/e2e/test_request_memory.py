"""What a request holds while its answer waits out its latency: not the body (only the
journal's cut of it) and not the parsed tree, so that concurrent large bodies stay bounded
(loadtests/bench_memory.py measures the whole server)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from simulator.codecs import etkdepot
from simulator.config import Settings
from simulator.runtime import Simulator
from simulator.scenarios import load_scenario
from simulator.server import pipeline
from simulator.server.exchange import Exchange
from simulator.soap.envelope import new_envelope, serialize
from simulator.store.base import JournalQuery

SLOW = """
name: slow
latency:
  default: {model: fixed, ms: 400}
"""


async def test_the_body_and_tree_are_let_go_before_the_delay(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(pipeline, "MAX_STORED_BODY", 1000)
    sim = Simulator.create(Settings(data_dir=tmp_path, patients=50, providers=20))
    try:
        sim.replace_scenario(load_scenario(SLOW))
        request = serialize(new_envelope(etkdepot.build_request("CBE", "0820563481", None)))
        body = request.replace(b"</soap:Body>", b" " * 50_000 + b"</soap:Body>")
        assert len(body) > 50_000
        exchange = Exchange(
            path="/EtkDepot/v1", soap_action="", body=body, received_at=sim.clock.now()
        )
        task = asyncio.ensure_future(pipeline.process(sim, exchange))
        await asyncio.sleep(0.25)  # answered, now waiting out the 400 ms latency
        assert not task.done()
        assert len(exchange.body) == 1000
        assert exchange.envelope is None
        await task
        assert exchange.http_status == 200
        sim.store.flush()
        (entry,) = sim.store.journal(JournalQuery())
        assert entry.request == body[:1000].decode()
    finally:
        sim.close()
