"""The patient's situation and the tariff for one record 50, with per-file caches.

Pure rules over the population (domain-rules 6.5, docs/rules.md "eFact"): is the patient alive
and in order on the first (500540/500549) and last (500640/500649) service day, known at the
mutuality of zone 7 (500742), under a medical-house flat rate for the code (500450), does the
G notion of zones 16/49 name the DMG holder (504913/504940), may a supplement be charged
(503043), and what does the tariff give for the code at the DMG rate when the author or the
G-notion colleague holds the DMG (501940, 502742 too high, 502741 too low). Every finding of a
record is returned. The checks of `simulator.efact.checks` call `Situations.check` once per
record 50, so the patient's facts are kept as YYYYMMDD integers (compared without building
dates) and every lookup is cached; each cache is bounded so that memory stays flat.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any, TypeVar

from simulator.domain import nomenclature
from simulator.domain.memberdata import medical_house_covers, supplement_forbidden
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


def _date(day: int) -> date:
    return date(day // 10_000, day // 100 % 100, day % 100)


Finding = tuple[str, str, str]  # rejection code, zone, detail

AMOUNT, SHARE_TOO_HIGH, SHARE_WRONG = "501940", "502742", "502741"
_NO_SUPPLEMENT = ("+000000000", "0000000000", "          ")  # zone 30 empty
# The tariff's findings: what a valid payment commitment (record 51 zones 42-45) replaces.
TARIFF_CODES = frozenset({AMOUNT, SHARE_TOO_HIGH, SHARE_WRONG})
# Codes a medical-house flat rate covers, as zone 4 writes them (7 digits).
_HOUSE_CODES = frozenset(
    "0" + entry.code
    for entry in nomenclature.TABLE.values()
    if entry.category in nomenclature.MEDICAL_HOUSE_COVERED
)


@dataclass(frozen=True, slots=True)
class PatientFacts:
    """What the checks read of a patient, as YYYYMMDD integers."""

    patient: Patient
    born: int
    death: int  # _NEVER when alive
    periods: tuple[tuple[int, int, bool], ...]  # (start, end or _NEVER, in order)
    dmg_person: str | None  # first 8 digits of the DMG holder's NIHII
    ident: int  # id(patient): the tariff cache's key
    # Days (YYYYMMDD) of the medical-house contract for medical care; (1, 0): none.
    house_from: int
    house_to: int
    # Days (YYYYMMDD) when the patient is surely alive and in order: within the first period
    # (the first covering period decides) and before death. One comparison on the hot path.
    fine_from: int
    fine_to: int
    fine_mutuality: str  # the mutuality of those days (the first period's)
    fine_mutualities: tuple[str, str]  # ... and 000 (unions 2 and 5): zone 7 prefixes
    # The fine days of a patient without a medical-house contract (none for a member): the
    # days of the usual record, one comparison on the hot path.
    usual_from: int
    usual_to: int

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
        contract = patient.medical_house_contract
        house_from, house_to = (
            (_yyyymmdd(contract.start), _NEVER if contract.end is None else _yyyymmdd(contract.end))
            if contract is not None and "medical" in contract.disciplines
            else (1, 0)
        )
        return cls(
            patient=patient,
            house_from=house_from,
            house_to=house_to,
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
            fine_mutuality=first.mutuality if first is not None else "",
            fine_mutualities=(first.mutuality if first is not None else "000", "000"),
            usual_from=fine_from if house_to < house_from else 1,
            usual_to=fine_to if house_to < house_from else 0,
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

    def problem(self, day: int, last: bool = False) -> Finding | None:
        """Dead (500549/500649) or not in order (500540/500640) on `day` (YYYYMMDD), the first
        service date (zone 5) or, `last`, the last one (zone 6a)."""
        zone, prefix = ("6a", "5006") if last else ("5", "5005")
        if self.death <= day:
            return (prefix + "49", zone, f"died {self.patient.death_date}")
        if not self.in_order(day):
            return (prefix + "40", zone, f"not in order on {day}")
        return None

    def mutuality(self, day: int) -> str | None:
        """The mutuality of the period covering `day` (the first covering period decides)."""
        for (start, end, _), period in zip(self.periods, self.patient.periods, strict=True):
            if start <= day <= end:
                return period.mutuality
        return None


# Keyed on the patient object's id, not the NISS: two populations (another seed, a test's own
# world) may give the same NISS to different people. The entry holds the patient, so the id
# cannot be reused by another object while the entry lives.
# Facts by id(patient), kept across files (each file of a population meets the same patients);
# the facts hold the patient, so the id stays theirs.
_FACTS: dict[int, PatientFacts] = {}


@dataclass(frozen=True, slots=True)
class Commitment:
    """A payment commitment eTar handed out (its `financialcontract`, domain-rules 4): what the
    insurer promised to pay for one code, patient, day and author. In eFact the number goes in
    record 51 zones 42-45 (IFHC `insuranceRef`) [I]."""

    number: str
    patient: str  # NISS
    code: str  # 6 digits
    day: date
    provider: str  # NIHII-11 of the eTar author
    reimbursement: int  # cents, one unit
    patient_fee: int  # cents, one unit

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
        self, code: str, text: str, on: int, one_day: bool, amount: int | None,
        share: int | None,
    ) -> list[Finding] | None:
        """Every finding on the record 50 `text` (service `code`, a valid first date in zone 5,
        `on` its YYYYMMDD, `one_day` when zone 6a is the same day, `amount` and `share` of
        zones 19 and 27 in cents, None when not numeric: no tariff
        check then): the patient is dead, not in order
        or unknown at the mutuality of zone 7, covered by a medical house for the code, the G
        notion (zone 16 = 4) names no DMG holder or another one, a supplement for a "no supp"
        patient, or the amounts differ from the tariff's. None when all is well or when the
        patient, provider or price is unknown (other rules report those)."""
        niss = text[37:48]
        facts: PatientFacts | None = self._patients.get(niss, _UNSEEN)
        if facts is _UNSEEN:
            facts = self._facts(niss)
        if facts is None:
            return None
        g_notion = text[79] == "4"
        found: list[Finding] | None = None
        # The usual record, one comparison each (no slice): alive and in order on its one
        # day, at the patient's mutuality, no medical house, no supplement, no G notion.
        if not (
            one_day
            and facts.usual_from <= on <= facts.usual_to
            and text.startswith(facts.fine_mutualities, 32)
            and text.startswith(_NO_SUPPLEMENT, 164)
            and not g_notion
        ):
            found = self._situation(facts, code, text, on)
        nihii = text[68:79]
        provider = self._providers.get(nihii, _UNSEEN)
        if provider is _UNSEEN:
            provider = self._provider(nihii)
        if provider is None or amount is None or share is None:
            return found
        kind, person = provider
        dmg = facts.dmg_person is not None and facts.dmg_person == person
        if g_notion and facts.dmg_person is not None and text.startswith(facts.dmg_person, 271):
            dmg = True  # G notion: the DMG holder is the colleague of zone 49
        age = (on - facts.born) // 10_000  # PatientFacts.age, inlined
        cached = _TARIFF_CACHE.get((code, facts.ident, kind, age, dmg))
        prices = tariff(code, facts.patient, kind, age, dmg, _date(on)) if cached is None else (
            cached[1]
        )
        if prices is None:
            return found
        if text.startswith("+0001", 107):  # one unit: nearly every record
            expected, expected_share = prices
        else:
            units = text[107:112]
            count = _UNITS.get(units)
            if count is None:
                count = _store(_UNITS, units, _unit_count(units))
            expected, expected_share = prices[0] * count, prices[1] * count
        if amount == expected and share == expected_share:
            return found
        found = found or []
        if amount != expected:
            found.append((AMOUNT, "19", f"{amount} cents, tariff gives {expected}"))
        if share > expected_share:  # the FAQ's code: the patient pays more than due
            found.append((SHARE_TOO_HIGH, "27", f"{share} cents, tariff gives {expected_share}"))
        elif share != expected_share:
            found.append((SHARE_WRONG, "27", f"{share} cents, tariff gives {expected_share}"))
        return found

    @staticmethod
    def _situation(facts: PatientFacts, code: str, text: str, on: int) -> list[Finding] | None:
        """The patient's findings of an unusual record 50 (see `check`)."""
        found: list[Finding] = []
        if not facts.fine_from <= on <= facts.fine_to:
            problem = facts.problem(on)
            if problem is not None:
                found.append(problem)
        last_digits = text[24:32]
        last = int(last_digits) if last_digits.isdigit() else on
        if last > on and not facts.fine_from <= last <= facts.fine_to:
            problem = facts.problem(last, last=True)
            if problem is not None:
                found.append(problem)
        mutuality = text[32:35]
        # IFHC writes 000 for unions 2 and 5 (domain-rules 2.5): nothing to compare then.
        if mutuality != "000":
            known = (
                facts.fine_mutuality if facts.fine_from <= on <= facts.fine_to
                else facts.mutuality(on)
            )
            if known is not None and known != mutuality:
                found.append(("500742", "7", f"{mutuality}, the patient is at {known}"))
        # The same rule as eAttest's 169 and MemberData's medicalHouse block; the precomputed
        # range only keeps the usual patient off that path.
        if (
            facts.house_from <= on <= facts.house_to
            and code in _HOUSE_CODES
            and medical_house_covers(facts.patient, code, _date(on))
        ):
            found.append(("500450", "4", f"{code}: member of a medical house on {on}"))
        supplement = text[164:174]
        if supplement.strip("+0 ") and supplement_forbidden(facts.patient, _date(on)):
            # MDA "no supp": an automatic BIM pays no supplement (S-FAQ-INAMI) [I code].
            found.append(("503043", "30", f"{supplement}: automatic BIM, no supplement"))
        if text[79:80] == "4":  # G notion: the DMG holder must be the colleague of zone 49
            holder = text[270:282]
            if not holder.strip("0 "):
                found.append(("504913", "49", "zone 16 = 4 without the DMG holder"))
            elif facts.dmg_person is None or holder[1:9] != facts.dmg_person:
                found.append(("504940", "49", f"{holder} does not hold the patient's DMG"))
        return found or None
