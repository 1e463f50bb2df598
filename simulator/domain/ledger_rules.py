"""What the insurer remembers: rules judged against a patient's history of services.

Every service the insurer accepted — attested by eAttest, billed by eFact or MediPrima — is a
`LedgerService` in its ledger (simulator/store/ledger.py keeps them). Given that history and
new services, `judge` says which eFact codes apply (domain-rules 6.5, FAQ codes of S-FAQ-MC):

* 502255  the maximum number of units is reached: the same consultation twice (same patient,
          code, day and provider), in a later file, twice in one invoice, or attested by
          eAttest then billed by eFact. A distinct contact, declared in the claim's exemption
          (R50 Z23 / NIHDI-CLAIM-EXEMPTION), is not a duplicate;
* 500444  not cumulable with another service of the same session (same day, same provider);
* 500447  renewal delay not reached (periodic services);
* 502258  maximum number reached for this tooth (an extracted tooth extracted again);
* 500415  a dental prosthesis not preceded by its manufacturing stages.

The constraints come from `data/nomenclature-constraints.json`, each with its sources and a
certainty tag. No I/O beyond reading that table once; no clock: the days are the services'.
eAttest answers with MyCareNet codes: `EATTEST_CODES` maps each finding to one.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from enum import StrEnum
from functools import cache
from importlib import resources
from typing import Any

DUPLICATE = "502255"
NOT_CUMULABLE = "500444"
RENEWAL_DELAY = "500447"
TOOTH_LIMIT = "502258"
PROSTHESIS_STAGES = "500415"
# eAttest's own codes for the same causes: 190 "max number already reached in the allowed
# period" covers duplicates, renewal delays and tooth limits (domain-rules 5.2, [C] for 502255,
# [A] for the others); 192 "service date and code incompatible" for a non-cumulable service
# and 189 "the main service was not attested" for missing prosthesis stages are our picks [A].
EATTEST_CODES: dict[str, str] = {
    DUPLICATE: "190",
    RENEWAL_DELAY: "190",
    TOOTH_LIMIT: "190",
    NOT_CUMULABLE: "192",
    PROSTHESIS_STAGES: "189",
}


class Channel(StrEnum):
    EATTEST = "eattest"
    EFACT = "efact"
    MEDIPRIMA = "mediprima"


@dataclass(frozen=True)
class LedgerService:
    """One service the insurer accepted (or is asked to accept), as its ledger keeps it."""

    insurer: str  # 3-digit union code of the insurer that accepted it
    patient: str  # NISS
    code: str  # 6-digit nomenclature code (a 7-digit eFact code loses its leading 0)
    day: date  # the day the service was performed
    provider: str  # NIHII-11 of who performed it; the person is its first 8 digits
    channel: Channel
    source: str  # eAttest invoicing number, eFact "<file>/<invoice>": what a cancellation names
    line: int = 0  # position in its source
    quantity: int = 1
    tooth: str | None = None  # ISO 3950 tooth number (R50 Z29), dental codes only
    distinct: bool = False  # declared distinct contact / derogation (R50 Z23 not 00)

    def __post_init__(self) -> None:
        code = self.code[1:] if len(self.code) == 7 and self.code.startswith("0") else self.code
        object.__setattr__(self, "code", code)

    @property
    def key(self) -> tuple[str, int]:
        return (self.source, self.line)

    @property
    def person(self) -> str:
        return self.provider[:8]


@dataclass(frozen=True)
class Finding:
    """One rule the new service breaks: the eFact code, why, and the service it meets."""

    code: str
    rule: str
    service: LedgerService
    conflict: LedgerService | None = None

    @property
    def eattest_code(self) -> str:
        return EATTEST_CODES[self.code]


# -- the constraints table ----------------------------------------------------------------------


@dataclass(frozen=True)
class MaxUnitsPerDay:
    name: str
    codes: frozenset[str]
    max: int
    same_provider: bool
    waived_by_exemption: bool
    code: str


@dataclass(frozen=True)
class NotCumulable:
    name: str
    codes: frozenset[str]
    same_provider: bool
    waived_by_exemption: bool
    code: str


@dataclass(frozen=True)
class Renewal:
    name: str
    codes: frozenset[str]
    period: str  # "calendar-year" or "<n> days"
    code: str

    def too_soon(self, earlier: date, later: date) -> bool:
        if self.period == "calendar-year":
            return earlier.year == later.year
        days = int(self.period.split()[0])
        return abs((later - earlier).days) < days


@dataclass(frozen=True)
class PerTooth:
    name: str
    codes: frozenset[str]
    max: int
    code: str


@dataclass(frozen=True)
class Stages:
    name: str
    final: str
    requires: tuple[str, ...]
    within_days: int
    code: str


@dataclass(frozen=True)
class Constraints:
    exemption_values: frozenset[str]
    no_exemption: str
    distinct_contact: str
    max_units_per_day: tuple[MaxUnitsPerDay, ...] = ()
    not_cumulable: tuple[NotCumulable, ...] = ()
    renewal: tuple[Renewal, ...] = ()
    per_tooth: tuple[PerTooth, ...] = ()
    stages: tuple[Stages, ...] = ()
    sources: dict[str, str] = field(default_factory=dict, compare=False)


def _codes(rule: dict[str, Any]) -> frozenset[str]:
    return frozenset(str(code) for code in rule["codes"])


def parse_constraints(document: dict[str, Any]) -> Constraints:
    """The table as rules; a rule naming a source the table does not list is refused."""
    sources = {str(k): str(v) for k, v in document["sources"].items()}
    sections = ("max_units_per_day", "not_cumulable_same_day", "renewal", "per_tooth", "stages")
    for section in sections:
        for rule in document.get(section, []):
            unknown = set(rule.get("sources", [])) - set(sources)
            if unknown or not rule.get("sources") or not rule.get("certainty"):
                raise ValueError(f"{section} {rule.get('name')!r}: sources/certainty {unknown}")
    exemption = document["exemption_codes"]
    return Constraints(
        exemption_values=frozenset(exemption["values"]),
        no_exemption=exemption["none"],
        distinct_contact=exemption["distinct_contact"],
        max_units_per_day=tuple(
            MaxUnitsPerDay(
                r["name"],
                _codes(r),
                int(r["max"]),
                bool(r["same_provider"]),
                bool(r["waived_by_exemption"]),
                r["code"],
            )
            for r in document.get("max_units_per_day", [])
        ),
        not_cumulable=tuple(
            NotCumulable(
                r["name"],
                _codes(r),
                bool(r["same_provider"]),
                bool(r["waived_by_exemption"]),
                r["code"],
            )
            for r in document.get("not_cumulable_same_day", [])
        ),
        renewal=tuple(
            Renewal(r["name"], _codes(r), str(r["period"]), r["code"])
            for r in document.get("renewal", [])
        ),
        per_tooth=tuple(
            PerTooth(r["name"], _codes(r), int(r["max"]), r["code"])
            for r in document.get("per_tooth", [])
        ),
        stages=tuple(
            Stages(
                r["name"], str(r["final"]), tuple(r["requires"]), int(r["within_days"]), r["code"]
            )
            for r in document.get("stages", [])
        ),
        sources=sources,
    )


@cache
def constraints() -> Constraints:
    """The package's table (simulator/domain/data/nomenclature-constraints.json), read once."""
    data = resources.files("simulator.domain").joinpath("data", "nomenclature-constraints.json")
    return parse_constraints(json.loads(data.read_text(encoding="utf-8")))


