"""A GenAsync post is atomic: no TAck, no file. The posted file, its processing state and its
TAck are written together once the answer carrying the TAck is produced, right before it is
sent; a crash before that, or an answer the client never gets, leaves nothing to process."""

from __future__ import annotations

import asyncio
import time
import urllib.request
from pathlib import Path

import pytest

from simulator.client import ConnectorClient
from simulator.client import genasync as ga_client
from simulator.codecs import genasync as codec
from simulator.config import Settings
from simulator.runtime import Simulator
from simulator.scenarios import load_scenario, load_shipped
from simulator.security.pki import write_keystore
from simulator.services import efact_processing, mailbox
from tests.e2e.conftest import PASSWORD, Running
from tests.support.subprocess_server import SubprocessServer

FLAT_FILE = b"920000" + b"0" * 500
HELD_BACK = """
name: held-back
rules:
  - id: slow-post
    match: {service: genasync, operation: post}
    action: {type: delay, seconds: 60}
"""


def _put_scenario(base_url: str, text: str) -> None:
    request = urllib.request.Request(
        f"{base_url}/__admin/scenario",
        data=text.encode(),
        method="PUT",
        headers={"Content-Type": "application/yaml"},
    )
    with urllib.request.urlopen(request, timeout=30) as answer:
        assert answer.status == 200


def _processing_states(sim: Simulator) -> list[object]:
    return [doc for _, doc in sim.records.find(efact_processing.FILES, prefix="hcpfac/")]


def test_a_post_killed_before_its_tack_was_sent_leaves_no_file(tmp_path: Path) -> None:
    local = Simulator.create(Settings(data_dir=tmp_path, patients=600, providers=80, no_delay=True))
    gp = next(p for p in local.population.providers if p.kind == "GP")
    keystore = tmp_path / "gp.p12"
    write_keystore(keystore, local.pki.issue_provider(gp.nihii, gp.ssin, gp.last_name), PASSWORD)

    def client_for(server: SubprocessServer) -> ConnectorClient:
        return ConnectorClient(server.base_url, keystore, PASSWORD, ca_cert=local.pki.ca_cert_path)

    async def post(server: SubprocessServer) -> codec.TAck:
        async with client_for(server) as client:
            return await ga_client.post(
                client, "hcpfac", FLAT_FILE, message_name="HCPFAC",
                destination_io="300", input_reference="20260000000099",
            )  # fmt: skip

    async def post_then_kill(server: SubprocessServer) -> None:
        attempt = asyncio.ensure_future(post(server))
        # The handler has run (signature, XAdES, storage asked for) well before this; the
        # answer then waits out the rule's 60 s delay, and the process dies during it.
        await asyncio.sleep(4)
        assert not attempt.done()
        server.kill()
        with pytest.raises(Exception):  # noqa: B017 - the connection just drops
            await attempt

    server = SubprocessServer(tmp_path).start()
    try:
        _put_scenario(server.base_url, HELD_BACK)
        asyncio.run(post_then_kill(server))
        assert mailbox.posted(local, "hcpfac") == []
        assert _processing_states(local) == []
        server = SubprocessServer(tmp_path).start()  # default scenario again: no delay rule

        async def tacks() -> codec.GetResponse:
            async with client_for(server) as client:
                return await ga_client.get(client, "hcpfac")

        assert asyncio.run(tacks()).tacks == ()  # no TAck was given: none is kept either
        tack = asyncio.run(post(server))  # the client's resend is the only copy
        assert [p["reference"] for p in mailbox.posted(local, "hcpfac")] == [tack.reference]
        assert len(_processing_states(local)) == 1
    finally:
        server.kill()
        local.close()


async def test_a_post_whose_answer_the_client_never_gets_stores_nothing(running: Running) -> None:
    before = len(mailbox.posted(running.sim, "hcpfac"))
    running.sim.replace_scenario(
        load_scenario(
            "name: lost\nrules:\n  - id: lost\n    match: {service: genasync, operation: post}\n"
            "    action: {type: http_status, status: 503}\n"
        )
    )
    try:
        async with running.client() as client:
            with pytest.raises(Exception):  # noqa: B017 - a 503 without a SOAP answer
                await ga_client.post(
                    client, "hcpfac", FLAT_FILE, message_name="HCPFAC",
                    destination_io="300", input_reference="20260000000098",
                )  # fmt: skip
    finally:
        running.sim.replace_scenario(load_shipped("default"))
    assert len(mailbox.posted(running.sim, "hcpfac")) == before
    started = time.monotonic()
    async with running.client() as client:
        tack = await ga_client.post(
            client, "hcpfac", FLAT_FILE, message_name="HCPFAC",
            destination_io="300", input_reference="20260000000098",
        )  # fmt: skip
    assert time.monotonic() - started < 30
    assert tack.reference in [p["reference"] for p in mailbox.posted(running.sim, "hcpfac")]
