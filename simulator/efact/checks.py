"""Pure rules over a 920000 file, record by record (domain-rules 6.2-6.5, wire-formats 6.4).

`Validator.feed` takes the records in file order and keeps only running totals, so a file of any
size is checked in constant memory. Nothing here reads a clock or a file: `today` and the
population come in `CheckOptions`. Findings are `Rejection`s with the exact catalogue code.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from functools import lru_cache
from typing import BinaryIO

from simulator.domain import nomenclature
from simulator.domain.identifiers import (
    is_valid_cbe,
    is_valid_nihii,
    is_valid_niss,
    is_valid_nomenclature_code,
)
from simulator.domain.population import Patient, Population
from simulator.efact.errors import Rejection, rejection
from simulator.efact.parser import Header, Record, parse

# --- checksums (wire-formats 6.4) ------------------------------------------------------------

# Character values: digit = itself, space = 10, letters 11..36, anything else 37.
_VALUES = bytes(
    b - 48 if 48 <= b <= 57
    else 10 if b == 32
    else b - 54 if 65 <= b <= 90
    else b - 86 if 97 <= b <= 122
    else 37
    for b in range(256)
)
CIN_CHECKSUM_OFFSET = 10  # the CIN test files carry (sum + 10) mod 97 (wire-formats 6.4)
CHECKSUM_TYPES = frozenset({"10", "20", "25", "30", "50", "51", "52", "80", "90"})


def _mod97(value: int) -> int:
    return value % 97 or 97


def character_sum(text: str) -> int:
    """Sum of the character values of positions 1-348.

    Adler-32's low half is 1 + the plain byte sum mod 65521, and 348 values of at most 37 sum
    to less than that: so it is the exact sum, computed in C.
    """
    return (zlib.adler32(text[:348].encode("latin-1").translate(_VALUES)) & 0xFFFF) - 1


def record_checksum(text: str, *, cin_variant: bool = False) -> int:
    """Zone 99 of a record (1..97); `cin_variant` gives the +10 value of the CIN test files."""
    return _mod97(character_sum(text) + (CIN_CHECKSUM_OFFSET if cin_variant else 0))


def checksum_ok(text: str, *, accept_cin_variant: bool = True) -> bool:
    written = text[348:350]
    if not written.isdigit():
        return False
    total = character_sum(text)
    value = int(written)
    return value == _mod97(total) or (
        accept_cin_variant and value == _mod97(total + CIN_CHECKSUM_OFFSET)
    )


def control_number(code_sum: int) -> int:
    """Zones 98/410/510: sum of the 7-digit nomenclature codes mod 97, 0 -> 97."""
    return _mod97(code_sum)


# --- cached identifier and date checks: the same values recur on every invoice -----------------


@lru_cache(maxsize=65536)
def _niss_ok(niss: str) -> bool:
    return is_valid_niss(niss)


@lru_cache(maxsize=8192)
def _nihii_ok(nihii: str) -> bool:
    return is_valid_nihii(nihii)


@lru_cache(maxsize=8192)
def parse_date(text: str) -> date | None:
    """YYYYMMDD -> date, None when not a real date."""
    if len(text) != 8 or not text.isdigit():
        return None
    try:
        return date(int(text[:4]), int(text[4:6]), int(text[6:]))
    except ValueError:
        return None


def months_before(day: date, months: int) -> date:
    """`day` moved back `months` calendar months (clamped to the month's last day)."""
    month_index = day.year * 12 + day.month - 1 - months
    year, month = divmod(month_index, 12)
    for last in (day.day, 30, 29, 28):
        try:
            return date(year, month + 1, min(day.day, last))
        except ValueError:
            continue
    raise AssertionError("unreachable")  # pragma: no cover


@lru_cache(maxsize=4096)
def _code_status(code: str) -> str:
    """"" when the nomenclature code may be billed, else the rejection code of zone 4."""
    if not code.isdigit():
        return "500401"
    if not is_valid_nomenclature_code(code):
        return "500402"
    entry = nomenclature.lookup(code)
    if entry is not None and not entry.in_efact:
        return "500432"
    return ""


@lru_cache(maxsize=4096)
def _service_dates(
    dates: str, today: date, oldest: date
) -> tuple[date | None, tuple[tuple[str, str, str], ...]]:
    """Record 50 zones 5 and 6a (first and last service date, 16 chars): the first date and
    the findings as (code, zone, detail). Cached: a file has few distinct date pairs."""
    first, last = parse_date(dates[:8]), parse_date(dates[8:])
    errors = []
    if first is None:
        errors.append(("500501", "5", repr(dates[:8])))
    elif first > today:
        errors.append(("500510", "5", f"{first} is after {today}"))
    elif first < oldest:
        errors.append(("500503", "5", f"{first} is older than {oldest}"))
    if last is None:
        errors.append(("500601", "6a", repr(dates[8:])))
    elif last > today:
        errors.append(("500610", "6a", f"{last} is after {today}"))
    return first, tuple(errors)


@lru_cache(maxsize=65536)
def _beneficiary_status(value: str) -> str:
    """"" or the error number of zone 8: 01 not numeric, 02 wrong NISS check digits."""
    if not value.isdigit():
        return "1"
    if value.startswith("00") and not is_valid_niss(value[2:]):
        return "2"
    return ""


@lru_cache(maxsize=16384)
def _nihii_status(value: str, optional: bool) -> str:
    """"" or the error number of a 12-char NIHII zone: 1 not numeric, 2 wrong check digits."""
    if not value.isdigit():
        return "1"
    if optional and value == "000000000000":
        return ""
    return "" if is_valid_nihii(value[1:]) else "2"


_TARIFF_CACHE: dict[tuple[str, str, str, int, bool], tuple[int, int] | None] = {}


def _tariff(
    code: str, patient: Patient, kind: str, age: int, dmg: bool, day: date
) -> tuple[int, int] | None:
    """(insurer part, patient share) in cents for one unit; None when not priced. The price
    depends on the day only through the age, so it is cached on the age."""
    key = (code, patient.ssin, kind, age, dmg)
    if key in _TARIFF_CACHE:
        return _TARIFF_CACHE[key]
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
    if len(_TARIFF_CACHE) > 100_000:  # keep memory bounded on very varied files
        _TARIFF_CACHE.clear()
    _TARIFF_CACHE[key] = result
    return result


_TWO_DIGITS = tuple(f"{n:02d}" for n in range(100))

# --- the validator ------------------------------------------------------------------------------

# Records that may come right before each type (domain-rules 6.2), and the code when not.
_PREDECESSORS: dict[str, tuple[frozenset[str], str]] = {
    "20": (frozenset({"10", "80"}), "200110"),
    "25": (frozenset({"20"}), "250110"),
    "50": (frozenset({"20", "25", "50", "51", "52"}), "500110"),
    "51": (frozenset({"50"}), "510110"),
    "52": (frozenset({"50", "51"}), "520110"),
    "80": (frozenset({"50", "51", "52"}), "800110"),
    "90": (frozenset({"80"}), "900110"),
}
_NUMBERED = frozenset({"10", "20", "25", "50", "51", "52", "80", "90"})


@dataclass(frozen=True)
class CheckOptions:
    today: date
    population: Population | None = None  # beneficiaries, providers, prices; None: skip those
    accept_cin_checksum: bool = True
    max_age_months: int = 2  # services older than this (on `today`) are refused


@dataclass(slots=True)
class _Sums:
    codes: int = 0
    amount_a: int = 0
    share: int = 0
    supplement: int = 0


def _total(parts: Iterable[_Sums]) -> _Sums:
    result = _Sums()
    for part in parts:
        result.codes += part.codes
        result.amount_a += part.amount_a
    return result


@dataclass(slots=True)
class _Invoice(_Sums):
    destination: str = ""
    last_50_rejected: bool = False


class Validator:
    """Feed records in order, then `finish()`; `rejections` holds every finding."""

    def __init__(self, header: Header, options: CheckOptions) -> None:
        self.header = header
        self.options = options
        self.rejections: list[Rejection] = []
        self.records = 0
        self._previous = ""
        self._invoice: _Invoice | None = None
        self._destination = ""
        # Per destination mutuality; file and federation totals are sums of these.
        self._mutualities: dict[str, _Sums] = {}
        self._oldest = months_before(options.today, options.max_age_months)
        self._handlers = {
            "10": self._record10,
            "20": self._record20,
            "50": self._record50,
            "51": self._record5x,
            "52": self._record5x,
            "80": self._record80,
            "90": self._record90,
            "95": self._record95,
            "96": self._record96,
        }

    def _reject(self, code: str, record: Record, zone: str, detail: str = "") -> None:
        self.rejections.append(rejection(code, record.index, record.type, zone, detail=detail))

    # --- structure, shared by every record ---------------------------------------------------

    def feed(self, record: Record) -> None:
        self.records += 1
        kind = record.type
        text = record.text
        if kind in CHECKSUM_TYPES:
            # Inlined checksum_ok: this runs for nearly every record of the file.
            total = (zlib.adler32(text[:348].encode("latin-1").translate(_VALUES)) & 0xFFFF) - 1
            written = text[348:350]
            if not written.isdigit() or (
                int(written) != (total % 97 or 97)
                and not (
                    self.options.accept_cin_checksum
                    and int(written) == ((total + CIN_CHECKSUM_OFFSET) % 97 or 97)
                )
            ):
                self._reject(f"{kind}9902", record, "99",
                             f"zone 99 {written!r}, expected {total % 97 or 97:02d}")
        rule = _PREDECESSORS.get(kind)
        if rule is not None and self._previous not in rule[0]:
            self._reject(rule[1], record, "1", f"after {self._previous or 'the header'}")
        if kind in _NUMBERED:
            number = text[2:8]
            if not number.isdigit():
                self._reject(f"{kind}0201", record, "2", f"{number!r}")
            elif int(number) != record.index:
                code = "100110" if kind == "10" else f"{kind}0210"
                self._reject(code, record, "2", f"{number} instead of {record.index:06d}")
        handler = self._handlers.get(kind)
        if handler is not None:
            handler(record)
        self._previous = kind

    def finish(self) -> list[Rejection]:
        return self.rejections

    # --- per record type ------------------------------------------------------------------

    def _record10(self, record: Record) -> None:
        text = record.text
        if self.header.segment300 and text[32:35] != self.header.zone300("301")[-3:]:
            self._reject("100720", record, "7", f"{text[32:35]} vs segment 300 "
                         f"{self.header.zone300('301')}")
        third_party = text[55:67]
        if not third_party.isdigit():
            self._reject("101401", record, "14", repr(third_party))
        elif not _nihii_ok(third_party[1:]):
            self._reject("101402", record, "14", third_party)
        year, month = text[107:112], text[112:114]
        if not year.isdigit():
            self._reject("102201", record, "22", repr(year))
        if not month.isdigit():
            self._reject("102301", record, "23", repr(month))
        created = parse_date(text[119:127])
        if created is None:
            self._reject("102501", record, "25", repr(text[119:127]))
        elif created > self.options.today:
            self._reject("102510", record, "25", f"{created} is after {self.options.today}")
        cbe = text[127:137]
        if cbe != "0000000000" and not is_valid_cbe(cbe):
            self._reject("102702", record, "27", cbe)

    def _record20(self, record: Record) -> None:
        text = record.text
        destination = text[84:87]
        if self._destination and destination < self._destination:
            self._reject("201812", record, "18", f"{destination} after {self._destination}")
        self._destination = destination
        self._invoice = _Invoice(destination=destination)
        beneficiary = text[35:48]
        error = _beneficiary_status(beneficiary)
        if error:
            self._reject("20080" + error, record, "8", beneficiary)
        elif (
            self.options.population is not None
            and self.options.population.find(beneficiary[2:]) is None
        ):
            self._reject("200820", record, "8", beneficiary[2:])
        institution = text[55:67]
        if _nihii_status(institution, True) == "2":
            self._reject("201402", record, "14", institution)

    def _amount(self, record: Record, start: int, end: int, code: str, zone: str) -> int:
        raw = record.text[start:end]
        try:
            return int(raw)
        except ValueError:
            self._reject(code, record, zone, repr(raw))
            return 0

    def _record50(self, record: Record) -> None:
        # The hot path of a file: each field check is a cached lookup on the raw slice.
        text = record.text
        found = self.rejections
        before = len(found)
        code = text[9:16]
        code_error = _code_status(code)
        if code_error:
            self._reject(code_error, record, "4", code)
        first, date_errors = _service_dates(text[16:32], self.options.today, self._oldest)
        for error_code, zone, detail in date_errors:
            self._reject(error_code, record, zone, detail)
        beneficiary = text[35:48]
        error = _beneficiary_status(beneficiary)
        if error:
            self._reject("50080" + error, record, "8", beneficiary)
        provider = text[67:79]
        error = _nihii_status(provider, False)
        if error:
            self._reject("50150" + error, record, "15", provider)
        prescriber = text[114:126]
        error = _nihii_status(prescriber, True)
        if error:
            self._reject("50240" + error, record, "24", prescriber)
        try:
            amount, share, supplement = int(text[87:99]), int(text[127:137]), int(text[164:174])
        except ValueError:
            amount = self._amount(record, 87, 99, "501901", "19")
            share = self._amount(record, 127, 137, "502701", "27")
            supplement = self._amount(record, 164, 174, "503001", "30")
        if self.options.population is not None and first is not None and len(found) == before:
            self._situation(record, code, first, beneficiary[2:], provider[1:], amount, share)
        sums = self._invoice
        if sums is not None:
            if not code_error or code_error == "500402" or code_error == "500432":
                sums.codes += int(code)
            sums.amount_a += amount
            sums.share += share
            sums.supplement += supplement
            sums.last_50_rejected = len(found) > before and any(
                r.letter == "R" for r in found[before:]
            )

    def _situation(
        self,
        record: Record,
        code: str,
        day: date,
        niss: str,
        nihii: str,
        amount: int,
        share: int,
    ) -> None:
        """The patient's situation on the service day, and the price the tariff gives."""
        population = self.options.population
        patient = population.find(niss) if population is not None else None
        if patient is None or population is None:
            return
        death = patient.death_date
        if death is not None and death <= day:
            self._reject("500549", record, "5", f"died {death}")
            return
        # Inlined Patient.period_on: this runs for every priced service.
        period = None
        for candidate in patient.periods:
            if candidate.start <= day and (candidate.end is None or day <= candidate.end):
                period = candidate
                break
        if period is None or not period.in_order:
            self._reject("500540", record, "5", f"not in order on {day}")
            return
        provider = population.provider(nihii)
        if provider is None:
            return
        holder = patient.dmg_holder
        dmg = holder is not None and holder[:8] == provider.nihii[:8]
        born = patient.birth_date
        age = day.year - born.year - ((day.month, day.day) < (born.month, born.day))
        prices = _tariff(code, patient, provider.kind, age, dmg, day)
        if prices is None:
            return
        text = record.text
        units = int(text[107:112]) if text[108:112].isdigit() else 1
        expected, expected_share = prices[0] * units, prices[1] * units
        if amount != expected:
            self._reject("501940", record, "19", f"{amount} cents, tariff gives {expected}")
        elif share != expected_share:
            self._reject("502741", record, "27", f"{share} cents, tariff gives {expected_share}")

    def _record5x(self, record: Record) -> None:
        code = record.text[9:16]
        if code.isdigit():
            self._add_code(int(code))
        invoice = self._invoice
        if invoice is not None and invoice.last_50_rejected:
            self._reject(f"{record.type}0119", record, "1", "its record 50 is rejected")

    def _add_code(self, code: int) -> None:
        if self._invoice is not None:
            self._invoice.codes += code

    def _record80(self, record: Record) -> None:
        text = record.text
        sums = self._invoice or _Invoice(destination=text[84:87])
        control = control_number(sums.codes)
        if text[346:348] != _TWO_DIGITS[control]:
            self._reject("809802", record, "98", f"{text[346:348]} instead of {control:02d}")
        try:
            amount, share, supplement = int(text[87:99]), int(text[127:137]), int(text[164:174])
        except ValueError:
            amount = self._amount(record, 87, 99, "801901", "19")
            share = self._amount(record, 127, 137, "802701", "27")
            supplement = self._amount(record, 164, 174, "803001", "30")
        if amount != sums.amount_a:
            self._reject("801910", record, "19", f"{text[87:99]} vs {sums.amount_a} cents")
        if share != sums.share:
            self._reject("802710", record, "27", f"{text[127:137]} vs {sums.share} cents")
        if supplement != sums.supplement:
            self._reject("803010", record, "30", f"{text[164:174]} vs {sums.supplement} cents")
        total = self._mutualities.get(sums.destination)
        if total is None:
            total = self._mutualities[sums.destination] = _Sums()
        total.codes += sums.codes
        total.amount_a += sums.amount_a
        self._invoice = None

    def _record90(self, record: Record) -> None:
        text = record.text
        whole = _total(self._mutualities.values())
        control = control_number(whole.codes)
        if text[346:348] != _TWO_DIGITS[control]:
            self._reject("909802", record, "98", f"{text[346:348]} instead of {control:02d}")
        if self._amount(record, 87, 99, "901901", "19") != whole.amount_a:
            self._reject("901911", record, "19", f"{text[87:99]} vs {whole.amount_a} cents")

    def _summary(self, record: Record, sums: _Sums) -> None:
        """95 (per mutuality) and 96 (per federation): control number and amount A."""
        text = record.text
        zone_control, zone_amount, code_control, code_amount = (
            ("410", "404", "954102", "954010")
            if record.type == "95"
            else ("510", "504", "965102", "965010")
        )
        expected = f"{control_number(sums.codes):02d}"
        if text[75:77] != expected:
            self._reject(code_control, record, zone_control,
                         f"{text[75:77]} instead of {expected}")
        try:
            amount = int(text[23:35])
        except ValueError:
            amount = -1
        if amount != sums.amount_a:
            self._reject(code_amount, record, zone_amount,
                         f"{text[23:35]} vs {sums.amount_a} cents")

    def _record95(self, record: Record) -> None:
        self._summary(record, self._mutualities.get(record.text[4:7], _Sums()))

    def _record96(self, record: Record) -> None:
        first = record.text[4:5]
        self._summary(
            record, _total(v for k, v in self._mutualities.items() if k.startswith(first))
        )


def check_records(
    header: Header, records: Iterable[Record], options: CheckOptions
) -> list[Rejection]:
    validator = Validator(header, options)
    for record in records:
        validator.feed(record)
    return validator.finish()


def check_file(source: BinaryIO | bytes, options: CheckOptions) -> list[Rejection]:
    """Parse and check a 920000; EfactFormatError when it cannot even be split into records."""
    header, records = parse(source)
    return check_records(header, records, options)

