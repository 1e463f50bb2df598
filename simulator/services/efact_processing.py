"""The insurer's processing of a posted 920000, as a state machine per file on the simulator clock.

    received --(receipt_after)--> receipt: 931000 delivered (HCPFAC)
             --(check_after)----> checked: 920098 (HCPFAC) or 920099 (HCPVWR) delivered
             --(settle_after)---> settled: 920900 (HCPAFD) delivered, accepted files only

Delays count from the post, on `sim.clock`: advancing the clock makes the steps due at once.
Defaults 2 s / 10 s / 30 s; `configure(sim, ...)` or MYCARENET_EFACT_DELAYS="2,10,30" (seconds)
change them. MediPrima (hcpfac_12) gets the same answers named ECM-HCPFAC/HCPVWR/HCPAFD.

A scenario rule that fired on the post (read by GenAsync post, kept in the state so that it
survives a restart) may delay every answer of the file (`delay_seconds`), withhold them (the
insurer processes the file, no answer ever reaches the mailbox) or force a rejection code,
placed by `domain.efact_processing.forced` and judged like any other finding.

Each open file is a job in the store (the OPEN pointer: when its next step is due, and for
whom): `services/efact_jobs.py` claims the due ones and calls `step` off the event loop, in
whichever process takes them; `advance` runs them in the caller (tools, tests). The state
lives in `sim.records`: each step is committed with the message it delivered, and a delivery
interrupted by a crash is recognised on restart (its hash is noted before delivering), so
nothing is lost or sent twice.

Every posted file is answered. Whatever was posted is read as a 920000 (`parser.frame`: zone
200 forced, a short last record padded) and what that took is a blocking finding, as are
unknown record types and characters outside printable ASCII (`checks`); answers echo such
characters as "?". If processing a file raises anyway, the file still gets a 920099 with the
generic code 100099 (after a 931000 if it had none yet), the exception is logged once, and
the file leaves the open list: never silence, never a retry loop.
"""

from __future__ import annotations

import dataclasses
import io
import logging
import math
import os
import weakref
from collections import Counter, defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from simulator.clock import BRUSSELS
from simulator.domain import efact_processing as efact_rules
from simulator.domain.cpas import MEDIPRIMA_PAYMENT_DAYS
from simulator.domain.ledger_rules import Channel, LedgerService, history_scope
from simulator.domain.mediprima_invoicing import MediprimaInvoices
from simulator.efact import writer
from simulator.efact.checks import CheckOptions, check_file, framing_rejections
from simulator.efact.errors import PROCESSING_FAILED, Rejection, rejection
from simulator.efact.layout import RECORD_LENGTH, SEGMENT200_LENGTH
from simulator.efact.parser import (
    Framed,
    Record,
    RecordKinds,
    frame_source,
    parse,
    read_header,
)
from simulator.runtime import Simulator
from simulator.services import mailbox as boxes
from simulator.services import tarification
from simulator.services.mailbox_contents import Answer, PostedFile
from simulator.services.mediprima import stored_attestations
from simulator.store.due_jobs import due as is_due

FILES = "efact-file"  # one state document per posted file: <mailbox>/<post reference>
OPEN = "efact-open"  # files with steps still to come: <mailbox>/<received ns>-<reference>
HISTORY = "efact-history"  # accepted files: <insurer>/<third party>/<received ns>-<reference>
PREFIXES = {"hcpfac": "", "hcpfac_12": "ECM-"}  # mailboxes the insurer processes
MEDIPRIMA_MAILBOX = "hcpfac_12"  # CAAMI, federation 690
ENVIRONMENT = "MYCARENET_EFACT_DELAYS"
_SCAN = 1_000_000
_LOG = logging.getLogger(__name__)
_SEGMENTS = SEGMENT200_LENGTH + 160  # segment 200 + segment 300 of a 920000
_ANSWER_BUFFER = 1 << 16


