"""Which posted files still wait for an answer, and how long the answers took.

A file's GenAsync input reference carries the instant its post started
(`LT<slot>-<sequence>-<epoch ms>`); the insurer echoes the reference on every answer, so the
time to answer is measured by whoever receives it, on any worker (their clocks must agree:
same host, or NTP). Each answer is reported to locust as a sample named "time to <kind>"
(request type "eFact"), so the master's statistics hold the percentiles of the whole run.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass, field
from typing import Any, Protocol

from simulator.loadtests.summary import ANSWER_TYPE, answer_name

RECEIPT, ACCEPTED, REFUSED, SETTLED = "931000", "920098", "920099", "920900"
_REFERENCE = re.compile(r"LT(\d+)-(\d+)-(\d+)")


def reference(slot: int, sequence: int, posted_ms: int) -> str:
    return f"LT{slot}-{sequence}-{posted_ms}"


def posted_ms(reference: str | None) -> int | None:
    """The post instant (epoch ms) a reference carries; None when it is not one of ours."""
    found = _REFERENCE.fullmatch(reference or "")
    return int(found.group(3)) if found else None


class RequestEvent(Protocol):
    """locust's `events.request` (an EventHook): what answer times are reported to."""

    def fire(self, *, reverse: bool = False, **kwargs: Any) -> None: ...


@dataclass
class Waiting:
    """A posted file and the answers received for it."""

    records: int
    received: list[str] = field(default_factory=list)

    @property
    def done(self) -> bool:
        """Refused, or accepted and settled: nothing more will come."""
        return REFUSED in self.received or SETTLED in self.received


class Answers:
    """One user's files awaiting answers; `receive` returns what to count."""

    def __init__(self, request_event: RequestEvent) -> None:
        self.request_event = request_event
        self.waiting: dict[str, Waiting] = {}
        self.finished: set[str] = set()

    def posted(self, reference: str, records: int) -> None:
        self.waiting[reference] = Waiting(records)

    def receive(self, kind: str, reference: str | None, size: int) -> str | None:
        """Note an answer of `kind` for `reference`; returns a problem ("duplicate answers",
        "unexpected answers") or None."""
        waiting = self.waiting.get(reference or "")
        if waiting is None:
            return "duplicate answers" if reference in self.finished else "unexpected answers"
        if kind in waiting.received:
            return "duplicate answers"
        if kind in (ACCEPTED, REFUSED) and {ACCEPTED, REFUSED} & set(waiting.received):
            return "duplicate answers"
        waiting.received.append(kind)
        started = posted_ms(reference)
        if kind != RECEIPT and started is not None:
            self.request_event.fire(
                request_type=ANSWER_TYPE,
                name=answer_name(kind),
                response_time=max(0, int(time.time() * 1000) - started),
                response_length=size,
                exception=None,
                context={},
            )
        if waiting.done and reference is not None:
            del self.waiting[reference]
            self.finished.add(reference)
        return None

    @property
    def unanswered(self) -> int:
        """Files without their verdict (920098/920099) yet."""
        return sum(1 for w in self.waiting.values() if not {ACCEPTED, REFUSED} & set(w.received))
