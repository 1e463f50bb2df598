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

Due steps run lazily when a provider calls `get` (`advance`). The state lives in `sim.records`:
each step is committed with the message it delivered, and a delivery interrupted by a crash is
recognised on restart (its hash is noted before delivering), so nothing is lost or sent twice.
A post whose content cannot be split into 920000 records is kept as `unreadable`, unanswered.
"""

from __future__ import annotations

import base64
import io
import logging
import math
import os
import weakref
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from simulator.clock import BRUSSELS
from simulator.codecs.blob import hash_value
from simulator.domain import efact_processing as efact_rules
from simulator.efact import writer
from simulator.efact.checks import CheckOptions, check_file
from simulator.efact.errors import Rejection, rejection
from simulator.efact.layout import RECORD_LENGTH, SEGMENT200_LENGTH
from simulator.efact.parser import EfactFormatError, Record, parse
from simulator.runtime import Simulator
from simulator.services import mailbox as boxes

FILES = "efact-file"  # one state document per posted file: <mailbox>/<post reference>
OPEN = "efact-open"  # files with steps still to come: <mailbox>/<received ns>-<reference>
HISTORY = "efact-history"  # accepted files: <insurer>/<third party>/<received ns>-<reference>
PREFIXES = {"hcpfac": "", "hcpfac_12": "ECM-"}  # mailboxes the insurer processes
ENVIRONMENT = "MYCARENET_EFACT_DELAYS"
_SCAN = 1_000_000
_LOG = logging.getLogger(__name__)
_SEGMENTS = SEGMENT200_LENGTH + 160  # segment 200 + segment 300 of a 920000


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
    if effect is not None:
        state["scenario"] = {
            "rule": effect.rule,
            "delay_seconds": 0.0 if effect.withheld else effect.delay_seconds,
            "withheld": effect.withheld,
            "reject_code": effect.reject_code,
        }
    problem = _unreadable(base64.b64decode(str(posted["content"])))
    if problem:
        state.update(step="unreadable", problem=problem)
    if not sim.records.insert(FILES, _file_key(state), state):
        return  # already scheduled
    if not problem:
        sim.records.put(OPEN, _open_key(state), _pointer(state))


def _unreadable(content: bytes) -> str:
    """Why `content` is not a 920000 that splits into records; "" when it is."""
    if not content.startswith(b"920000"):
        return f"message type {content[:6]!r} is not 920000"
    if len(content) < _SEGMENTS or (len(content) - _SEGMENTS) % RECORD_LENGTH:
        return (
            f"{len(content)} bytes: not segments 200 + 300 ({_SEGMENTS}) "
            f"plus whole records of {RECORD_LENGTH}"
        )
    return ""


# -- advancing --------------------------------------------------------------------------------


def advance(sim: Simulator, mailbox: str) -> int:
    """Deliver every answer of `mailbox` that is due on the clock; returns how many."""
    if mailbox not in PREFIXES:
        return 0
    now = sim.clock.now()
    delivered = 0
    for key, pointer in sim.records.find(OPEN, prefix=f"{mailbox}/", limit=_SCAN):
        if "next" in pointer and datetime.fromisoformat(str(pointer["next"])) > now:
            continue  # nothing due: skip reading the (possibly large) state document
        state = sim.records.get(FILES, str(pointer["file"]))
        if state is None:
            sim.records.delete(OPEN, key)
            continue
        try:
            delivered += _run(sim, state, now)
        except Exception as error:  # one broken file must not block the whole mailbox
            _LOG.exception("eFact processing of %s failed", pointer["file"])
            state.update(step="failed", problem=f"{type(error).__name__}: {error}")
            sim.records.put(FILES, _file_key(state), state)
        if state["step"] in ("settled", "rejected", "unreadable", "failed"):
            sim.records.delete(OPEN, key)
        elif _pointer(state) != pointer:
            sim.records.put(OPEN, key, _pointer(state))
    return delivered


_NEXT = {"received": "receipt", "receipt": "check", "checked": "settle"}


def _pointer(state: dict[str, Any]) -> dict[str, Any]:
    """The open-file entry: the state's key and when its next step is due."""
    pointer: dict[str, Any] = {"file": _file_key(state)}
    step = _NEXT.get(str(state["step"]))
    if step is not None:
        pointer["next"] = state["due"][step]
    return pointer


def _due(state: dict[str, Any], step: str, now: datetime) -> datetime | None:
    at = datetime.fromisoformat(str(state["due"][step]))
    return at if at <= now else None


