"""eFact end to end over GenAsync: post a 920000, then 931000 -> 920098/920099 -> 920900,
with the simulator clock skipping the delays (2 s, 10 s, 30 s after the post by default)."""

from __future__ import annotations

import asyncio
import io
import itertools
from collections.abc import Awaitable, Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import TypeVar

import pytest

from simulator.client import genasync as ga_client
from simulator.client.connector import ConnectorClient
from simulator.clock import BRUSSELS
from simulator.config import Settings
from simulator.domain.efact_processing import percentage
from simulator.efact.block import parse_block
from simulator.efact.generator import InjectedFault, Spec, generate
from simulator.efact.parser import Header, Record, parse
from simulator.runtime import Simulator
from simulator.security.pki import write_keystore
from simulator.services import efact_jobs, mailbox
from simulator.services import efact_processing as processing
from simulator.store import ledger
from tests.e2e.conftest import PASSWORD, Running
from tests.support.server import start_server
from tests.support.subprocess_server import SubprocessServer

T = TypeVar("T")
CIN_FILES = (
    "TFAC1SC09.509E",
    "TFAC1SC11.510E",
    "TFAC1SC12.518E",
    "TFAC1SC13.519E",
    "TFAC1SC15.520E",
)
RECORD_FAULTS = ("niss", "nomenclature", "future", "old", "amount", "provider")
_sending_numbers = itertools.count(100)  # unique per year across the module's files
_seeds = itertools.count(1)

Answer = tuple[str, bytes]  # (MessageName, flat file)


def run(coroutine: Awaitable[T]) -> T:
    return asyncio.run(coroutine)  # type: ignore[arg-type]


def _client(running: Running) -> ConnectorClient:
    # Business dates follow the simulator's clock; signatures use the real clock.
    return running.client(now=running.sim.clock.now)


def _fresh_day(running: Running, config: processing.ProcessingConfig | None = None) -> None:
    """A new day (one eFact file a day per third party) and the default delays. The services
    paid before are forgotten: each test's files are judged on their own, not against the
    ledger of earlier tests (two generated files may draw the same consultation: 502255)."""
    running.sim.clock.advance(timedelta(days=1))
    processing.configure(running.sim, config or processing.ProcessingConfig())
    forget_ledger(running.sim)


def forget_ledger(sim: Simulator) -> None:
    """Empty the insurer's ledger (every service attested or billed so far)."""
    for kind in (ledger.SERVICES, ledger.SOURCES):
        for key, _ in sim.records.find(kind, prefix="", limit=1_000_000):
            sim.records.delete(kind, key)


def _generated(
    running: Running,
    invoices: int,
    error_rate: float = 0.0,
    faults: tuple[str, ...] = RECORD_FAULTS,
    sending_number: int | None = None,
    mediprima: bool = False,
) -> tuple[bytes, list[InjectedFault]]:
    out = io.BytesIO()
    spec = Spec(
        invoices=invoices, error_rate=error_rate, seed=next(_seeds),
        today=running.sim.clock.today(), faults=faults,
        sending_number=sending_number or next(_sending_numbers), mediprima=mediprima,
        insurer=None if mediprima else "300",  # one union per file: the one posted to
    )  # fmt: skip
    injected = generate(out, running.population, spec)
    return out.getvalue(), injected


async def _post(
    client: ConnectorClient, running: Running, content: bytes, box: str = "hcpfac",
    insurer: str | None = None,
) -> None:
    header, records = parse(content)
    if insurer is None:  # the union of its first invoice: one file per insurer
        first = next((r for r in records if r.type == "20"), None)
        insurer = first.text[84:85] + "00" if first is not None else "300"
    await ga_client.post(
        client, box, content, message_name="ECM-HCPFAC" if box == "hcpfac_12" else "HCPFAC",
        destination_io="690" if box == "hcpfac_12" else insurer,
        input_reference=header.zone200("204"),
    )  # fmt: skip


async def _take(client: ConnectorClient, running: Running, box: str = "hcpfac") -> list[Answer]:
    """Every waiting message (oldest first), confirmed; TAcks confirmed too."""
    found = await ga_client.get(client, box, max_messages=1000, max_tacks=1000)
    await ga_client.confirm(
        client, box, references=[m.detail.reference or "" for m in found.messages],
        tack_contents=[t.tack.content for t in found.tacks],
    )  # fmt: skip
    return [(m.detail.message_name, m.detail.content) for m in found.messages]


async def _flow(running: Running, content: bytes, box: str = "hcpfac") -> list[list[Answer]]:
    """Post, then what `get` returns right away, after 2 s, after 10 s and after 30 s."""
    async with _client(running) as client:
        await _take(client, running, box)
        await _post(client, running, content, box)
        steps = [await _take(client, running, box)]
        for seconds in (2, 8, 20):
            running.sim.clock.advance(timedelta(seconds=seconds))
            steps.append(await _take(client, running, box))
        return steps


