"""Scenario rules on eFact posts, over HTTP: the shipped efact-rejections scenario (the n-th
file gets the n-th rule's code in the right message), chaos's late and lost answers, and a
SOAP fault that leaves nothing stored."""

from __future__ import annotations

import io
import itertools
from collections.abc import Iterator
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import pytest

from simulator.client import genasync as ga_client
from simulator.client.genasync import GenAsyncFaultError
from simulator.codecs import genasync as codec
from simulator.config import Settings
from simulator.efact.generator import Spec, generate
from simulator.efact.parser import parse
from simulator.runtime import Simulator
from simulator.scenarios import Reject, load_scenario, load_shipped
from simulator.services import efact_processing as processing
from simulator.services import mailbox
from tests.e2e.conftest import Running
from tests.e2e.test_efact_flow import (
    Answer,
    _blocks,
    _client,
    _settlement,
    _take,
    _types,
    forget_ledger,
    run,
)

_sending_numbers = itertools.count(300)
_seeds = itertools.count(500)


@pytest.fixture
def scenario(running: Running) -> Iterator[Running]:
    """The test sets its scenario; the default one is back afterwards, with default delays."""
    sim = running.sim
    before = sim.scenarios.scenario
    processing.configure(sim, processing.ProcessingConfig())
    yield running
    sim.replace_scenario(before)


def _use(running: Running, text: str) -> None:
    sim = running.sim
    sim.replace_scenario(
        load_scenario(text, source="t", operations=sim.registry.operation_names())
    )


def _file(
    running: Running,
    invoices: int = 3,
    sending_number: int | None = None,
    mediprima: bool = False,
) -> bytes:
    """A valid file of the day (one new day per file: one eFact file a day per third party),
    judged on its own: the ledger of the files before is forgotten (docs/rules.md "eFact")."""
    running.sim.clock.advance(timedelta(days=1))
    forget_ledger(running.sim)
    out = io.BytesIO()
    spec = Spec(
        invoices=invoices, seed=next(_seeds), today=running.sim.clock.today(),
        sending_number=sending_number or next(_sending_numbers), mediprima=mediprima,
        insurer=None if mediprima else "300",  # one union per file: the one posted to
    )  # fmt: skip
    generate(out, running.population, spec)
    return out.getvalue()


async def _post(running: Running, content: bytes, box: str = "hcpfac") -> None:
    async with _client(running) as client:
        await _take(client, running, box)  # start from an empty mailbox
        await ga_client.post(
            client, box, content, message_name="ECM-HCPFAC" if box == "hcpfac_12" else "HCPFAC",
            destination_io="690" if box == "hcpfac_12" else "300",
            input_reference=parse(content)[0].zone200("204"),
        )  # fmt: skip


async def _after(running: Running, *seconds: int, box: str = "hcpfac") -> list[list[Answer]]:
    """What `get` returns after each advance of the clock by `seconds`."""
    steps = []
    async with _client(running) as client:
        for step in seconds:
            running.sim.clock.advance(timedelta(seconds=step))
            steps.append(await _take(client, running, box))
    return steps


def _flow(running: Running, content: bytes, box: str = "hcpfac") -> list[Answer]:
    """Post, then everything answered within 31 s, in delivery order."""
    run(_post(running, content, box))
    return [answer for step in run(_after(running, 2, 8, 21, box=box)) for answer in step]


def _outcome(answers: list[Answer]) -> tuple[object, ...]:
    """(message names and types, zone 311, error blocks of the 920098/920099, of the 920900)."""
    verdict = next(c for _, c in answers if c[:6] in (b"920098", b"920099"))
    header, blocks = _blocks(verdict)
    settled = [c for _, c in answers if c[:6] == b"920900"]
    return (
        _types(answers), header.zone300("311"), blocks,
        _blocks(settled[0])[1] if settled else None,
    )  # fmt: skip


# -- efact-rejections -------------------------------------------------------------------------


def test_each_rule_of_the_shipped_efact_rejections_scenario_fires_on_its_file(
    scenario: Running,
) -> None:
    """Files 1-3: the file is refused (920099 type 01) with the rule's B code on record 10, and
    never settled. File 4: the F code on the first invoice (record 20 = record 2), in the
    920098 and the 920900. Files 5-10: the R code on the first service (record 50 = record
    3). Files 11-12: 514225 can only be on a record 51 and 500119 only on a supplement
    (docs/rules.md "eFact"); the generated files have neither, so they are accepted clean."""
    running = scenario
    sim = running.sim
    sim.replace_scenario(load_shipped("efact-rejections", operations=sim.registry.operation_names()))
    refused = [("HCPFAC", "931000"), ("HCPVWR", "920099")]
    accepted = [("HCPFAC", "931000"), ("HCPFAC", "920098"), ("HCPAFD", "920900")]
    expected: list[tuple[object, ...]] = []
    for rule in sim.scenarios.scenario.rules:
        assert isinstance(rule.action, Reject)
        code = rule.action.code
        if code.startswith("10"):
            expected.append((refused, "01", {1: [("B", code)]}, None))
        elif code.startswith("20"):
            expected.append((accepted, "00", {2: [("F", code)]}, {2: [("F", code)]}))
        elif code in ("514225", "500119"):  # no record 51, no supplement: nowhere to land
            expected.append((accepted, "00", {}, {}))
        else:
            expected.append((accepted, "00", {3: [("R", code)]}, {3: [("R", code)]}))
    assert len(expected) == 12
    outcomes = [_outcome(_flow(running, _file(running))) for _ in expected]
    assert outcomes == expected
    # The 13th file meets no rule: accepted without any error.
    assert _outcome(_flow(running, _file(running))) == (accepted, "00", {}, {})
    states = sim.scenarios.states()
    assert all(state.fired == 1 for state in states.values())


