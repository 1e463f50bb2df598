"""The flow object: one request as it passes through the named pipeline stages.

Every stage reads and enriches the exchange and notes what it did; the journal entry is
built from it at the end, whatever the outcome.
"""

from __future__ import annotations

import time
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
    response: bytes = b""
    http_status: int = 200

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