def _types(answers: list[Answer]) -> list[tuple[str, str]]:
    return [(name, content[:6].decode()) for name, content in answers]


def _blocks(answer: bytes) -> tuple[Header, dict[int, list[tuple[str, str]]]]:
    """Segment 300 and, per echoed record with errors, its (letter, code) list."""
    header, records = parse(answer)
    found: dict[int, list[tuple[str, str]]] = {}
    for record in records:
        if record.error_block:
            errors = parse_block(record.error_block).errors
            if errors:
                found[record.index] = [(e.letter, e.code) for e in errors]
    return header, found


def _settlement(answer: bytes) -> list[Record]:
    _header, records = parse(answer)
    return [r for r in records if r.type == "91"]


# -- the CIN test files -----------------------------------------------------------------------

CIN_THIRD_PARTY = "18334780004"  # R10 Z14 of every CIN test file
CIN_DAY = datetime(2014, 11, 26, 9, 0, tzinfo=BRUSSELS)  # the day after the files were made
CIN_THIRD_PARTY_SSIN = "62040858223"  # any valid SSIN: the files name only the NIHII


@pytest.fixture(scope="module")
def cin_running(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Running]:
    """A simulator whose business clock is on the CIN files' own dates (November 2014), with a
    keystore for their third party. Its certificates, tokens and signatures live in real time
    (the client signs with the real clock): only the business date is 2014."""
    server = start_server(tmp_path_factory.mktemp("cin"))
    sim = server.sim
    assert sim is not None
    sim.clock.freeze(CIN_DAY)
    processing.configure(sim, processing.ProcessingConfig())  # the default rules, all on
    identity = sim.pki.issue_provider(CIN_THIRD_PARTY, CIN_THIRD_PARTY_SSIN, "CIN Tiers", "rsa")
    keystore = sim.settings.data_dir / "cin.p12"
    write_keystore(keystore, identity, PASSWORD)
    gp = next(p for p in sim.population.providers if p.kind == "GP")
    yield Running(server, keystore, gp)
    server.stop()


@pytest.mark.parametrize("name", CIN_FILES)
def test_each_cin_file_is_accepted_and_answered_over_http_on_its_own_dates(
    cin_running: Running, shared_reference: Path, name: str
) -> None:
    """Posted over GenAsync by their third party in the days after they were made (one file a
    day; their sending numbers differ), every check passes, the +10 checksums included, but
    one: their patient is not in the synthetic population, so the invoice is refused (F200820
    on its record 20, 1 record of 8 = 12.50 %, or of 7). One record in error does not refuse a
    file: 931000, 920098 with that block, then 920900 paying nothing of the refused invoice."""
    cin_running.sim.clock.freeze(CIN_DAY + timedelta(days=CIN_FILES.index(name)))
    content = (shared_reference / "samples" / "efact" / name).read_bytes()
    steps = run(_flow(cin_running, content))
    assert [_types(s) for s in steps] == [
        [], [("HCPFAC", "931000")], [("HCPFAC", "920098")], [("HCPAFD", "920900")],
    ]  # fmt: skip
    header, blocks = _blocks(steps[2][0][1])
    assert blocks == {2: [("F", "200820")]}
    records = sum(1 for _ in parse(content)[1])  # 8, or 7 without a record 51
    assert (header.zone300("310"), header.zone300("311"), header.zone300("301")) == (
        percentage(1, records), "00", name[-4:-1],
    )  # fmt: skip
    _header, settled = _blocks(steps[3][0][1])
    assert settled == blocks
    (record91,) = _settlement(steps[3][0][1])
    requested = sum(int(r.text[87:99]) for r in parse(content)[1] if r.type == "50")
    assert requested > 0 and int(record91.zone("404")) == requested
    assert int(record91.zone("412")) == 0 and int(record91.zone("414")) == requested


def test_a_cin_file_posted_today_by_another_provider_is_refused_920099(
    running: Running, shared_reference: Path
) -> None:
    """Today a GP of the population posts it: its third party is neither the sender nor
    known (B101420, blocking), its patient is unknown (F200820) and its services of November
    2014 are older than two months: a fine, not a rejection (E500503 on the 50, its 51 not
    cascaded; docs/rules.md "eFact"), so 2 records of 8 are in error."""
    _fresh_day(running)
    content = (shared_reference / "samples" / "efact" / "TFAC1SC09.509E").read_bytes()
    steps = run(_flow(running, content))
    assert [_types(s) for s in steps] == [
        [], [("HCPFAC", "931000")], [("HCPVWR", "920099")], [],
    ]  # fmt: skip
    header, blocks = _blocks(steps[2][0][1])
    assert (header.zone300("310"), header.zone300("311")) == ("02500", "01")
    assert blocks == {1: [("B", "101420")], 2: [("F", "200820")], 3: [("E", "500503")]}


