"""Issue 11: every eFact file that got a 931000 gets its 920098/920099. 2,000 mutated valid
files (`mutations.py`) go through the insurer's processing in process (GenAsync's keep_post,
`received`, `advance`), and each must be answered 931000 then 920098 (+ 920900) or 920099,
in printable ASCII that the parser reads back, one echoed record per record read, with no
exception logged. The safety net (a file the processing fails on still gets a 920099) is
tested by making the checks and the writers raise.

MYCARENET_EFACT_MUTATIONS changes the number of files (default 2000)."""

from __future__ import annotations

import dataclasses
import io
import itertools
import logging
import os
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from simulator.codecs import genasync as codec
from simulator.config import Settings
from simulator.efact import writer
from simulator.efact.block import parse_block
from simulator.efact.generator import Spec, generate
from simulator.efact.parser import INVALID_BYTE, frame, parse
from simulator.runtime import Simulator
from simulator.services import efact_processing as processing
from simulator.services import mailbox
from simulator.store import ledger, parts

from .mutations import MUTATIONS, Step, mutate, printable, records_of

EXAMPLES = int(os.environ.get("MYCARENET_EFACT_MUTATIONS", "2000"))
BOX = "hcpfac"
MEDIPRIMA_BOX = "hcpfac_12"
_DESTINATIONS = {BOX: "300", MEDIPRIMA_BOX: "690"}
_references = itertools.count(1)