def is_exemption(value: str, table: Constraints | None = None) -> bool:
    """A value the claim's exemption (R50 Z23 / NIHDI-CLAIM-EXEMPTION) may take."""
    return value in (table or constraints()).exemption_values


def declares_distinct(value: str | None, table: Constraints | None = None) -> bool:
    """Any exemption but 00 waives the maximum number: the service is a distinct contact [A]."""
    table = table or constraints()
    return value is not None and value in table.exemption_values and value != table.no_exemption


# -- judging ------------------------------------------------------------------------------------


def judge(
    history: Iterable[LedgerService],
    new: LedgerService,
    table: Constraints | None = None,
) -> tuple[Finding, ...]:
    """The rules `new` breaks given the patient's `history` (other patients and insurers, and
    the very same service — same source and line — are ignored)."""
    table = table or constraints()
    past = [
        s
        for s in history
        if s.patient == new.patient and s.insurer == new.insurer and s.key != new.key
    ]
    findings: list[Finding] = []
    for rule in table.max_units_per_day:
        finding = _max_units(rule, past, new)
        if finding is not None:
            findings.append(finding)
    for cumulation in table.not_cumulable:
        finding = _cumulation(cumulation, past, new)
        if finding is not None:
            findings.append(finding)
    for renewal in table.renewal:
        if new.code in renewal.codes:
            earlier = next(
                (s for s in past if s.code in renewal.codes and renewal.too_soon(s.day, new.day)),
                None,
            )
            if earlier is not None:
                findings.append(Finding(renewal.code, renewal.name, new, earlier))
    for tooth in table.per_tooth:
        if new.code in tooth.codes and new.tooth:
            same = [s for s in past if s.code in tooth.codes and s.tooth == new.tooth]
            if sum(s.quantity for s in same) + new.quantity > tooth.max:
                findings.append(Finding(tooth.code, tooth.name, new, same[0] if same else None))
    for stages in table.stages:
        if new.code == stages.final and not _stages_done(stages, past, new):
            findings.append(Finding(stages.code, stages.name, new))
    return tuple(findings)