# -- generated files --------------------------------------------------------------------------


def test_a_file_with_record_faults_gets_the_exact_error_blocks_then_the_settlement(
    running: Running,
) -> None:
    _fresh_day(running)
    content, injected = _generated(running, invoices=100, error_rate=0.03)
    assert len(injected) == 3
    steps = run(_flow(running, content))
    assert [_types(s) for s in steps] == [
        [], [("HCPFAC", "931000")], [("HCPFAC", "920098")], [("HCPAFD", "920900")],
    ]  # fmt: skip
    header, blocks = _blocks(steps[2][0][1])
    # A service dated in the future has both dates wrong: zone 5 (500510) and zone 6a (500610).
    also = {"future": [("R", "500610")]}
    assert blocks == {
        fault.record_index: [("R", fault.code), *also.get(fault.kind, [])] for fault in injected
    }
    assert header.zone300("311") == "00"
    # The settlement repeats the blocks and pays everything but the faulty services.
    _header, settled = _blocks(steps[3][0][1])
    assert settled == blocks
    records = list(parse(content)[1])
    faulty = {fault.record_index for fault in injected}
    amounts = {r.index: int(r.text[87:99]) for r in records if r.type == "50"}
    rejected = sum(amounts[i] for i in faulty)
    totals = _settlement(steps[3][0][1])
    assert sum(int(r.zone("414")) for r in totals) == rejected
    assert sum(int(r.zone("412")) for r in totals) == sum(amounts.values()) - rejected
    pay_on = (running.sim.clock.today() + timedelta(days=14)).strftime("%Y%m%d")
    assert all(r.zone("423").startswith(pay_on) for r in totals)


def test_a_second_file_the_same_day_is_rejected_100724(running: Running) -> None:
    _fresh_day(running)
    first, _ = _generated(running, invoices=5)
    second, _ = _generated(running, invoices=5)

    async def scenario() -> list[Answer]:
        async with _client(running) as client:
            await _take(client, running)
            await _post(client, running, first)
            await _post(client, running, second)
            running.sim.clock.advance(timedelta(seconds=11))
            return await _take(client, running)

    answers = run(scenario())
    by_file = {parse(c)[0].zone200("204"): (n, c) for n, c in answers if c[:6] != b"931000"}
    assert _types(answers).count(("HCPFAC", "931000")) == 2
    name, accepted = by_file[parse(first)[0].zone200("204")]
    assert (name, accepted[:6]) == ("HCPFAC", b"920098")
    name, rejected = by_file[parse(second)[0].zone200("204")]
    assert (name, rejected[:6]) == ("HCPVWR", b"920099")
    header, blocks = _blocks(rejected)
    assert header.zone300("311") == "01"
    assert blocks == {1: [("B", "100724")]}


def test_a_sending_number_reused_in_the_year_is_rejected_100721(running: Running) -> None:
    _fresh_day(running)
    number = next(_sending_numbers)
    first, _ = _generated(running, invoices=5, sending_number=number)
    assert _types(run(_flow(running, first))[2]) == [("HCPFAC", "920098")]
    _fresh_day(running)
    again, _ = _generated(running, invoices=5, sending_number=number)
    steps = run(_flow(running, again))
    assert _types(steps[2]) == [("HCPVWR", "920099")]
    header, blocks = _blocks(steps[2][0][1])
    assert header.zone300("311") == "01"
    assert blocks == {1: [("B", "100721")]}
    assert steps[3] == []  # a rejected file is not settled


def test_more_than_5_percent_records_in_error_rejects_the_file_with_the_percentage(
    running: Running,
) -> None:
    _fresh_day(running)
    content, injected = _generated(running, invoices=40, error_rate=0.5)
    records = sum(1 for _ in parse(content)[1])
    steps = run(_flow(running, content))
    assert _types(steps[2]) == [("HCPVWR", "920099")]
    header, blocks = _blocks(steps[2][0][1])
    # An old service is a fine, annotated E500503, not an error (docs/rules.md "eFact").
    expected = percentage(sum(1 for fault in injected if fault.kind != "old"), records)
    assert int(expected) > 500
    assert (header.zone300("310"), header.zone300("311")) == (expected, "02")
    assert set(blocks) == {fault.record_index for fault in injected}
    assert steps[3] == []


def test_a_checksum_error_is_blocking_920099_type_01(running: Running) -> None:
    _fresh_day(running)
    content, injected = _generated(running, invoices=60, error_rate=1 / 60, faults=("checksum",))
    steps = run(_flow(running, content))
    header, blocks = _blocks(steps[2][0][1])
    assert (header.zone300("311"), _types(steps[2])) == ("01", [("HCPVWR", "920099")])
    assert blocks == {injected[0].record_index: [("B", "509902")]}