@dataclass(frozen=True)
class ProcessingConfig:
    receipt_after: timedelta = timedelta(seconds=2)  # 931000
    check_after: timedelta = timedelta(seconds=10)  # 920098 / 920099
    settle_after: timedelta = timedelta(seconds=30)  # 920900
    check_population: bool = True  # False: CIN files, whose patients are not in the world
    max_age_months: int | None = 2  # None: no two-month window (replaying old CIN files)
    rules: efact_rules.Rules = field(default_factory=efact_rules.Rules)

    @classmethod
    def from_environment(cls) -> ProcessingConfig:
        raw = os.environ.get(ENVIRONMENT, "").strip()
        if not raw:
            return cls()
        try:
            receipt, check, settle = (timedelta(seconds=float(v)) for v in raw.split(","))
        except ValueError:
            raise ValueError(
                f"{ENVIRONMENT}={raw!r}: expected three delays in seconds, e.g. 2,10,30"
            ) from None
        return cls(receipt_after=receipt, check_after=check, settle_after=settle)


# Keyed on the simulator's records (a Simulator dataclass is not hashable): one per simulator.
_CONFIGS: weakref.WeakKeyDictionary[object, ProcessingConfig] = weakref.WeakKeyDictionary()


def configure(sim: Simulator, config: ProcessingConfig) -> None:
    _CONFIGS[sim.records] = config


def config_of(sim: Simulator) -> ProcessingConfig:
    config = _CONFIGS.get(sim.records)
    if config is None:
        config = _CONFIGS[sim.records] = ProcessingConfig.from_environment()
    return config


# -- receiving --------------------------------------------------------------------------------


@dataclass(frozen=True)
class ScenarioEffect:
    """What a scenario rule does to one posted file's answers."""

    rule: str  # the rule's id, for the state and the admin API
    delay_seconds: float = 0.0  # every answer comes this much later; inf = never delivered
    reject_code: str | None = None  # an eFact catalogue code to find in the file

    @property
    def withheld(self) -> bool:
        return math.isinf(self.delay_seconds)


def processes(mailbox: str) -> bool:
    """Whether the insurer answers what is posted to `mailbox` (eFact and MediPrima files)."""
    return mailbox in PREFIXES


def received(
    sim: Simulator, mailbox: str, reference: str, effect: ScenarioEffect | None = None
) -> None:
    """A 920000 was posted (kept by `mailbox.keep_post`): schedule the insurer's answers."""
    if mailbox not in PREFIXES:
        return
    posted = sim.records.get(boxes.POSTED, f"{mailbox}/{reference}")
    if posted is None:
        raise KeyError(f"no posted message {reference!r} in {mailbox}")
    config = config_of(sim)
    late = timedelta(0)
    if effect is not None and not effect.withheld:
        late = timedelta(seconds=effect.delay_seconds)
    at = datetime.fromisoformat(str(posted["received_at"])) + late
    state: dict[str, Any] = {
        "mailbox": mailbox,
        "reference": reference,
        "sender": posted["sender_nihii"],
        "insurer": posted["destination_io"],
        "input_reference": posted.get("input_reference"),
        "received_at": str(posted["received_at"]),
        "step": "received",
        "due": {
            "receipt": (at + config.receipt_after).isoformat(),
            "check": (at + max(config.receipt_after, config.check_after)).isoformat(),
            "settle": (at + max(config.check_after, config.settle_after)).isoformat(),
        },
    }
    # The insurer's two-month rule as the scenario running at the post says (docs/rules.md).
    state["two_month_rule"] = sim.scenarios.scenario.efact_two_month_rule
    if effect is not None:
        state["scenario"] = {
            "rule": effect.rule,
            "delay_seconds": 0.0 if effect.withheld else effect.delay_seconds,
            "withheld": effect.withheld,
            "reject_code": effect.reject_code,
        }
    if not sim.records.insert(FILES, _file_key(state), state):
        return  # already scheduled
    # Whatever the content, it is answered: what is not a 920000 of whole records is found
    # by the checks (`parser.frame`, `checks.framing_rejections`), not dropped here.
    sim.records.put(OPEN, _open_key(state), _pointer(state))


# -- advancing --------------------------------------------------------------------------------


def advance(sim: Simulator, mailbox: str) -> int:
    """Deliver every answer of `mailbox` that is due on the clock, in the caller; returns how
    many. (A server does this off the event loop: `services/efact_jobs.py`.)"""
    if mailbox not in PREFIXES:
        return 0
    now = sim.clock.now()
    delivered = 0
    for key, pointer in sim.records.find(OPEN, prefix=f"{mailbox}/", limit=_SCAN):
        if not is_due(pointer, now):
            continue  # nothing due: skip reading the (possibly large) state document
        done = step(sim, pointer, now)
        delivered += done.delivered
        if done.pointer is None:
            sim.records.delete(OPEN, key)
        elif done.pointer != pointer:
            sim.records.put(OPEN, key, done.pointer)
    return delivered