def _run(sim: Simulator, state: dict[str, Any], now: datetime) -> int:
    """Take every step of one file that is due at `now`, in order."""
    delivered = 0
    if state["step"] == "received" and _due(state, "receipt", now):
        header, _ = parse(_content(sim, state))
        out = io.BytesIO()
        writer.write_receipt(out, header)
        delivered += _deliver(sim, state, "HCPFAC", out.getvalue(), "receipt")
    at = _due(state, "check", now)
    if state["step"] == "receipt" and at is not None:
        delivered += _check(sim, state, at)
    at = _due(state, "settle", now)
    if state["step"] == "checked" and at is not None:
        delivered += _settle(sim, state, at)
    return delivered


def _check(sim: Simulator, state: dict[str, Any], at: datetime) -> int:
    content = _content(sim, state)
    if "decision" not in state:  # not decided before a crash: decide now, once
        try:
            decision = _decide(sim, state, at.astimezone(BRUSSELS).date(), content)
        except EfactFormatError as error:
            state.update(step="unreadable", problem=str(error))
            sim.records.put(FILES, _file_key(state), state)
            return 0
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
    header, records = parse(content)
    out = io.BytesIO()
    writer.write_rejections(out, header, records, _rejections(state), whole_file=not accepted)
    name = "HCPFAC" if accepted else "HCPVWR"
    return _deliver(sim, state, name, out.getvalue(), "checked" if accepted else "rejected")


def _decide(
    sim: Simulator, state: dict[str, Any], today: date, content: bytes
) -> efact_rules.Decision:
    config = config_of(sim)
    options = CheckOptions(
        today=today,
        population=sim.population if config.check_population else None,
        max_age_months=config.max_age_months if config.max_age_months is not None else 1200,
    )
    checked = check_file(content, options)  # chunked: no Record object per record
    # Record types in file order: `received` made sure the content is whole 350-char records.
    kinds = [
        content[start : start + 2].decode("latin-1")
        for start in range(_SEGMENTS, len(content), RECORD_LENGTH)
    ]
    facts: efact_rules.FileFacts | None = None
    if kinds and kinds[0] == "10":
        first = content[_SEGMENTS : _SEGMENTS + RECORD_LENGTH].decode("latin-1")
        facts = efact_rules.file_facts(Record(1, "10", first))
    received_on = datetime.fromisoformat(str(state["received_at"])).astimezone(BRUSSELS).date()
    prior = _prior(sim, state, facts) if facts is not None else []
    known = facts is None or not config.check_population or _knows(sim, state, facts)
    code = state.get("scenario", {}).get("reject_code")
    force = efact_rules.forced(kinds, str(code)) if code else None
    return efact_rules.decide(
        kinds, checked, facts, received_on, prior, config.rules,
        third_party_known=known, force=force,
    )  # fmt: skip


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
    content = _content(sim, state)
    header, records = parse(content)
    settlement = efact_rules.settle(records, found, today, config_of(sim).rules)
    state["settlement"] = {
        "requested": settlement.requested,
        "accepted": settlement.accepted,
        "rejected": settlement.rejected,
        "payment_date": settlement.payment_date.isoformat(),
    }
    header, records = parse(content)
    out = io.BytesIO()
    writer.write_settlement(out, header, records, found, payment_date=settlement.payment_date)
    return _deliver(sim, state, "HCPAFD", out.getvalue(), "settled")


# -- delivering once --------------------------------------------------------------------------


def _deliver(sim: Simulator, state: dict[str, Any], name: str, content: bytes, step: str) -> int:
    """Deliver `content` and move to `step`. The hash is committed first: if we crash after
    delivering but before the step is saved, the restart finds the message and skips it."""
    digest = hash_value(content)
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
        boxes.deliver(
            sim,
            mailbox,
            recipient,
            PREFIXES[mailbox] + name,
            content,
            issuer_io=str(state["insurer"]),
            input_reference=state.get("input_reference"),
        )
    state.pop("sending", None)
    state["step"] = step
    entry: dict[str, Any] = {
        "step": step,
        "message": content[:6].decode("ascii"),
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


def _content(sim: Simulator, state: dict[str, Any]) -> bytes:
    posted = sim.records.get(boxes.POSTED, f"{state['mailbox']}/{state['reference']}")
    if posted is None:
        raise KeyError(f"posted file {state['reference']} is missing from the store")
    return base64.b64decode(str(posted["content"]))


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
    "advance",
    "config_of",
    "configure",
    "file_state",
    "processes",
    "received",
]