def test_mediprima_files_are_answered_on_hcpfac_12_with_ecm_names(running: Running) -> None:
    _fresh_day(running)
    content, _ = _generated(running, invoices=3, mediprima=True)  # CAAMI: a MediPrima file
    steps = run(_flow(running, content, box="hcpfac_12"))
    assert [_types(s) for s in steps] == [
        [], [("ECM-HCPFAC", "931000")], [("ECM-HCPFAC", "920098")],
        [("ECM-HCPAFD", "920900")],
    ]  # fmt: skip


# -- durability -------------------------------------------------------------------------------


def test_sigkill_between_post_and_get_loses_no_answer_and_repeats_none(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(processing.ENVIRONMENT, "0,0,0")  # every step due at once
    local = Simulator.create(Settings(data_dir=tmp_path, patients=600, providers=80, no_delay=True))
    gp = next(p for p in local.population.providers if p.kind == "GP")
    keystore = tmp_path / "gp.p12"
    write_keystore(
        keystore, local.pki.issue_provider(gp.nihii, gp.ssin, gp.last_name, "rsa"), PASSWORD
    )
    out = io.BytesIO()
    generate(out, local.population, Spec(invoices=20, today=local.clock.today(), insurer="300"))
    content = out.getvalue()

    def client_for(server: SubprocessServer) -> ConnectorClient:
        return ConnectorClient(server.base_url, keystore, PASSWORD, ca_cert=local.pki.ca_cert_path)

    async def post(server: SubprocessServer) -> None:
        async with client_for(server) as client:
            await ga_client.post(
                client,
                "hcpfac",
                content,
                message_name="HCPFAC",
                destination_io="300",
                input_reference="20260000000001",
            )

    async def take(server: SubprocessServer) -> list[Answer]:
        async with client_for(server) as client:
            found = await ga_client.get(client, "hcpfac")
            await ga_client.confirm(
                client, "hcpfac", references=[m.detail.reference or "" for m in found.messages],
                tack_contents=[t.tack.content for t in found.tacks],
            )  # fmt: skip
            return [(m.detail.message_name, m.detail.content) for m in found.messages]

    server = SubprocessServer(tmp_path).start()
    try:
        run(post(server))
        server.kill()  # before any get: the worker may have answered some steps, or none
        server = SubprocessServer(tmp_path).start()
        answers = run(take(server))
        assert _types(answers) == [
            ("HCPFAC", "931000"), ("HCPFAC", "920098"), ("HCPAFD", "920900"),
        ]  # fmt: skip
        server.kill()
        server = SubprocessServer(tmp_path).start()
        assert run(take(server)) == []
    finally:
        server.kill()
        local.close()


def test_a_delivery_interrupted_before_its_step_was_saved_is_not_repeated(
    running: Running,
) -> None:
    """A crash after `deliver` but before the step is saved leaves the state at the previous
    step with the noted hash: the next pass finds the message waiting and does not resend.
    The server's job worker is held: this test takes the steps itself."""
    _fresh_day(running)
    content, _ = _generated(running, invoices=2)

    async def post() -> None:
        async with _client(running) as client:
            await _take(client, running)
            await _post(client, running, content)

    run(post())
    with efact_jobs.held(running.sim):
        _interrupted_delivery_is_not_repeated(running, content)


def _interrupted_delivery_is_not_repeated(running: Running, content: bytes) -> None:
    sim, nihii = running.sim, running.provider.nihii
    (reference,) = [
        str(p["reference"])
        for p in mailbox.posted(sim, "hcpfac")
        if mailbox.posted_file(sim, "hcpfac", str(p["reference"])).read() == content
    ]
    sim.clock.advance(timedelta(seconds=2))
    assert processing.advance(sim, "hcpfac") == 1  # the 931000
    state = processing.file_state(sim, "hcpfac", reference)
    assert state is not None and state["step"] == "receipt"
    (receipt,) = mailbox.waiting_messages(sim, "hcpfac", nihii)
    # Roll the state back to what a crash would have left behind, and reopen it.
    state.update(step="received", sending=receipt.document["hash"])
    sim.records.put(processing.FILES, f"hcpfac/{reference}", state)
    sim.records.put(processing.OPEN, processing._open_key(state), processing._pointer(state))
    assert processing.advance(sim, "hcpfac") == 0
    assert len(mailbox.waiting_messages(sim, "hcpfac", nihii)) == 1
    after = processing.file_state(sim, "hcpfac", reference)
    assert after is not None and after["step"] == "receipt" and "sending" not in after