@dataclass(frozen=True)
class Step:
    """What `step` did to one file: messages delivered, and its OPEN pointer from now on
    (None: nothing left to do, the pointer is to be deleted)."""

    delivered: int
    pointer: dict[str, Any] | None


def step(sim: Simulator, pointer: dict[str, Any], now: datetime) -> Step:
    """Take every step of the open file `pointer` names that is due at `now`, in order. Its
    OPEN pointer is left to the caller (the job queue holds it while this runs)."""
    state = sim.records.get(FILES, str(pointer["file"]))
    if state is None:
        return Step(0, None)
    try:
        delivered = _run(sim, state, now)
    except Exception as error:  # one broken file must not block the whole mailbox
        delivered = _fail(sim, state, error)
    if state["step"] in ("settled", "rejected", "unreadable", "failed"):
        return Step(delivered, None)
    return Step(delivered, _pointer(state))


_NEXT = {"received": "receipt", "receipt": "check", "checked": "settle"}


def _pointer(state: dict[str, Any]) -> dict[str, Any]:
    """The open-file entry: the state's key, whose answers they are, and when its next step
    is due."""
    pointer: dict[str, Any] = {"file": _file_key(state), "sender": state["sender"]}
    step = _NEXT.get(str(state["step"]))
    if step is not None:
        pointer["next"] = state["due"][step]
    return pointer


def _due(state: dict[str, Any], step: str, now: datetime) -> datetime | None:
    at = datetime.fromisoformat(str(state["due"][step]))
    return at if at <= now else None


