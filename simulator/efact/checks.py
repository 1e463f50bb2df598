"""Pure rules over a 920000 file, record by record (domain-rules 6.2-6.5, wire-formats 6.4).

`Validator.feed` takes the records in file order and keeps only running totals, so a file of any
size is checked in constant memory. Nothing here reads a clock or a file: `today` and the
population come in `CheckOptions`. Findings are `Rejection`s with the exact catalogue code.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable, Iterable
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
from simulator.domain.population import Population
from simulator.efact.errors import Rejection, rejection
from simulator.efact.layout import RECORD_LENGTH, layouts
from simulator.efact.parser import (
    Header,
    Record,
    iter_chunks,
    iter_records,
    open_source,
    read_header,
    unknown_type,
)
from simulator.efact.situation import Situations

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


@lru_cache(maxsize=16384)
def _provider_status(value: str) -> str:
    """_nihii_status of a NIHII that must be given (one cached argument: the hot path)."""
    return _nihii_status(value, False)


@lru_cache(maxsize=16384)
def _optional_nihii_status(value: str) -> str:
    """_nihii_status of a NIHII that may be all zeros."""
    return _nihii_status(value, True)


# Zones 4, 5 and 6a of a record 50 (chars 10-32): what the code adds to the control number
# (0 when it does not count), the code, the first service date, and the findings (code,
# zone, detail) in order.
_CodeAndDates = tuple[int, str, date | None, tuple[tuple[str, str, str], ...]]


def _code_and_dates(zones: str, today: date, oldest: date) -> _CodeAndDates:
    code = zones[:7]
    code_error = _code_status(code)
    first, date_errors = _service_dates(zones[7:], today, oldest)
    found = ((code_error, "4", code),) if code_error else ()
    summable = code_error in ("", "500402", "500432")  # digits, whatever their validity
    return int(code) if summable else 0, code, first, found + date_errors


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

# Everything the structure rules need of a record type:
# (checksummed, allowed predecessors or None, code when out of order, numbered).
_Rule = tuple[bool, frozenset[str] | None, str, bool]
_KNOWN_TYPES = frozenset(key for key in layouts() if len(key) == 2)
_RULES: dict[str, _Rule] = {
    kind: (
        kind in CHECKSUM_TYPES,
        _PREDECESSORS[kind][0] if kind in _PREDECESSORS else None,
        _PREDECESSORS[kind][1] if kind in _PREDECESSORS else "",
        kind in _NUMBERED,
    )
    for kind in sorted(_KNOWN_TYPES | CHECKSUM_TYPES | _NUMBERED | set(_PREDECESSORS))
}


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
    """Feed records in order, then `finish()`; `rejections` holds every finding.

    `feed` takes one `Record`; `feed_chunk` takes many 350-char records as raw bytes, which is
    how `check_file` reads a 920000: no `Record` object per record, one decode and one
    checksum translation per chunk instead of one per record. Both give the same findings.
    """

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
        # Options read on every record, kept as plain attributes.
        self._today = options.today
        self._population = options.population
        self._situations = None if options.population is None else Situations(options.population)
        self._accept_cin = options.accept_cin_checksum
        self._oldest = months_before(options.today, options.max_age_months)
        self._codes_dates: dict[str, _CodeAndDates] = {}
        handlers: dict[str, Callable[[int, str], None]] = {
            "10": self._record10,
            "20": self._record20,
            "50": self._record50,
            "51": self._record51,
            "52": self._record52,
            "80": self._record80,
            "90": self._record90,
            "95": self._record95,
            "96": self._record96,
        }
        # The structure rules and the handler of each type, found with one lookup per record.
        self._rules: dict[str, tuple[_Rule, Callable[[int, str], None] | None]] = {
            kind: (rule, handlers.get(kind)) for kind, rule in _RULES.items()
        }

    def _reject(self, code: str, index: int, kind: str, zone: str, detail: str = "") -> None:
        self.rejections.append(rejection(code, index, kind, zone, detail=detail))

    # --- structure, shared by every record ---------------------------------------------------

    def feed(self, record: Record) -> None:
        """Check one record (its type is its first two characters, as the parser gives)."""
        text = record.text
        checksummed = text[:2] in CHECKSUM_TYPES
        values = text[:348].encode("latin-1").translate(_VALUES) if checksummed else b""
        self._run(text, values, record.index, max(len(text), 1), None)  # a run of one

    def feed_chunk(self, chunk: bytes, offset: int, first_index: int) -> int:
        """Check the 350-char records of `chunk` (raw bytes at byte `offset` of the file, the
        first one numbered `first_index`); return the number of the last one.

        EfactFormatError on a record of unknown type, as `iter_records` would raise it.
        """
        text = chunk.decode("latin-1")
        return self._run(text, chunk.translate(_VALUES), first_index, RECORD_LENGTH, offset)

    def _run(
        self, text: str, values: bytes, first_index: int, stride: int, offset: int | None
    ) -> int:
        """Checksum, order and numbering of the records in `text` (`stride` chars each, the
        first numbered `first_index`), then each type's own rules; returns the last number.

        `values` holds the character values of `text` for the checksums. With an `offset`
        (where `text` starts in the file) a record of unknown type is an EfactFormatError.
        This loop runs for every record of every file: rules are looked up once per record
        type, and state is kept in locals until the end.
        """
        rules = self._rules
        two_digits = _TWO_DIGITS
        adler32 = zlib.adler32
        reject = self._reject
        previous = self._previous
        index = first_index - 1
        for start in range(0, len(text), stride):
            index += 1
            kind = text[start : start + 2]
            found = rules.get(kind)
            if found is None:
                if offset is not None and kind not in _KNOWN_TYPES:
                    self._previous = previous
                    raise unknown_type(offset + start, index, kind)
                previous = kind
                continue
            (checksummed, allowed, order_code, numbered), handler = found
            record = text[start : start + stride]
            if checksummed:
                # Adler-32's low half is 1 + the exact byte sum here (see character_sum), in C;
                # a bytes slice (a 348-byte copy) is cheaper than a memoryview object.
                total = (adler32(values[start : start + 348]) & 0xFFFF) - 1
                if record[348:350] != two_digits[total % 97 or 97]:  # else the plain value
                    self._checksum(index, kind, record, total)
            if allowed is not None and previous not in allowed:
                reject(order_code, index, kind, "1", f"after {previous or 'the header'}")
            if numbered:
                number = record[2:8]
                if not number.isdigit():
                    reject(f"{kind}0201", index, kind, "2", f"{number!r}")
                elif int(number) != index:
                    code = "100110" if kind == "10" else f"{kind}0210"
                    reject(code, index, kind, "2", f"{number} instead of {index:06d}")
            if handler is not None:
                handler(index, record)
            previous = kind
        self.records += index - first_index + 1
        self._previous = previous
        return index

    def _checksum(self, index: int, kind: str, text: str, total: int) -> None:
        """Zone 99 when it is not the plain checksum: the CIN variant, or a rejection."""
        written = text[348:350]
        if not written.isdigit() or (
            int(written) != (total % 97 or 97)
            and not (
                self._accept_cin and int(written) == ((total + CIN_CHECKSUM_OFFSET) % 97 or 97)
            )
        ):
            self._reject(f"{kind}9902", index, kind, "99",
                         f"zone 99 {written!r}, expected {total % 97 or 97:02d}")

    def finish(self) -> list[Rejection]:
        return self.rejections

    # --- per record type ------------------------------------------------------------------

    def _record10(self, index: int, text: str) -> None:
        today = self._today
        if self.header.segment300 and text[32:35] != self.header.zone300("301")[-3:]:
            self._reject("100720", index, "10", "7", f"{text[32:35]} vs segment 300 "
                         f"{self.header.zone300('301')}")
        third_party = text[55:67]
        if not third_party.isdigit():
            self._reject("101401", index, "10", "14", repr(third_party))
        elif not _nihii_ok(third_party[1:]):
            self._reject("101402", index, "10", "14", third_party)
        year, month = text[107:112], text[112:114]
        if not year.isdigit():
            self._reject("102201", index, "10", "22", repr(year))
        if not month.isdigit():
            self._reject("102301", index, "10", "23", repr(month))
        created = parse_date(text[119:127])
        if created is None:
            self._reject("102501", index, "10", "25", repr(text[119:127]))
        elif created > today:
            self._reject("102510", index, "10", "25", f"{created} is after {today}")
        cbe = text[127:137]
        if cbe != "0000000000" and not is_valid_cbe(cbe):
            self._reject("102702", index, "10", "27", cbe)

    def _record20(self, index: int, text: str) -> None:
        destination = text[84:87]
        if self._destination and destination < self._destination:
            self._reject("201812", index, "20", "18", f"{destination} after {self._destination}")
        self._destination = destination
        self._invoice = _Invoice(destination=destination)
        beneficiary = text[35:48]
        error = _beneficiary_status(beneficiary)
        if error:
            self._reject("20080" + error, index, "20", "8", beneficiary)
        elif self._population is not None and self._population.find(beneficiary[2:]) is None:
            self._reject("200820", index, "20", "8", beneficiary[2:])
        institution = text[55:67]
        if _optional_nihii_status(institution) == "2":
            self._reject("201402", index, "20", "14", institution)

    def _amount(
        self, index: int, kind: str, text: str, start: int, end: int, code: str, zone: str
    ) -> int:
        raw = text[start:end]
        try:
            return int(raw)
        except ValueError:
            self._reject(code, index, kind, zone, repr(raw))
            return 0

    def _record50(self, index: int, text: str) -> None:
        # The hot path of a file: each field check is a cached lookup on the raw slice.
        found = self.rejections
        before = len(found)
        zones = text[9:32]  # code and service dates: a file has few distinct ones
        checked = self._codes_dates.get(zones)
        if checked is None:
            if len(self._codes_dates) >= 4096:  # bounded on files of random garbage
                self._codes_dates.clear()
            checked = _code_and_dates(zones, self._today, self._oldest)
            self._codes_dates[zones] = checked
        code_value, code, first, zone_findings = checked
        for error_code, zone, detail in zone_findings:
            self._reject(error_code, index, "50", zone, detail)
        beneficiary = text[35:48]
        error = _beneficiary_status(beneficiary)
        if error:
            self._reject("50080" + error, index, "50", "8", beneficiary)
        provider = text[67:79]
        error = _provider_status(provider)
        if error:
            self._reject("50150" + error, index, "50", "15", provider)
        prescriber = text[114:126]
        error = _optional_nihii_status(prescriber)
        if error:
            self._reject("50240" + error, index, "50", "24", prescriber)
        try:
            amount, share, supplement = int(text[87:99]), int(text[127:137]), int(text[164:174])
        except ValueError:
            amount = self._amount(index, "50", text, 87, 99, "501901", "19")
            share = self._amount(index, "50", text, 127, 137, "502701", "27")
            supplement = self._amount(index, "50", text, 164, 174, "503001", "30")
        if self._situations is not None and first is not None and len(found) == before:
            finding = self._situations.check(
                code, first, text[16:24], text[37:48], text[68:79], text[107:112], amount, share
            )
            if finding is not None:
                self._reject(finding[0], index, "50", finding[1], finding[2])
        sums = self._invoice
        if sums is not None:
            sums.codes += code_value
            sums.amount_a += amount
            sums.share += share
            sums.supplement += supplement
            sums.last_50_rejected = len(found) > before and any(
                r.letter == "R" for r in found[before:]
            )

    def _record51(self, index: int, text: str) -> None:
        self._record5x(index, "51", text)

    def _record52(self, index: int, text: str) -> None:
        self._record5x(index, "52", text)

    def _record5x(self, index: int, kind: str, text: str) -> None:
        code = text[9:16]
        if code.isdigit():
            self._add_code(int(code))
        invoice = self._invoice
        if invoice is not None and invoice.last_50_rejected:
            self._reject(f"{kind}0119", index, kind, "1", "its record 50 is rejected")

    def _add_code(self, code: int) -> None:
        if self._invoice is not None:
            self._invoice.codes += code

    def _record80(self, index: int, text: str) -> None:
        sums = self._invoice or _Invoice(destination=text[84:87])
        control = control_number(sums.codes)
        if text[346:348] != _TWO_DIGITS[control]:
            self._reject("809802", index, "80", "98",
                         f"{text[346:348]} instead of {control:02d}")
        try:
            amount, share, supplement = int(text[87:99]), int(text[127:137]), int(text[164:174])
        except ValueError:
            amount = self._amount(index, "80", text, 87, 99, "801901", "19")
            share = self._amount(index, "80", text, 127, 137, "802701", "27")
            supplement = self._amount(index, "80", text, 164, 174, "803001", "30")
        if amount != sums.amount_a:
            self._reject("801910", index, "80", "19", f"{text[87:99]} vs {sums.amount_a} cents")
        if share != sums.share:
            self._reject("802710", index, "80", "27", f"{text[127:137]} vs {sums.share} cents")
        if supplement != sums.supplement:
            self._reject("803010", index, "80", "30",
                         f"{text[164:174]} vs {sums.supplement} cents")
        total = self._mutualities.get(sums.destination)
        if total is None:
            total = self._mutualities[sums.destination] = _Sums()
        total.codes += sums.codes
        total.amount_a += sums.amount_a
        self._invoice = None

    def _record90(self, index: int, text: str) -> None:
        whole = _total(self._mutualities.values())
        control = control_number(whole.codes)
        if text[346:348] != _TWO_DIGITS[control]:
            self._reject("909802", index, "90", "98",
                         f"{text[346:348]} instead of {control:02d}")
        if self._amount(index, "90", text, 87, 99, "901901", "19") != whole.amount_a:
            self._reject("901911", index, "90", "19", f"{text[87:99]} vs {whole.amount_a} cents")

    def _summary(self, index: int, kind: str, text: str, sums: _Sums) -> None:
        """95 (per mutuality) and 96 (per federation): control number and amount A."""
        zone_control, zone_amount, code_control, code_amount = (
            ("410", "404", "954102", "954010")
            if kind == "95"
            else ("510", "504", "965102", "965010")
        )
        expected = f"{control_number(sums.codes):02d}"
        if text[75:77] != expected:
            self._reject(code_control, index, kind, zone_control,
                         f"{text[75:77]} instead of {expected}")
        try:
            amount = int(text[23:35])
        except ValueError:
            amount = -1
        if amount != sums.amount_a:
            self._reject(code_amount, index, kind, zone_amount,
                         f"{text[23:35]} vs {sums.amount_a} cents")

    def _record95(self, index: int, text: str) -> None:
        self._summary(index, "95", text, self._mutualities.get(text[4:7], _Sums()))

    def _record96(self, index: int, text: str) -> None:
        first = text[4:5]
        federation = _total(v for k, v in self._mutualities.items() if k.startswith(first))
        self._summary(index, "96", text, federation)


def check_records(
    header: Header, records: Iterable[Record], options: CheckOptions
) -> list[Rejection]:
    validator = Validator(header, options)
    for record in records:
        validator.feed(record)
    return validator.finish()


def check_file(source: BinaryIO | bytes, options: CheckOptions) -> list[Rejection]:
    """Parse and check a 920000; EfactFormatError when it cannot even be split into records."""
    stream = open_source(source)
    header = read_header(stream)
    if not header.has_records or header.stride != RECORD_LENGTH:
        return check_records(header, iter_records(stream, header), options)
    # A 920000: read whole chunks, same findings and errors as feeding iter_records.
    validator = Validator(header, options)
    index = 1
    for offset, chunk in iter_chunks(stream, header):
        index = validator.feed_chunk(chunk, offset, index) + 1
    return validator.finish()