class _Errors(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@dataclass(repr=False)
class World:
    sim: Simulator
    sender: str
    bases: list[tuple[str, bytes]]  # (mailbox, a valid file): hcpfac, and hcpfac_12 (CAAMI)
    errors: _Errors


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    settings_ = Settings(
        data_dir=tmp_path_factory.mktemp("mutated"), patients=600, providers=80, no_delay=True
    )
    sim = Simulator.create(settings_)
    zero = timedelta(0)
    processing.configure(sim, processing.ProcessingConfig(zero, zero, zero))
    sender = sim.population.providers_of_kind("GP")[0].nihii  # the generator's third party
    bases = []
    for invoices, seed in ((1, 1), (3, 2), (12, 3)):
        out = io.BytesIO()
        # One union per file, the one it is posted to (docs/rules.md "eFact": B201803).
        generate(out, sim.population, Spec(invoices=invoices, seed=seed,
                                           today=sim.clock.today(), insurer=_DESTINATIONS[BOX]))
        bases.append((BOX, out.getvalue()))
    if "mediprima" in {f.name for f in dataclasses.fields(Spec)}:  # MediPrima files (CAAMI)
        out = io.BytesIO()
        generate(out, sim.population,
                 Spec(invoices=3, seed=4, today=sim.clock.today(), mediprima=True))
        bases.append((MEDIPRIMA_BOX, out.getvalue()))
    errors = _Errors()
    logger = logging.getLogger(processing.__name__)
    logger.addHandler(errors)
    yield World(sim, sender, bases, errors)
    logger.removeHandler(errors)
    sim.close()


def post_and_process(
    world: World, content: bytes, box: str = BOX
) -> tuple[dict[str, Any], list[tuple[str, bytes]]]:
    """What GenAsync post does (keep, schedule), then every due step at once; the file's final
    state and the answers delivered for it (taken out of the mailbox). The history of accepted
    files is forgotten so that each file is judged on its own (one file a day, sending numbers).
    """
    sim = world.sim
    reference = f"mutated{next(_references)}"
    common = codec.CommonInput(
        is_test=True, origin=codec.Origin(None, "", ""), input_reference=reference
    )
    name = processing.PREFIXES[box] + "HCPFAC"
    request = codec.PostRequest(common, codec.Blob(content, name), None)
    mailbox.keep_post(sim, box, reference, world.sender, _DESTINATIONS[box], request)
    processing.received(sim, box, reference)
    processing.advance(sim, box)
    state = processing.file_state(sim, box, reference)
    assert state is not None
    answers = []
    for stored in mailbox.waiting_messages(sim, box, world.sender):
        assert stored.document["input_reference"] == reference
        answer_name = str(stored.document["message_name"]).removeprefix("ECM-")
        answers.append((answer_name, mailbox.message_of(sim, stored).detail.content))
        sim.records.delete(mailbox.MESSAGES, stored.key)
    for kind in (processing.HISTORY, ledger.SERVICES, ledger.SOURCES):  # and the services paid
        for key, _ in sim.records.find(kind, prefix="", limit=100_000):
            sim.records.delete(kind, key)
    return state, answers


def check_answers(content: bytes, state: dict[str, Any], answers: list[tuple[str, bytes]]) -> str:
    """The properties of issue 11; returns the verdict for Hypothesis' statistics."""
    kinds = [(name, answer[:6].decode("ascii", "replace")) for name, answer in answers]
    assert kinds in (
        [("HCPFAC", "931000"), ("HCPVWR", "920099")],
        [("HCPFAC", "931000"), ("HCPFAC", "920098"), ("HCPAFD", "920900")],
    ), (kinds, state.get("step"), state.get("problem"))
    assert "problem" not in state, state["problem"]
    records = records_of(content)
    for name, answer in answers:
        assert printable(answer), name
        header, echoed = parse(answer)
        if header.message_type == "931000":
            continue
        if header.message_type == "920900":  # 95/96 not echoed, 91/92 added
            list(echoed)
            continue
        echoed_records = list(echoed)
        assert len(echoed_records) == records
        for record in echoed_records:
            if record.type in ("91", "92"):  # a record typed 91/92 reads as a settlement one
                continue
            assert parse_block(record.error_block).index == record.index % 1_000_000
    framed = frame(content)
    found = state.get("rejections", [])
    if INVALID_BYTE.search(framed.content) is not None or framed.message_type or framed.tail:
        assert found, "an invalid byte or a repaired frame must be reported"
    if framed.message_type or framed.tail:
        assert kinds[1][1] == "920099"
    return kinds[1][1]


@settings(
    max_examples=EXAMPLES,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(base=st.integers(0, 99), steps=MUTATIONS)
def test_every_mutated_file_gets_931000_then_its_920098_or_920099(
    world: World, base: int, steps: list[Step]
) -> None:
    box, valid = world.bases[base % len(world.bases)]
    content = mutate(valid, steps)
    event(box)
    for step in steps:
        event(step.kind.split(":")[0].split("@")[0])
    state, answers = post_and_process(world, content, box)
    event(f"verdict {check_answers(content, state, answers)}")
    assert not world.errors.records, world.errors.records[0].getMessage()


@settings(max_examples=40, deadline=None, database=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(base=st.integers(0, 99), steps=MUTATIONS, part_size=st.sampled_from((1, 97, 350, 4096)))
def test_a_file_kept_and_answered_in_small_parts_gets_the_same_answers(
    world: World, base: int, steps: list[Step], part_size: int
) -> None:
    """The posted file is read and the answers are written a part at a time (store/parts.py):
    parts that cut records, invalid bytes and a short last record anywhere change nothing."""
    box, valid = world.bases[base % len(world.bases)]
    content = mutate(valid, steps)
    whole = post_and_process(world, content, box)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(parts, "PART_SIZE", part_size)
        in_parts = post_and_process(world, content, box)
    assert in_parts[1] == whole[1]
    assert _findings(in_parts[0]) == _findings(whole[0])
    assert not world.errors.records, world.errors.records[0].getMessage()


def _findings(state: dict[str, Any]) -> list[dict[str, Any]]:
    """The stored findings, with the file's own reference (named in a duplicate's detail when
    the file bills a service twice) made the same for every post."""
    own = str(state["reference"])
    return [{**r, "detail": str(r["detail"]).replace(own, "<file>")} for r in state["rejections"]]


def test_the_valid_bases_are_accepted(world: World) -> None:
    for box, base in world.bases:
        state, answers = post_and_process(world, base, box)
        assert check_answers(base, state, answers) == "920098", state["rejections"]
        assert state["rejections"] == []


# -- the safety net ---------------------------------------------------------------------------


def _boom(*_args: object, **_kwargs: object) -> Any:
    raise RuntimeError("injected failure")


@pytest.mark.parametrize(
    ("target", "name"),
    [
        (processing, "check_file"),  # deciding
        (writer, "write_rejections"),  # writing the 920098/920099
        (writer, "write_receipt"),  # writing the 931000
    ],
)
def test_a_file_the_processing_fails_on_still_gets_a_920099_and_one_log(
    world: World, monkeypatch: pytest.MonkeyPatch, target: object, name: str
) -> None:
    monkeypatch.setattr(target, name, _boom)
    world.errors.records.clear()
    try:
        state, answers = post_and_process(world, world.bases[1][1])
    finally:
        logged = list(world.errors.records)
        world.errors.records.clear()
    assert [(n, a[:6]) for n, a in answers] == [("HCPFAC", b"931000"), ("HCPVWR", b"920099")]
    assert state["step"] == "rejected" and "injected failure" in state["problem"]
    assert [r["code"] for r in state["rejections"]] == ["100099"]
    assert len(logged) == 1 and logged[0].exc_info is not None
    header, records = parse(answers[1][1])
    assert (header.zone300("310"), header.zone300("311")) == ("10000", "01")
    first = next(records)
    assert [(e.letter, e.code) for e in parse_block(first.error_block).errors] == [("B", "100099")]
    assert sum(1 for _ in records) + 1 == records_of(world.bases[1][1])
    # the file left the open list: nothing more is delivered, nothing more is logged
    assert processing.advance(world.sim, BOX) == 0 and not world.errors.records


def test_the_failure_answer_is_written_from_any_bytes() -> None:
    from simulator.efact.errors import PROCESSING_FAILED, rejection

    failure = rejection(PROCESSING_FAILED, 1, "10", "0")
    for content in (b"", b"\xff" * 10, b"920000" + b"\x00" * 500, b"x" * 1000):
        out = io.BytesIO()
        writer.write_failure(out, content, failure)
        assert printable(out.getvalue())
        header, records = parse(out.getvalue())
        assert header.message_type == "920099"
        list(records)
        receipt = io.BytesIO()
        writer.write_bare_receipt(receipt, content)
        assert parse(receipt.getvalue())[0].message_type == "931000"


def test_a_cin_file_with_crlf_after_each_record_is_answered(
    world: World, shared_reference: Path
) -> None:
    """A vendor's "one record per line" variant: refused, but answered."""
    content = (shared_reference / "samples" / "efact" / "TFAC1SC09.509E").read_bytes()
    lines = [content[:227]] + [content[i : i + 350] for i in range(227, len(content), 350)]
    state, answers = post_and_process(world, b"\r\n".join(lines) + b"\r\n")
    assert check_answers(b"\r\n".join(lines) + b"\r\n", state, answers) == "920099"


def test_a_settlement_of_absurd_amounts_is_written_not_raised() -> None:
    """Amounts of 99999999999 cents in several records overflow the 11-digit zones of 91/92:
    written as the largest amount, as is a 50 before any record 20 (no destination)."""
    from datetime import date

    from tests.efact.helpers import edit, small_file

    data = small_file()
    for index in (3, 4):  # the two 50s of the first invoice
        data = edit(data, index, 87, "+99999999999")
    header, records = parse(data)
    out = io.BytesIO()
    writer.write_settlement(out, header, records, [], payment_date=date(2026, 12, 1))
    settled = [r for r in parse(out.getvalue())[1] if r.type == "91"]
    assert settled[0].zone("404") == "99999999999"
    orphan = edit(small_file(), 2, 0, "77", checksum=False)  # the first 20 is gone
    header, records = parse(orphan)
    out = io.BytesIO()
    writer.write_settlement(out, header, records, [], payment_date=date(2026, 12, 1))
    assert printable(out.getvalue())