def _fail(sim: Simulator, state: dict[str, Any], error: Exception) -> int:
    """The safety net: processing `state`'s file raised. Log it once (the file then leaves the
    open list), and answer: a file not yet checked gets a 920099 with 100099 (and first its
    931000 if it had none); a file already answered 920098 whose settlement failed keeps that
    answer. Returns how many messages were delivered."""
    where = _file_key(state)
    _LOG.exception("eFact processing of %s failed at step %s", where, state.get("step"))
    state["problem"] = f"{type(error).__name__}: {error}"
    delivered = 0
    try:
        if state["step"] in ("received", "receipt"):
            posted = _posted(sim, state)
            if state["step"] == "received":
                with posted.open() as source:
                    head = source.read(_SEGMENTS)
                with _answer(sim) as out:
                    writer.write_bare_receipt(out, head)
                delivered += _deliver(sim, state, "HCPFAC", out, "receipt")
            failure = rejection(PROCESSING_FAILED, 1, "10", "0", detail=state["problem"][:200])
            state["decision"] = {
                "verdict": efact_rules.REJECTED,
                "rejection_type": efact_rules.BLOCKING,
                "percentage": "10000",
                "records": max(0, (posted.size - _SEGMENTS) // RECORD_LENGTH),
                "records_in_error": 1,
            }
            state["rejections"] = [_dump(failure)]
            with posted.open() as source, _answer(sim) as out:
                writer.write_failure(out, source, failure)
            delivered += _deliver(sim, state, "HCPVWR", out, "rejected")
        else:
            state["step"] = "failed"
            sim.records.put(FILES, where, state)
    except Exception:
        _LOG.exception("eFact processing of %s: the 920099 could not be delivered", where)
        state["step"] = "failed"
        try:
            sim.records.put(FILES, where, state)
        except Exception:
            _LOG.exception("eFact processing of %s: its state could not be saved", where)
    return delivered


def _framed(sim: Simulator, state: dict[str, Any]) -> Framed:
    """The posted file as a 920000 of whole records (`frame_source`), read from the store a
    part at a time; `open(printable=True)` is what the answers and the settlement read."""
    posted = _posted(sim, state)
    return frame_source(posted.open, posted.size)


def _run(sim: Simulator, state: dict[str, Any], now: datetime) -> int:
    """Take every step of one file that is due at `now`, in order."""
    delivered = 0
    if state["step"] == "received" and _due(state, "receipt", now):
        with _framed(sim, state).open(printable=True) as stream:
            header = read_header(stream)
        with _answer(sim) as out:
            writer.write_receipt(out, header)
        delivered += _deliver(sim, state, "HCPFAC", out, "receipt")
    at = _due(state, "check", now)
    if state["step"] == "receipt" and at is not None:
        delivered += _check(sim, state, at)
    at = _due(state, "settle", now)
    if state["step"] == "checked" and at is not None:
        delivered += _settle(sim, state, at)
    return delivered


def _check(sim: Simulator, state: dict[str, Any], at: datetime) -> int:
    framed = _framed(sim, state)
    billed = _billed(state, framed)  # for the decision and the ledger: one pass, not two
    if "decision" not in state:  # not decided before a crash: decide now, once
        decision = _decide(sim, state, at.astimezone(BRUSSELS).date(), framed, billed)
        state["decision"] = {
            "verdict": decision.verdict,
            "rejection_type": decision.rejection_type,
            "percentage": decision.percentage,
            "records": decision.records,
            "records_in_error": decision.records_in_error,
        }
        state["rejections"] = [_dump(r) for r in decision.rejections]
        sim.records.put(FILES, _file_key(state), state)
    accepted = state["decision"]["verdict"] == efact_rules.ACCEPTED
    if accepted:
        _remember(sim, state)
        # Only the services paid go in the ledger, for later files and eAttests to see them
        # (again after a crash: the same source and line replace themselves).
        paid = efact_rules.paid_services(billed, _rejections(state))
        if paid:
            with sim.records.deferred() as batch:  # one transaction, not three per service
                sim.ledger.record(paid)
            sim.records.commit(batch)
    # The answer goes to the store as it is written, record by record (`mailbox_contents.Answer`).
    with framed.open(printable=True) as stream, _answer(sim) as out:
        header, records = parse(stream)
        writer.write_rejections(
            out, header, records, _rejections(state), whole_file=not accepted,
            total=framed.records,
        )  # fmt: skip
    name = "HCPFAC" if accepted else "HCPVWR"
    return _deliver(sim, state, name, out, "checked" if accepted else "rejected")


def _decide(
    sim: Simulator,
    state: dict[str, Any],
    today: date,
    framed: Framed,
    billed: list[efact_rules.Billed],
) -> efact_rules.Decision:
    """`framed` is what was posted: as it is for the checks (invalid bytes included, for them
    to find), in printable ASCII for everything else; `billed` its services (`_billed`)."""
    config = config_of(sim)
    # The world of the processing day; MediPrima files get CAAMI's rules (docs/rules.md).
    population = sim.population_on(today) if config.check_population else None
    mediprima = None
    if population is not None and state["mailbox"] == MEDIPRIMA_MAILBOX:
        mediprima = MediprimaInvoices(population, lambda ssin: stored_attestations(sim, ssin))
    insurer = str(state["insurer"])
    options = CheckOptions(
        today=today,
        population=population,
        max_age_months=config.max_age_months if config.max_age_months is not None else 1200,
        mediprima=mediprima,
        insurer=insurer if population is not None and mediprima is None else None,
        # eTar's commitments are the insurer's own: judged with its population (not for the
        # CIN files replayed without it, whose references came from the real acceptance).
        commitments=(
            (lambda number: tarification.commitment(sim, number))
            if population is not None else None
        ),
        two_month_rule=str(state.get("two_month_rule", "fine")),
    )
    # chunked: no Record object per record
    with framed.open() as stream:
        checked = framing_rejections(framed) + check_file(stream, options)
    links = efact_rules.supplement_links(billed)
    if state["mailbox"] != MEDIPRIMA_MAILBOX:  # CAAMI's own rules judge MediPrima files
        # The patient's history at this insurer: other files, eAttests (docs/rules.md).
        # Only what the rules read of it (`history_scope`): a file's judging stays flat
        # however many files the patients already had.
        services: dict[str, list[LedgerService]] = defaultdict(list)
        for item in billed:
            services[item.service.patient].append(item.service)
        scopes = {ssin: history_scope(billed_here) for ssin, billed_here in services.items()}
        history = sim.ledger.history(insurer, scopes)
        rejected = {r.index for r in checked if r.letter in efact_rules.REJECTING}
        checked += efact_rules.ledger_findings(billed, history, rejected)
    # Record types in file order: `frame` made the content whole 350-char records.
    kinds = RecordKinds.of(framed)
    facts: efact_rules.FileFacts | None = None
    if kinds and kinds[0] == "10":
        with framed.open(printable=True) as stream:
            stream.seek(_SEGMENTS)
            first = stream.read(RECORD_LENGTH).decode("latin-1")
        facts = efact_rules.file_facts(Record(1, "10", first))
    received_on = datetime.fromisoformat(str(state["received_at"])).astimezone(BRUSSELS).date()
    prior = _prior(sim, state, facts) if facts is not None else []
    known = facts is None or not config.check_population or _knows(sim, state, facts)
    code = state.get("scenario", {}).get("reject_code")
    force = efact_rules.forced(kinds, str(code), links=links) if code else None
    return efact_rules.decide(
        kinds, checked, facts, received_on, prior, config.rules,
        third_party_known=known, force=force, links=links,
    )  # fmt: skip


def _counting(records: Iterable[Record], kinds: Counter[str]) -> Iterator[Record]:
    """`records`, each one's type counted in `kinds` on the way (one pass for two uses)."""
    for record in records:
        kinds[record.type] += 1
        yield record


def _billed(state: dict[str, Any], framed: Framed) -> list[efact_rules.Billed]:
    """The file's services as the ledger keeps them (insurer = the union it was posted to)."""
    channel = Channel.MEDIPRIMA if state["mailbox"] == MEDIPRIMA_MAILBOX else Channel.EFACT
    with framed.open(printable=True) as stream:
        _, records = parse(stream)
        return efact_rules.billed_services(
            records, str(state["insurer"]), str(state["reference"]), channel
        )


def _knows(sim: Simulator, state: dict[str, Any], facts: efact_rules.FileFacts) -> bool:
    """Whether the insurer knows the third party (R10 Z14): a provider or institution of the
    population, or the sender itself (any provider is served as a walk-in, as on eTar)."""
    nihii = facts.third_party[1:]
    population = sim.population
    return (
        nihii == str(state["sender"])
        or population.provider(nihii) is not None
        or population.institution(nihii) is not None
    )


def _settle(sim: Simulator, state: dict[str, Any], at: datetime) -> int:
    today = at.astimezone(BRUSSELS).date()
    found = _rejections(state)
    framed = _framed(sim, state)
    rules = config_of(sim).rules
    if state["mailbox"] == MEDIPRIMA_MAILBOX:  # CAAMI pays MediPrima within a few days
        rules = dataclasses.replace(
            rules, payment_days=min(rules.payment_days, MEDIPRIMA_PAYMENT_DAYS)
        )
    kinds: Counter[str] = Counter()
    with framed.open(printable=True) as stream:
        settlement = efact_rules.settle(_counting(parse(stream)[1], kinds), found, today, rules)
    state["settlement"] = {
        "requested": settlement.requested,
        "accepted": settlement.accepted,
        "rejected": settlement.rejected,
        "payment_date": settlement.payment_date.isoformat(),
    }
    echoed = kinds.total() - kinds["95"] - kinds["96"]  # the 920900's zone 310: not echoed
    with framed.open(printable=True) as stream, _answer(sim) as out:
        header, records = parse(stream)
        writer.write_settlement(
            out, header, records, found, payment_date=settlement.payment_date, total=echoed
        )
    return _deliver(sim, state, "HCPAFD", out, "settled")


# -- delivering once --------------------------------------------------------------------------


def _answer(sim: Simulator) -> io.BufferedWriter:
    """Where an answer is written: into the store as it comes (`Answer`), in 64 KB
    writes rather than one per record."""
    return io.BufferedWriter(Answer(sim), buffer_size=_ANSWER_BUFFER)


def _deliver(
    sim: Simulator, state: dict[str, Any], name: str, out: io.BufferedWriter, step: str
) -> int:
    """Deliver the answer written to `out` (closed) and move to `step`. The hash is committed
    first: if we crash after delivering but before the step is saved, the restart finds the
    message and skips it (and forgets the answer written again)."""
    answer = out.raw
    assert isinstance(answer, Answer)
    digest = answer.hash_value
    mailbox, recipient = str(state["mailbox"]), str(state["sender"])
    withheld = bool(state.get("scenario", {}).get("withheld"))
    already = withheld or (
        state.get("sending") == digest
        and any(
            stored.document.get("hash") == digest
            for stored in boxes.waiting_messages(sim, mailbox, recipient)
        )
    )
    if not already:
        state["sending"] = digest
        sim.records.put(FILES, _file_key(state), state)
        boxes.deliver_answer(
            sim,
            mailbox,
            recipient,
            PREFIXES[mailbox] + name,
            answer,
            issuer_io=str(state["insurer"]),
            input_reference=state.get("input_reference"),
        )
    else:
        answer.forget()
    state.pop("sending", None)
    state["step"] = step
    entry: dict[str, Any] = {
        "step": step,
        "message": answer.head.decode("ascii"),
        "at": sim.clock.now().isoformat(),
    }
    if withheld:
        entry["withheld"] = True  # processed, never delivered
    state.setdefault("history", []).append(entry)
    sim.records.put(FILES, _file_key(state), state)
    return 0 if already else 1


# -- what the insurer already received --------------------------------------------------------


def _remember(sim: Simulator, state: dict[str, Any]) -> None:
    facts = state.get("facts")
    if not isinstance(facts, dict):
        return
    sim.records.put(
        HISTORY, f"{_history_prefix(state, str(facts['third_party']))}{_open_key(state)}", facts
    )


def _prior(
    sim: Simulator, state: dict[str, Any], facts: efact_rules.FileFacts
) -> list[efact_rules.PriorFile]:
    """Accepted files of the same third party at this insurer; notes this file's facts."""
    received_on = datetime.fromisoformat(str(state["received_at"])).astimezone(BRUSSELS).date()
    state["facts"] = {
        "third_party": facts.third_party,
        "sending_number": facts.sending_number,
        "content": facts.content,
        "received_on": received_on.isoformat(),
        "reference": state["reference"],
    }
    found = sim.records.find(HISTORY, prefix=_history_prefix(state, facts.third_party), limit=_SCAN)
    return [
        efact_rules.PriorFile(
            date.fromisoformat(str(doc["received_on"])),
            str(doc["sending_number"]),
            str(doc["content"]),
        )
        for _, doc in found
        if doc.get("reference") != state["reference"]
    ]


def _history_prefix(state: dict[str, Any], third_party: str) -> str:
    return f"{state['insurer']}/{third_party}/"


# -- helpers ----------------------------------------------------------------------------------


def _posted(sim: Simulator, state: dict[str, Any]) -> PostedFile:
    return boxes.posted_file(sim, str(state["mailbox"]), str(state["reference"]))


def _dump(item: Rejection) -> dict[str, Any]:
    return {
        "index": item.index,
        "record_type": item.record_type,
        "zone": item.zone,
        "code": item.code,
        "letter": item.letter,
        "detail": item.detail,
    }


def _rejections(state: dict[str, Any]) -> list[Rejection]:
    found = []
    for doc in state.get("rejections", []):
        item = rejection(
            str(doc["code"]),
            int(doc["index"]),
            str(doc["record_type"]),
            str(doc["zone"]),
            detail=str(doc["detail"]),
            letter=str(doc["letter"]),
        )
        found.append(item)
    return found


def _file_key(state: dict[str, Any]) -> str:
    return f"{state['mailbox']}/{state['reference']}"


def _open_key(state: dict[str, Any]) -> str:
    at = datetime.fromisoformat(str(state["received_at"]))
    return f"{state['mailbox']}/{int(at.timestamp() * 1_000_000):020d}-{state['reference']}"


def file_state(sim: Simulator, mailbox: str, reference: str) -> dict[str, Any] | None:
    """The processing state of a posted file (for tests and the admin API)."""
    return sim.records.get(FILES, f"{mailbox}/{reference}")


__all__ = [
    "ENVIRONMENT",
    "ProcessingConfig",
    "ScenarioEffect",
    "Step",
    "advance",
    "config_of",
    "configure",
    "file_state",
    "is_due",
    "processes",
    "received",
    "step",
]
