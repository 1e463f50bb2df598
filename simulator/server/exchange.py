"""The flow object: one request as it passes through the named pipeline stages.

Every stage reads and enriches the exchange and notes what it did; the journal entry is
built from it at the end, whatever the outcome.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from cryptography import x509
from lxml import etree

from simulator.scenarios.engine import Decision
from simulator.services.registry import Operation
from simulator.soap.envelope import Envelope
from simulator.soap.faults import SoapFault


@dataclass
class Stage:
    name: str
    ms: float
    note: str = ""


@dataclass
class Caller:
    """Who signed the request, as far as the security stage could establish it."""

    ssin: str | None = None
    nihii: str | None = None
    subject: str | None = None
    certificate: x509.Certificate | None = None
    attributes: dict[str, tuple[str, ...]] = field(default_factory=dict)


@dataclass
class Exchange:
    path: str
    soap_action: str | None
    body: bytes
    received_at: datetime
    started: float = field(default_factory=time.perf_counter)
    envelope: Envelope | None = None
    operation: Operation | None = None
    caller: Caller = field(default_factory=Caller)
    security: dict[str, Any] = field(default_factory=dict)
    stages: list[Stage] = field(default_factory=list)
    # Filled by the service so the journal can be searched by provider and patient.
    provider_nihii: str | None = None
    patient_ssin: str | None = None
    business_code: str | None = None  # first business error code, when the answer is a rejection
    # More facts a scenario rule can match on, filled by the service when it knows them.
    codes: tuple[str, ...] = ()  # nomenclature codes the request is about
    insurer: str | None = None  # the patient's mutuality (found from patient_ssin when unset)
    message_name: str | None = None  # GenAsync MessageName
    # The scenario stage (server/overlay.py): its decision, taken once.
    decided: bool = False
    decision: Decision | None = None
    rejection_answered: bool = False  # the service put the forced rejection in its answer
    reset_connection: bool = False
    content_type: str = "text/xml"
    fault: SoapFault | None = None
    # Writes a service made but that must not exist unless the client gets this answer (a
    # GenAsync post: no TAck, no file). The pipeline runs them, in one transaction, once the
    # answer is produced and just before it is sent; a fault or a crash before leaves nothing.
    commit_on_answer: list[Callable[[], None]] = field(default_factory=list)
    response: bytes = b""
    http_status: int = 200
    # The business content inside a sealed (or plain) Detail, as the simulator read it from
    # the request and wrote it before sealing the answer: the journal keeps it, because the
    # answer is sealed for the requester and nobody else can open it afterwards.
    request_content: bytes | None = None
    response_content: bytes | None = None

    def note(self, name: str, since: float, note: str = "") -> float:
        """Record a finished stage; returns now so stages can chain their timings."""
        now = time.perf_counter()
        self.stages.append(Stage(name, round((now - since) * 1000, 3), note))
        return now

    @property
    def payload(self) -> etree._Element:
        if self.envelope is None:
            raise RuntimeError("the envelope stage has not run")
        return self.envelope.payload


# The exchange being processed in this task: lets code deep in a service (sealed_content)
# hand what it unsealed or sealed to the journal without threading the exchange through.
_CURRENT: ContextVar[Exchange | None] = ContextVar("current_exchange", default=None)


@contextmanager
def processing(exchange: Exchange) -> Iterator[Exchange]:
    """`exchange` is the current one within the block (the pipeline's whole run)."""
    token = _CURRENT.set(exchange)
    try:
        yield exchange
    finally:
        _CURRENT.reset(token)


def keep_request_content(content: bytes) -> None:
    """Remember the request's business content (first Detail opened) for the journal."""
    exchange = _CURRENT.get()
    if exchange is not None and exchange.request_content is None:
        exchange.request_content = content


def keep_response_content(content: bytes) -> None:
    """Remember the answer's business content, before it is sealed, for the journal."""
    exchange = _CURRENT.get()
    if exchange is not None:
        exchange.response_content = content
