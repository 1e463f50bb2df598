"""Issue 11 over HTTP: mutated files posted with the project's GenAsync client (post, get,
confirm) each get 931000 then 920098 (+ 920900) or 920099, as the in-process bulk test
(`test_mutated_files.py`) checks for 2,000 of them. MYCARENET_EFACT_MUTATIONS_HTTP sets how
many (default 25)."""

from __future__ import annotations

import asyncio
import dataclasses
import io
import itertools
import os
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from simulator.client import genasync as ga_client
from simulator.client.connector import ConnectorClient
from simulator.efact.generator import Spec, generate
from simulator.efact.parser import parse
from simulator.security.pki import write_keystore
from simulator.server.background import BackgroundServer
from simulator.services import efact_processing as processing
from tests.support.server import start_server

from .mutations import MUTATIONS, Step, mutate, printable, records_of

EXAMPLES = int(os.environ.get("MYCARENET_EFACT_MUTATIONS_HTTP", "25"))
PASSWORD = "efact-http"
_references = itertools.count(1)


@dataclass(repr=False)
class Posting:
    server: BackgroundServer
    client: ConnectorClient
    loop: asyncio.AbstractEventLoop
    bases: list[tuple[str, bytes]]  # (mailbox, valid file)


@pytest.fixture(scope="module")
def posting(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Posting]:
    server = start_server(tmp_path_factory.mktemp("efact-http"))
    sim = server.sim
    assert sim is not None
    zero = timedelta(0)
    processing.configure(sim, processing.ProcessingConfig(zero, zero, zero))
    gp = sim.population.providers_of_kind("GP")[0]  # the generator's third party
    identity = sim.pki.issue_provider(gp.nihii, gp.ssin, "GP", "rsa")
    keystore = sim.settings.data_dir / "efact-http.p12"
    write_keystore(keystore, identity, PASSWORD)
    out = io.BytesIO()
    generate(out, sim.population, Spec(invoices=3, seed=4, today=sim.clock.today()))
    bases = [("hcpfac", out.getvalue())]
    if "mediprima" in {f.name for f in dataclasses.fields(Spec)}:  # MediPrima to CAAMI
        out = io.BytesIO()
        generate(out, sim.population,
                 Spec(invoices=2, seed=5, today=sim.clock.today(), mediprima=True))
        bases.append(("hcpfac_12", out.getvalue()))
    client = ConnectorClient(server.base_url, keystore, PASSWORD, ca_cert=sim.pki.ca_cert_path,
                             now=sim.clock.now)
    loop = asyncio.new_event_loop()
    loop.run_until_complete(client.__aenter__())
    try:
        yield Posting(server, client, loop, bases)
    finally:
        loop.run_until_complete(client.__aexit__(None, None, None))
        loop.close()
        server.stop()


async def _exchange(posting: Posting, box: str, content: bytes) -> list[tuple[str, bytes]]:
    """Post `content`, then get (which runs the due steps) and confirm what came for it."""
    client = posting.client
    sim = posting.server.sim
    assert sim is not None
    reference = f"{next(_references):014d}"
    prefix = processing.PREFIXES[box]
    await ga_client.post(client, box, content, message_name=f"{prefix}HCPFAC",
                         destination_io="690" if prefix else "300", input_reference=reference)
    found = await ga_client.get(client, box, max_messages=100, max_tacks=100)
    await ga_client.confirm(
        client, box, references=[m.detail.reference or "" for m in found.messages],
        tack_contents=[t.tack.content for t in found.tacks],
    )  # fmt: skip
    assert {m.common.input_reference for m in found.messages} <= {reference}
    return [(m.detail.message_name.removeprefix("ECM-"), m.detail.content)
            for m in found.messages]


@settings(max_examples=EXAMPLES, deadline=None, database=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(base=st.integers(0, 9), steps=MUTATIONS)
def test_mutated_files_posted_over_genasync_are_all_answered(
    posting: Posting, base: int, steps: list[Step]
) -> None:
    box, valid = posting.bases[base % len(posting.bases)]
    content = mutate(valid, steps)
    answers = posting.loop.run_until_complete(_exchange(posting, box, content))
    kinds = [(name, answer[:6]) for name, answer in answers]
    assert kinds in (
        [("HCPFAC", b"931000"), ("HCPVWR", b"920099")],
        [("HCPFAC", b"931000"), ("HCPFAC", b"920098"), ("HCPAFD", b"920900")],
    ), (steps, kinds)
    for _name, answer in answers:
        assert printable(answer)
    _header, echoed = parse(answers[1][1])
    assert sum(1 for _ in echoed) == records_of(content)
