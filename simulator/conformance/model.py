"""Conformance suites as plain data: a suite of cases, each with what the vendor's software must
do and what the simulator's journal must show afterwards. Pure: no YAML, no HTTP, no journal.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

PROVIDER_KINDS = ("GP", "SPECIALIST", "DENTIST", "PHYSIOTHERAPIST")
# Which patient an entry must concern for a selection to match it.
PATIENT_SCOPES = ("case", "any", "other")
OUTCOMES = ("ok", "business-error", "fault")


@dataclass(frozen=True)
class PatientPick:
    """The patient a case is about, chosen in the population by situation (never a fixed NISS).

    `unknown`: a valid NISS that belongs to nobody (the "beneficiary unknown" cases).
    """

    situation: str | None = None
    unknown: bool = False

    def describe(self) -> str:
        return "a NISS nobody has" if self.unknown else f"the {self.situation!r} patient"


@dataclass(frozen=True)
class ProviderPick:
    """The care provider whose keystore the vendor's software uses: the n-th of a kind, or
    (`dmg_holder`) the GP who holds the patient's DMG."""

    kind: str = "GP"
    index: int = 0
    dmg_holder: bool = False


@dataclass(frozen=True)
class Select:
    """Which journal entries an expectation is about."""

    service: str | None = None
    operation: str | None = None
    patient: str = "case"  # case | any | other
    outcome: str | None = None
    codes: tuple[str, ...] = ()  # business or fault codes, any of them
    response_xpath: str | None = None  # the answer must hold a node there (e.g. messages)

    def describe(self) -> str:
        what = ".".join(p for p in (self.service, self.operation) if p) or "request"
        parts = [what]
        if self.patient == "case":
            parts.append("for the case's patient")
        elif self.patient == "other":
            parts.append("for another patient")
        if self.outcome:
            parts.append(f"answered {self.outcome}")
        if self.codes:
            parts.append(f"with code {'/'.join(self.codes)}")
        if self.response_xpath:
            parts.append(f"whose answer has {self.response_xpath}")
        return " ".join(parts)


# -- expectations: one dataclass per kind ------------------------------------------------------


@dataclass(frozen=True)
class ValidRequests:
    """Every request of the case was well-formed, schema-valid and correctly signed."""

    kind = "valid-requests"


@dataclass(frozen=True)
class Requests:
    """The simulator received between `minimum` and `maximum` requests matching `select`."""

    select: Select
    minimum: int = 1
    maximum: int | None = None
    kind = "requests"


@dataclass(frozen=True)
class Before:
    """Every `then` request was preceded by a `first` request (for the same patient)."""

    first: Select
    then: Select
    kind = "before"


@dataclass(frozen=True)
class FollowedBy:
    """Every `first` request was followed, later in the case, by a `then` request."""

    first: Select
    then: Select
    kind = "followed-by"


@dataclass(frozen=True)
class NoneAfter:
    """Once a `trigger` entry is answered, no `then` request may follow (no blind resend)."""

    trigger: Select
    then: Select
    kind = "none-after"


@dataclass(frozen=True)
class Content:
    """An XPath over the request as received (`envelope`) or its business content (`content`:
    the Detail blob decoded and unsealed; for eFact the 920000 file is not XML, see EfactZone).
    `all_entries`: every matching entry must hold it, otherwise at least one."""

    select: Select
    xpath: str
    scope: str = "content"  # envelope | content
    equals: str | None = None  # the node's text (or attribute value) must equal it
    exists: bool = True
    all_entries: bool = False
    kind = "content"


@dataclass(frozen=True)
class EfactZone:
    """A zone of a record of the posted 920000 (genasync post), e.g. record 10 zone 7."""

    record: str  # record type: 10, 20, 50, 51, 52, 80, 90
    zone: str
    equals: str | None = None  # expected value (after stripping blanks)
    differs_between_posts: bool = False  # every post carries another value (send number)
    # Dates (YYYYMMDD) no older than this many calendar months before the day of the post:
    # services older than two months are not billed (500503).
    within_months: int | None = None
    kind = "efact-zone"


@dataclass(frozen=True)
class AtMostPerDay:
    """No more than `maximum` matching requests on one simulated day."""

    select: Select
    maximum: int = 1
    kind = "at-most-per-day"


Expectation = (
    ValidRequests | Requests | Before | FollowedBy | NoneAfter | Content | EfactZone | AtMostPerDay
)
EXPECTATION_KINDS = (
    "valid-requests",
    "requests",
    "before",
    "followed-by",
    "none-after",
    "content",
    "efact-zone",
    "at-most-per-day",
)


@dataclass(frozen=True)
class Check:
    """An expectation with the sentence a tester reads (`says`)."""

    says: str
    expectation: Expectation
    line: int = 0


@dataclass(frozen=True)
class Case:
    id: str
    title: str
    instructions: str  # what a QA tester does by hand
    action: str  # what the software does, for scripted clients (etar.consult, eattest.send, ...)
    patient: PatientPick
    provider: ProviderPick
    checks: tuple[Check, ...]
    at: datetime | None = None  # the simulator clock during the case (else the suite's)
    params: dict[str, Any] = field(default_factory=dict)  # codes, facets, dates... (JSON-ready)
    scenario: str | None = None  # shipped name or YAML text; else the suite's
    tags: tuple[str, ...] = ()


@dataclass(frozen=True)
class Suite:
    id: str
    title: str
    description: str
    at: datetime  # the simulator clock at the start of every case
    cases: tuple[Case, ...]
    scenario: str | None = None  # shipped name or YAML text run during every case
    seed: int | None = None  # None: the simulator's default seed
    source: str = ""

    def case(self, case_id: str) -> Case:
        for case in self.cases:
            if case.id == case_id:
                return case
        known = ", ".join(c.id for c in self.cases)
        raise KeyError(f"suite {self.id!r} has no case {case_id!r}; cases: {known}")