@dataclass(frozen=True)
class HistoryScope:
    """The part of a patient's history that the rules can read when judging some services:
    all of it (a tooth is extracted once in a life), or the services of the years and days
    named. Reading only that keeps a file's judging flat however long the ledger grows."""

    whole: bool = False
    years: frozenset[int] = frozenset()
    days: frozenset[date] = frozenset()

    def covers(self, day: date) -> bool:
        return self.whole or day.year in self.years or day in self.days


def history_scope(
    services: Iterable[LedgerService], table: Constraints | None = None
) -> HistoryScope:
    """What of the history `judge` reads for `services`, rule by rule (same day for units and
    cumulation, the calendar year or the delay for renewals, the stages' window, the whole
    life for teeth); a service no rule names needs none of it."""
    table = table or constraints()
    years: set[int] = set()
    days: set[date] = set()

    def span(first: date, last: date) -> None:
        years.update(range(first.year, last.year + 1))

    same_day = [rule.codes for rule in table.max_units_per_day]
    same_day += [rule.codes for rule in table.not_cumulable]
    for new in services:
        code = new.code
        if any(code in codes for codes in same_day):
            days.add(new.day)
        for renewal in table.renewal:
            if code not in renewal.codes:
                continue
            if renewal.period == "calendar-year":
                years.add(new.day.year)
            else:
                delay = timedelta(days=int(renewal.period.split()[0]))
                span(new.day - delay, new.day + delay)
        if new.tooth and any(code in tooth.codes for tooth in table.per_tooth):
            return HistoryScope(whole=True)
        for stages in table.stages:
            if code == stages.final:
                span(new.day - timedelta(days=stages.within_days), new.day)
    return HistoryScope(
        years=frozenset(years), days=frozenset(d for d in days if d.year not in years)
    )


def judge_all(
    history: Iterable[LedgerService],
    new: Sequence[LedgerService],
    table: Constraints | None = None,
) -> tuple[Finding, ...]:
    """Judge `new` in order, each accepted service joining the history of the next: the same
    consultation twice in one invoice is a duplicate, a prosthesis stage earlier in the same
    file counts for the placement."""
    known = list(history)
    findings: list[Finding] = []
    for service in new:
        found = judge(known, service, table)
        findings.extend(found)
        if not found:
            known.append(service)
    return tuple(findings)


def _max_units(
    rule: MaxUnitsPerDay, past: list[LedgerService], new: LedgerService
) -> Finding | None:
    if new.code not in rule.codes:
        return None
    if rule.waived_by_exemption and new.distinct:
        return None
    same = [
        s
        for s in past
        if s.code == new.code
        and s.day == new.day
        and (not rule.same_provider or s.person == new.person)
    ]
    if sum(s.quantity for s in same) + new.quantity <= rule.max:
        return None
    return Finding(rule.code, rule.name, new, same[0] if same else None)


def _cumulation(
    rule: NotCumulable, past: list[LedgerService], new: LedgerService
) -> Finding | None:
    if new.code not in rule.codes or (rule.waived_by_exemption and new.distinct):
        return None
    other = next(
        (
            s
            for s in past
            if s.code in rule.codes
            and s.code != new.code  # the same code again is a duplicate, not a cumulation
            and s.day == new.day
            and (not rule.same_provider or s.person == new.person)
        ),
        None,
    )
    return None if other is None else Finding(rule.code, rule.name, new, other)


def _stages_done(rule: Stages, past: list[LedgerService], new: LedgerService) -> bool:
    since = new.day - timedelta(days=rule.within_days)
    done = {s.code for s in past if since <= s.day <= new.day}
    return all(stage in done for stage in rule.requires)


def without(history: Iterable[LedgerService], source: str) -> list[LedgerService]:
    """The history once `source` is cancelled (what the ledger's `remove` leaves)."""
    return [s for s in history if s.source != source]
