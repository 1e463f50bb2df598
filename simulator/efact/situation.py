"""The patient's situation and the tariff for one record 50, with per-file caches.

Pure rules over the population (domain-rules 6.5 codes 500540, 500549, 501940, 502741): is the
patient alive and in order on the service day, and what does the tariff give for the code. The
checks of `simulator.efact.checks` call `Situations.price` once per record 50, so the patient's
facts are kept as YYYYMMDD integers (compared without building dates) and every lookup is
cached; each cache is bounded so that memory stays flat on files of any size.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any, TypeVar

from simulator.domain import nomenclature
from simulator.domain.population import Patient, Population

_NEVER = 99_999_999  # YYYYMMDD after every real date: "no end", "not dead"
_CACHE_LIMIT = 100_000  # entries per cache before it is emptied

_UNSEEN: Any = object()  # "not in the cache" where None is a cached answer
_K = TypeVar("_K")
_V = TypeVar("_V")


def _store(cache: dict[_K, _V], key: _K, value: _V) -> _V:
    """Remember `value`, emptying the cache first when it is full (keeps memory bounded)."""
    if len(cache) >= _CACHE_LIMIT:
        cache.clear()
    cache[key] = value
    return value


def _yyyymmdd(day: date) -> int:
    return day.year * 10_000 + day.month * 100 + day.day


Finding = tuple[str, str, str]  # rejection code, zone, detail


@dataclass(frozen=True, slots=True)
class PatientFacts:
    """What the checks read of a patient, as YYYYMMDD integers."""

    patient: Patient
    born: int
    death: int  # _NEVER when alive
    periods: tuple[tuple[int, int, bool], ...]  # (start, end or _NEVER, in order)
    dmg_person: str | None  # first 8 digits of the DMG holder's NIHII
    ident: int  # id(patient): the tariff cache's key
    # Days (YYYYMMDD) when the patient is surely alive and in order: within the first period
    # (the first covering period decides) and before death. One comparison on the hot path.
    fine_from: int
    fine_to: int

    @classmethod
    def of(cls, patient: Patient) -> PatientFacts:
        death = patient.death_date
        holder = patient.dmg_holder
        dies = _NEVER if death is None else _yyyymmdd(death)
        first = patient.periods[0] if patient.periods else None
        fine_from, fine_to = (
            (_yyyymmdd(first.start), min(_NEVER if first.end is None else _yyyymmdd(first.end),
                                         dies - 1))
            if first is not None and first.in_order
            else (1, 0)  # no day: always the full check
        )
        return cls(
            patient=patient,
            born=_yyyymmdd(patient.birth_date),
            death=dies,
            periods=tuple(
                (_yyyymmdd(p.start), _NEVER if p.end is None else _yyyymmdd(p.end), p.in_order)
                for p in patient.periods
            ),
            dmg_person=None if holder is None else holder[:8],
            ident=id(patient),
            fine_from=fine_from,
            fine_to=fine_to,
        )

    def age(self, day: int) -> int:
        """Full years on `day` (YYYYMMDD): the month-day part borrows a year when not reached."""
        return (day - self.born) // 10_000

    def in_order(self, day: int) -> bool:
        """Insured and in order on `day` (the first period covering it decides)."""
        for start, end, in_order in self.periods:
            if start <= day <= end:
                return in_order
        return False

    def problem(self, day: int, when: date) -> Finding | None:
        """Dead (500549) or not in order (500540) on `day` (YYYYMMDD; `when`: the same)."""
        if self.death <= day:
            return ("500549", "5", f"died {self.patient.death_date}")
        if not self.in_order(day):
            return ("500540", "5", f"not in order on {when}")
        return None


# Keyed on the patient object's id, not the NISS: two populations (another seed, a test's own
# world) may give the same NISS to different people. The entry holds the patient, so the id
# cannot be reused by another object while the entry lives.
# Facts by id(patient), kept across files (each file of a population meets the same patients);
# the facts hold the patient, so the id stays theirs.
_FACTS: dict[int, PatientFacts] = {}

_TARIFF_CACHE: dict[tuple[str, int, str, int, bool], tuple[Patient, tuple[int, int] | None]] = {}


def tariff(
    code: str, patient: Patient, kind: str, age: int, dmg: bool, day: date
) -> tuple[int, int] | None:
    """(insurer part, patient share) in cents for one unit; None when not priced. The price
    depends on the day only through the age, so it is cached on the age."""
    key = (code, id(patient), kind, age, dmg)
    if key in _TARIFF_CACHE:
        return _TARIFF_CACHE[key][1]
    try:
        entry = nomenclature.lookup(code)
        if entry is None:
            raise KeyError(code)
        price = nomenclature.price(entry.code, patient, kind, day, dmg)
        result: tuple[int, int] | None = (
            int(price.reimbursement * 100),
            int(price.patient_fee * 100),
        )
    except (KeyError, ValueError):
        result = None
    _store(_TARIFF_CACHE, key, (patient, result))
    return result


_UNITS: dict[str, int] = {}  # zone 22 text -> units: a file has a handful of distinct values


def _unit_count(units: str) -> int:
    """Zone 22 is a sign and four digits; anything else is priced as one unit."""
    return int(units) if units[:1] in ("+", "-", "0") and units[1:].isdigit() else 1


class Situations:
    """The population's answers for the records 50 of one file, cached by patient and provider."""

    def __init__(self, population: Population) -> None:
        self._population = population
        self._patients: dict[str, PatientFacts | None] = {}
        self._providers: dict[str, tuple[str, str] | None] = {}  # NIHII-11 -> (kind, person)

    def _facts(self, niss: str) -> PatientFacts | None:
        if niss in self._patients:
            return self._patients[niss]
        patient = self._population.find(niss)
        if patient is None:
            return _store(self._patients, niss, None)
        facts = _FACTS.get(id(patient))
        if facts is None:
            facts = _store(_FACTS, id(patient), PatientFacts.of(patient))
        return _store(self._patients, niss, facts)

    def _provider(self, nihii: str) -> tuple[str, str] | None:
        if nihii in self._providers:
            return self._providers[nihii]
        provider = self._population.provider(nihii)
        found = None if provider is None else (provider.kind, provider.nihii[:8])
        return _store(self._providers, nihii, found)

    def check(
        self,
        code: str,
        day: date,
        day_digits: str,
        niss: str,
        nihii: str,
        units: str,
        amount: int,
        share: int,
    ) -> Finding | None:
        """The finding, if any, on service `code` on `day` (`day_digits`: the same as YYYYMMDD)
        to patient `niss` by provider `nihii` (11 digits), billed as `units` (zone 22) for
        `amount` (insurer part) and `share` (patient share) in cents: the patient is dead or
        not in order, or the amounts differ from the tariff's. None when all is well or when
        the patient, provider or price is unknown (other rules report those)."""
        facts: PatientFacts | None = self._patients.get(niss, _UNSEEN)
        if facts is _UNSEEN:
            facts = self._facts(niss)
        if facts is None:
            return None
        on = int(day_digits)  # the service day as YYYYMMDD
        if not facts.fine_from <= on <= facts.fine_to:  # else alive and in order: the usual
            problem = facts.problem(on, day)
            if problem is not None:
                return problem
        provider = self._providers.get(nihii, _UNSEEN)
        if provider is _UNSEEN:
            provider = self._provider(nihii)
        if provider is None:
            return None
        kind, person = provider
        dmg = facts.dmg_person is not None and facts.dmg_person == person
        age = (on - facts.born) // 10_000  # PatientFacts.age, inlined
        cached = _TARIFF_CACHE.get((code, facts.ident, kind, age, dmg))
        prices = tariff(code, facts.patient, kind, age, dmg, day) if cached is None else cached[1]
        if prices is None:
            return None
        count = _UNITS.get(units)
        if count is None:
            count = _store(_UNITS, units, _unit_count(units))
        expected, expected_share = prices[0] * count, prices[1] * count
        if amount != expected:
            return ("501940", "19", f"{amount} cents, tariff gives {expected}")
        if share != expected_share:
            return ("502741", "27", f"{share} cents, tariff gives {expected_share}")
        return None