def test_a_forced_invoice_rejection_is_not_paid_in_the_settlement(scenario: Running) -> None:
    _use(scenario, """
name: t
rules:
  - id: invoice
    match: {service: genasync, operation: post, message_name: HCPFAC}
    action: {type: reject, code: "200820"}
""")  # fmt: skip
    content = _file(scenario, invoices=4)
    answers = _flow(scenario, content)
    records = list(parse(content)[1])
    first_invoice = []
    for record in records[1:]:
        if record.type == "80":
            break
        if record.type == "50":
            first_invoice.append(int(record.text[87:99]))
    everything = sum(int(r.text[87:99]) for r in records if r.type == "50")
    (settlement,) = [c for _, c in answers if c[:6] == b"920900"]
    totals = _settlement(settlement)
    assert sum(int(r.zone("404")) for r in totals) == everything
    assert sum(int(r.zone("414")) for r in totals) == sum(first_invoice) > 0
    assert sum(int(r.zone("412")) for r in totals) == everything - sum(first_invoice)


def test_mediprima_files_get_the_forced_code_under_their_ecm_names(scenario: Running) -> None:
    _use(scenario, """
name: t
rules:
  - id: refuse
    match: {service: genasync, operation: post, message_name: [HCPFAC, ECM-HCPFAC]}
    action: {type: reject, code: "101420"}
""")  # fmt: skip
    # CAAMI's own checks (docs/rules.md) pass: a MediPrima file, the forced code is alone.
    answers = _flow(scenario, _file(scenario, mediprima=True), box="hcpfac_12")
    assert _outcome(answers) == (
        [("ECM-HCPFAC", "931000"), ("ECM-HCPVWR", "920099")], "01", {1: [("B", "101420")]}, None,
    )  # fmt: skip


# -- chaos: late and lost answers ----------------------------------------------------------------

# The shipped chaos scenario's two eFact rules, each alone and with probability 1.
LATE = """
name: t
rules:
  - id: efact-answer-late
    match: {service: genasync, operation: post, message_name: [HCPFAC, ECM-HCPFAC], probability: 1}
    action: {type: delay_message, seconds: 3600}
"""
LOST = """
name: t
rules:
  - id: efact-answer-lost
    match: {service: genasync, operation: post, message_name: [HCPFAC, ECM-HCPFAC], probability: 1}
    action: {type: withhold_message}
"""


def test_the_chaos_rules_are_the_ones_tested_here() -> None:
    """LATE and LOST are the shipped chaos scenario's eFact rules with probability 1."""
    shipped = {rule.id: rule for rule in load_shipped("chaos").rules}
    ours = {rule.id: rule for text in (LATE, LOST) for rule in load_scenario(text).rules}
    for rule_id in ("efact-answer-late", "efact-answer-lost"):
        assert ours[rule_id].action == shipped[rule_id].action
        assert ours[rule_id].match == replace(shipped[rule_id].match, probability=1.0)


def _reference(running: Running, content: bytes) -> str:
    (reference,) = [
        str(p["reference"])
        for p in mailbox.posted(running.sim, "hcpfac")
        if mailbox.posted_file(running.sim, "hcpfac", str(p["reference"])).read() == content
    ]
    return reference


def test_efact_answer_late_delivers_every_answer_an_hour_later(scenario: Running) -> None:
    _use(scenario, LATE)
    content = _file(scenario)
    run(_post(scenario, content))
    steps = run(_after(scenario, 2, 8, 21, 3600 - 31 - 1))
    assert steps == [[], [], [], []]  # 3599 s after the post: nothing yet
    steps = run(_after(scenario, 3, 9, 20))  # at 3602 s, 3611 s and 3631 s
    assert [_types(s) for s in steps] == [
        [("HCPFAC", "931000")], [("HCPFAC", "920098")], [("HCPAFD", "920900")],
    ]  # fmt: skip
    state = processing.file_state(scenario.sim, "hcpfac", _reference(scenario, content))
    assert state is not None and state["scenario"] == {
        "rule": "efact-answer-late", "delay_seconds": 3600.0, "withheld": False,
        "reject_code": None,
    }  # fmt: skip


def test_efact_answer_lost_processes_the_file_but_never_delivers(scenario: Running) -> None:
    _use(scenario, LOST)
    number = next(_sending_numbers)
    content = _file(scenario, sending_number=number)
    run(_post(scenario, content))
    assert run(_after(scenario, 2, 8, 21, 7200)) == [[], [], [], []]
    sim = scenario.sim
    state = processing.file_state(sim, "hcpfac", _reference(scenario, content))
    assert state is not None and state["step"] == "settled"
    assert state["scenario"]["withheld"] is True
    assert [(h["message"], h.get("withheld")) for h in state["history"]] == [
        ("931000", True), ("920098", True), ("920900", True),
    ]  # fmt: skip
    assert not list(sim.records.find(processing.OPEN, prefix="hcpfac/", limit=10))
    assert processing.advance(sim, "hcpfac") == 0  # done with it: nothing left to loop on
    # The insurer did receive it: the same sending number again is a duplicate (100721).
    _use(scenario, "name: t\nrules: []\n")
    again = _file(scenario, sending_number=number)
    assert _outcome(_flow(scenario, again)) == (
        [("HCPFAC", "931000"), ("HCPVWR", "920099")], "01", {1: [("B", "100721")]}, None,
    )  # fmt: skip


# -- faults -----------------------------------------------------------------------------------


def test_a_soap_fault_rule_on_post_leaves_nothing_stored(scenario: Running) -> None:
    _use(scenario, """
name: t
rules:
  - id: down
    match: {service: genasync, operation: post, nth: 1}
    action: {type: soap_fault, code: SOA-02002}
""")  # fmt: skip
    before = len(mailbox.posted(scenario.sim, "hcpfac"))
    with pytest.raises(GenAsyncFaultError) as caught:
        run(_post(scenario, _file(scenario)))
    fault = caught.value.fault
    assert fault is not None and [d.code for d in fault.details] == ["SOA-02002"]
    assert len(mailbox.posted(scenario.sim, "hcpfac")) == before
    run(_post(scenario, _file(scenario)))  # the second post is not matched: kept
    assert len(mailbox.posted(scenario.sim, "hcpfac")) == before + 1


def test_a_rejection_that_no_flat_file_can_carry_is_a_fault_before_anything_is_kept(
    scenario: Running,
) -> None:
    _use(scenario, """
name: t
rules:
  - id: etar-code
    match: {service: genasync, operation: post, nth: 1}
    action: {type: reject, catalogue: etar, code: "120"}
""")  # fmt: skip
    before = len(mailbox.posted(scenario.sim, "hcpfac"))
    with pytest.raises(GenAsyncFaultError) as caught:
        run(_post(scenario, _file(scenario)))
    fault = caught.value.fault
    assert fault is not None and [d.code for d in fault.details] == ["120"]
    assert len(mailbox.posted(scenario.sim, "hcpfac")) == before


# -- durability -------------------------------------------------------------------------------


def test_what_a_rule_did_to_a_file_survives_a_restart(tmp_path: Path) -> None:
    """The delay and the forced code are in the file's stored state: a simulator started again
    on the same data dir (its scenario and counters fresh) still answers as the rule said."""
    settings = Settings(data_dir=tmp_path, patients=600, providers=80, no_delay=True)
    sim = Simulator.create(settings)
    out = io.BytesIO()
    generate(out, sim.population, Spec(invoices=3, today=sim.clock.today(), insurer="300"))
    sender = sim.population.providers_of_kind("GP")[0].nihii  # the generator's third party
    common = codec.CommonInput(is_test=True, origin=codec.Origin(None, "", ""))
    request = codec.PostRequest(common, codec.Blob(out.getvalue(), "HCPFAC"), None)
    mailbox.keep_post(sim, "hcpfac", "r1", sender, "300", request)
    effect = processing.ScenarioEffect("late-and-refused", 3600, reject_code="500742")
    processing.received(sim, "hcpfac", "r1", effect)
    sim.close()

    again = Simulator.create(settings)
    try:
        again.clock.advance(timedelta(seconds=3599))
        assert processing.advance(again, "hcpfac") == 0
        again.clock.advance(timedelta(seconds=32))
        assert processing.advance(again, "hcpfac") == 3
        answers = [
            (str(m.document["message_name"]), mailbox.message_of(again, m).detail.content)
            for m in mailbox.waiting_messages(again, "hcpfac", sender)
        ]
        assert _outcome(answers) == (
            [("HCPFAC", "931000"), ("HCPFAC", "920098"), ("HCPAFD", "920900")], "00",
            {3: [("R", "500742")]}, {3: [("R", "500742")]},
        )  # fmt: skip
    finally:
        again.close()
