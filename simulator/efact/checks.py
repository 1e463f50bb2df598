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
from simulator.domain.mediprima_invoicing import MEDIPRIMA_FEDERATION, MediprimaInvoices, Record25
from simulator.domain.population import Population
from simulator.efact.errors import (
    INCOMPLETE_RECORD,
    INVALID_CHARACTER,
    Rejection,
    known_code,
    own_code,
    rejection,
)
from simulator.efact.layout import RECORD_LENGTH, SEGMENT200_LENGTH, Zone, layouts
from simulator.efact.parser import (
    INVALID_BYTE,
    MESSAGE_920000,
    Framed,
    Header,
    Record,
    ascii_digits,
    iter_chunks,
    iter_records,
    open_source,
    plain,
    read_header,
)
from simulator.efact.situation import TARIFF_CODES, Commitment, Situations, _unit_count

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
    if not ascii_digits(written):
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
    if len(text) != 8 or not ascii_digits(text):
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
# ... then the first date as YYYYMMDD (0 when not a date) and whether it is also the last one.
_CodeAndDates = tuple[int, str, date | None, tuple[tuple[str, str, str], ...], int, bool]


def _code_and_dates(zones: str, today: date, oldest: date) -> _CodeAndDates:
    code = zones[:7]
    code_error = _code_status(code)
    first, date_errors = _service_dates(zones[7:], today, oldest)
    found = ((code_error, "4", code),) if code_error else ()
    summable = code_error in ("", "500402", "500432")  # digits, whatever their validity
    on = int(zones[7:15]) if first is not None else 0
    return (int(code) if summable else 0, code, first, found + date_errors, on,
            zones[7:15] == zones[15:23])  # fmt: skip


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
_ANSWER_ONLY = frozenset({"91", "92"})  # settlement records of a 920900, never in a 920000

# A record whose type is unknown gets the catalogue's "X0101 Type d'enregistrement non
# numerique" (two characters that are not digits) or "X0103 Type d'enregistrement non autorise"
# (EfactErrors.json: 100101/100103 ... 900101/900103, all B), where X is the type the insurer
# expected at that place after the previous known record (domain-rules 6.2): the catalogue
# has these codes per record type only. 95/96 have no codes: after the 90 it is the 90's.
_EXPECTED_AFTER = {
    "": "10", "10": "20", "20": "50", "25": "50", "30": "50", "50": "50", "51": "50", "52": "50",
    "80": "20", "90": "90", "95": "90", "96": "90",
}  # fmt: skip
NOT_NUMERIC, NOT_ALLOWED = "01", "03"

# Everything the structure rules need of a record type:
# (checksummed, allowed predecessors or None, code when out of order, numbered).
_Rule = tuple[bool, frozenset[str] | None, str, bool]
_KNOWN_TYPES = frozenset(key for key in layouts() if len(key) == 2) - _ANSWER_ONLY
_RULES: dict[str, _Rule] = {
    kind: (
        kind in CHECKSUM_TYPES,
        _PREDECESSORS[kind][0] if kind in _PREDECESSORS else None,
        _PREDECESSORS[kind][1] if kind in _PREDECESSORS else "",
        kind in _NUMBERED,
    )
    for kind in sorted(_KNOWN_TYPES | CHECKSUM_TYPES | _NUMBERED | set(_PREDECESSORS))
}


def unknown_type_code(kind: str, previous: str) -> str:
    """The code of a record of unknown type `kind` after a record of type `previous`."""
    expected = _EXPECTED_AFTER.get(previous, "90")
    error = NOT_ALLOWED if len(kind) == 2 and ascii_digits(kind) else NOT_NUMERIC
    return f"{expected}01{error}"


def _zone_code(kind: str, zone: Zone) -> str:
    """What the real checks say of a character a zone does not allow: "ZZ01 non numerique" for
    a numeric zone, else "ZZ03 non autorise" (e.g. 500801, 501903 in EfactErrors.json), the
    check digit codes "ZZ02" for zones 98/99 (109902, 809802); else the simulator's T0003."""
    number = zone.number
    if number < 100:
        base = f"{kind}{number:02d}"
        candidates = [base + "01"] if zone.kind == "N" else []
        candidates.append(base + "03")
        if zone.name in ("98", "99"):
            candidates.append(base + "02")
        for code in candidates:
            if known_code(code):
                return code
    return own_code(kind, INVALID_CHARACTER)


@lru_cache(maxsize=32)
def _invalid_codes(kind: str) -> tuple[tuple[str, str], ...]:
    """(code, zone) for an invalid character at each position of a record of type `kind`."""
    found: list[tuple[str, str]] = []
    for zone in layouts()[kind].zones:
        found.extend([(_zone_code(kind, zone), zone.name)] * zone.length)
    return tuple(found)


def invalid_character_code(kind: str, position: int) -> tuple[str, str]:
    """(code, zone) for a byte outside printable ASCII at 0-based `position` of a record of
    known type `kind` (wire-formats 6.1: flat files are plain ASCII)."""
    codes = _invalid_codes(kind)
    if 0 <= position < len(codes):
        return codes[position]
    return own_code(kind, INVALID_CHARACTER), "0"


def framing_rejections(framed: Framed) -> list[Rejection]:
    """What `parser.frame` had to repair to read a posted file, as blocking findings: a message
    type that is not 920000 (the segment 200 "Type" zone is its record type: 100103 "Type
    d'enregistrement non autorise"), invalid characters in segments 200/300 (their zones
    are linked to record 10: 100003), and a last record the file ends inside (T0004)."""
    found: list[Rejection] = []
    if framed.message_type:
        found.append(rejection("100103", 1, "10", "1", detail=(
            f"segment 200 zone 200: message type {framed.message_type!r} is not "
            f"{MESSAGE_920000}")))
    segments = framed.segments
    bad = INVALID_BYTE.search(segments)
    if bad is not None:
        where = "200" if bad.start() < SEGMENT200_LENGTH else "300"
        found.append(rejection(own_code("10", INVALID_CHARACTER), 1, "10", "0", detail=(
            f"segment {where}: byte {segments[bad.start()]:#04x} at position {bad.start() + 1}")))
    if framed.tail:
        index = framed.records
        start = SEGMENT200_LENGTH + 160 + (index - 1) * RECORD_LENGTH
        with framed.open(printable=True) as stream:
            stream.seek(start)
            kind = stream.read(2).decode("ascii")
        found.append(rejection(own_code(kind, INCOMPLETE_RECORD), index, kind, "0", detail=(
            f"the file ends after {framed.tail} of {RECORD_LENGTH} chars of record {index}")))
    return found


@dataclass(frozen=True)
class CheckOptions:
    today: date
    population: Population | None = None  # beneficiaries, providers, prices; None: skip those
    accept_cin_checksum: bool = True
    max_age_months: int = 2  # services older than this (on `today`) are refused
    # A MediPrima file (mailbox hcpfac_12, CAAMI): every invoice goes to 690 and is judged by
    # CAAMI's rules (domain.mediprima_invoicing, docs/rules.md) instead of an insurer's.
    mediprima: MediprimaInvoices | None = None
    # The union the file was posted to (3 digits): one file per insurer, so an invoice for
    # another union's mutuality is refused (B201803, docs/rules.md "eFact"). None: not checked.
    insurer: str | None = None
    # Payment commitments eTar handed out, by number (record 51 zones 42-45): None, not checked.
    commitments: Callable[[str], Commitment | None] | None = None
    # Services older than `max_age_months`: "fine" (S-FAQ-INAMI: an administrative fine, the
    # file is accepted; E500503) or "reject" (R500503), the scenario's efact_two_month_rule.
    two_month_rule: str = "fine"


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
    beneficiary: str = ""  # NISS of record 20 (MediPrima files)
    record25: tuple[int, str] | None = None  # MediPrima: judged with the first service date
    # The last record 50: (index, its text, where its findings start in `rejections`), for
    # the commitment of a record 51 that follows it.
    last_50: tuple[int, str, int] | None = None
    unknown: bool = False  # the beneficiary is unknown (F200820): the invoice goes no further


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
        self._saw_90 = False
        self._invoice: _Invoice | None = None
        self._destination = ""
        # Per destination mutuality; file and federation totals are sums of these.
        self._mutualities: dict[str, _Sums] = {}
        # Options read on every record, kept as plain attributes.
        self._today = options.today
        self._population = options.population
        self._situations = None if options.population is None else Situations(options.population)
        self._mediprima = options.mediprima
        self._accept_cin = options.accept_cin_checksum
        self._oldest = months_before(options.today, options.max_age_months)
        self._fine_old = options.two_month_rule != "reject"
        self._insurer_union = options.insurer[:1] if options.insurer else ""
        self._commitments = options.commitments
        # Person (first 8 NIHII digits) of the third party of record 10 when it is a provider
        # billing for himself: one file per doctor (S-FAQ-INAMI), "" when not checked.
        self._third_person = ""
        self._codes_dates: dict[str, _CodeAndDates] = {}
        handlers: dict[str, Callable[[int, str], None]] = {
            "10": self._record10,
            "20": self._record20,
            "25": self._record25,
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

    def _reject(
        self, code: str, index: int, kind: str, zone: str, detail: str = "",
        letter: str | None = None,
    ) -> None:
        self.rejections.append(rejection(code, index, kind, zone, detail=detail, letter=letter))

    # --- structure, shared by every record ---------------------------------------------------

    def feed(self, record: Record) -> None:
        """Check one record (its type is its first two characters, as the parser gives)."""
        raw = record.text.encode("latin-1", "replace")
        invalid = INVALID_BYTE.search(raw) is not None
        text = plain(raw).decode("ascii") if invalid else record.text
        checksummed = text[:2] in CHECKSUM_TYPES
        values = text[:348].encode("latin-1").translate(_VALUES) if checksummed else b""
        stride = max(len(text), 1)
        self._run(text, values, record.index, stride, None)  # a run of one
        if invalid:
            self._invalid(raw, text, record.index, stride)

    def feed_chunk(self, chunk: bytes, offset: int, first_index: int) -> int:
        """Check the 350-char records of `chunk` (raw bytes at byte `offset` of the file, the
        first one numbered `first_index`); return the number of the last one.

        Bytes outside printable ASCII are reported (`invalid_character_code`) and checked as
        "?": every rule sees ASCII ("²".isdigit() is True, int("²") raises).
        """
        invalid = INVALID_BYTE.search(chunk) is not None
        if invalid:
            clean = plain(chunk)
            text = clean.decode("ascii")
        else:
            clean, text = chunk, chunk.decode("latin-1")
        last = self._run(text, clean.translate(_VALUES), first_index, RECORD_LENGTH, offset)
        if invalid:
            self._invalid(chunk, text, first_index, RECORD_LENGTH)
        return last

    def _invalid(self, raw: bytes, text: str, first_index: int, stride: int) -> None:
        """One finding per record of known type holding a byte outside printable ASCII (its
        first one), unless the zone's own check already gave that code."""
        given: dict[int, set[str]] = {}
        for item in reversed(self.rejections):
            if item.index < first_index:
                break
            given.setdefault(item.index, set()).add(item.code)
        seen = -1
        for match in INVALID_BYTE.finditer(raw):
            position = match.start()
            number = position // stride
            if number == seen:
                continue
            seen = number
            start = number * stride
            kind = text[start : start + 2]
            if kind not in self._rules:
                continue  # an unknown type: reported as such
            index = first_index + number
            code, zone = invalid_character_code(kind, position - start)
            if code in given.get(index, ()):
                continue
            self._reject(code, index, kind, zone,
                         f"byte {raw[position]:#04x} at position {position - start + 1}")

    def _run(
        self, text: str, values: bytes, first_index: int, stride: int, offset: int | None
    ) -> int:
        """Checksum, order and numbering of the records in `text` (`stride` chars each, the
        first numbered `first_index`), then each type's own rules; returns the last number.

        `values` holds the character values of `text` for the checksums; `offset` is where
        `text` starts in the file (None for a single record). A record of unknown type is a
        finding (`unknown_type_code`), never an exception: the file must still be answered.
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
                # Reported, then skipped: its neighbours are judged on the known sequence.
                reject(unknown_type_code(kind, previous), index, kind, "1",
                       f"record type {kind!r} after {previous or 'the header'}")
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
        """Every finding, by record (stable: in the order found for each record)."""
        if not self._saw_90 and self.header.has_records and self.header.stride == RECORD_LENGTH:
            # 900104 "Type d'enregistrement 90 absent" (B), on the last record
            self._reject("900104", max(self.records, 1), "90", "1", "the file has no record 90")
            self._saw_90 = True  # finish() may be called again: report it once
        self.rejections.sort(key=_by_index)
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
        population = self._population
        if (
            population is not None
            and self._mediprima is None
            and third_party.isdigit()
            and population.provider(third_party[1:]) is not None
            and population.institution(third_party[1:]) is None
        ):
            # A doctor's own file: since 1 Sep 2025 no group number, one file per doctor and
            # insurer (S-FAQ-INAMI); an institution (hospital under mandate) bills for others.
            self._third_person = third_party[1:9]

    def _record20(self, index: int, text: str) -> None:
        destination = text[84:87]
        if self._destination and destination < self._destination:
            self._reject("201812", index, "20", "18", f"{destination} after {self._destination}")
        self._destination = destination
        self._invoice = _Invoice(destination=destination)
        union = self._insurer_union
        if union and self._mediprima is None and destination[:1] != union:
            # One union per file: the insurer cannot take another union's invoice (EfactErrors
            # 201803 "Numéro de mutualité de destination non autorisé", B), docs/rules.md.
            self._reject("201803", index, "20", "18",
                         f"{destination} in a file to insurer {self.options.insurer}")
        beneficiary = text[35:48]
        error = _beneficiary_status(beneficiary)
        if error:
            self._reject("20080" + error, index, "20", "8", beneficiary)
        elif self._mediprima is not None:
            self._invoice.beneficiary = beneficiary[2:]
            if destination != MEDIPRIMA_FEDERATION:  # CAAMI takes MediPrima invoices only
                self._reject("201803", index, "20", "18", f"{destination}, MediPrima is 690")
            finding = self._mediprima.beneficiary(beneficiary[2:])
            if finding is not None:
                self._reject(finding[0], index, "20", finding[1], finding[2])
        elif self._population is not None and self._population.find(beneficiary[2:]) is None:
            self._reject("200820", index, "20", "8", beneficiary[2:])
            self._invoice.unknown = True
        institution = text[55:67]
        if _optional_nihii_status(institution) == "2":
            self._reject("201402", index, "20", "14", institution)

    def _record25(self, index: int, text: str) -> None:
        # MediPrima beneficiary record: judged at the first service (its date picks the decision).
        if self._mediprima is not None and self._invoice is not None:
            self._invoice.record25 = (index, text)

    def _mediprima_record25(self, day: date | None) -> None:
        invoice = self._invoice
        if self._mediprima is None or invoice is None or invoice.record25 is None:
            return
        index, text = invoice.record25
        invoice.record25 = None
        record = Record25(
            beneficiary=text[35:48],
            urgent_aid=text[51:52],
            cpas_cbe=text[182:194].strip(),
            card_number=text[328:340],
            card_version=text[340:346],
        )
        for code, zone, detail in self._mediprima.record25(invoice.beneficiary, record, day):
            self._reject(code, index, "25", zone, detail)

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
        code_value, code, first, zone_findings, on, one_day = checked
        for error_code, zone, detail in zone_findings:
            # Too old: an administrative fine, the service is paid (S-FAQ-INAMI), so annotated
            # (E) in the answers unless the insurer's scenario rejects (docs/rules.md).
            letter = "E" if error_code == "500503" and self._fine_old else None
            self._reject(error_code, index, "50", zone, detail, letter)
        beneficiary = text[35:48]
        unknown = _beneficiary_status(beneficiary)
        if unknown:
            self._reject("50080" + unknown, index, "50", "8", beneficiary)
        provider = text[67:79]
        error = _provider_status(provider)
        if error:
            self._reject("50150" + error, index, "50", "15", provider)
        elif self._third_person and not text.startswith(self._third_person, 68):
            # Another doctor's service in a doctor's file: EfactErrors 501503 "Numéro
            # d'identification du dispensateur non autorisé" (R) [I], docs/rules.md.
            self._reject("501503", index, "50", "15",
                         f"{provider} in the file of {self._third_person}")
        prescriber = text[114:126]
        error = _optional_nihii_status(prescriber)
        if error:
            self._reject("50240" + error, index, "50", "24", prescriber)
        numeric = True
        try:
            amount, share, supplement = int(text[87:99]), int(text[127:137]), int(text[164:174])
        except ValueError:
            numeric = False
            amount = self._amount(index, "50", text, 87, 99, "501901", "19")
            share = self._amount(index, "50", text, 127, 137, "502701", "27")
            supplement = self._amount(index, "50", text, 164, 174, "503001", "30")
        if self._mediprima is not None and self._invoice is not None:
            self._mediprima_record25(first)
            if first is not None and len(found) == before:
                finding = self._mediprima.service(
                    text[37:48], code, first, text[68:79], _unit_count(text[107:112]),
                    amount, share,
                )  # fmt: skip
                if finding is not None:
                    self._reject(finding[0], index, "50", finding[1], finding[2])
        elif self._situations is not None and first is not None and not unknown:
            # Every finding of the record is reported (the FAQ: 501940, 502742 and 514225 often
            # come together), not only the first.
            findings = self._situations.check(
                code, text, on, one_day, amount if numeric else None, share if numeric else None
            )
            if findings:
                for finding in findings:
                    self._reject(finding[0], index, "50", finding[1], finding[2])
        sums = self._invoice
        if sums is not None:
            # Where this record's findings start: a commitment in its 51 may withdraw some.
            sums.last_50 = (index, text, before)
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
        own = False
        if kind == "51" and invoice is not None and self._commitments is not None:
            own = self._commitment(index, text, invoice)
        if invoice is not None and invoice.last_50_rejected and not own:
            self._reject(f"{kind}0119", index, kind, "1", "its record 50 is rejected")

    def _commitment(self, index: int, text: str, invoice: _Invoice) -> bool:
        """Record 51 zones 42-45: the eTar payment commitment of the service of its record 50
        (domain-rules 4: "the invoice will normally always be accepted"). An unknown number,
        or one given for another patient, code, day or provider: R514225 on the 51. A valid one
        replaces the tariff's amount findings of the 50: its amounts must be the committed ones
        (R501920, R502742). True when the 51 itself is rejected."""
        number = text[212:260].strip()
        last = invoice.last_50
        if not number or last is None or self._commitments is None or invoice.unknown:
            return False
        at, record50, tariff_from = last
        committed = self._commitments(number)
        code = record50[10:16]
        if (
            committed is None
            or committed.patient != record50[37:48]
            or committed.code != code
            or committed.day.strftime("%Y%m%d") != record50[16:24]
            or committed.provider[:8] != record50[68:76]
        ):
            self._reject("514225", index, "51", "42", f"{number}: no such commitment for "
                         f"{record50[37:48]} {code} on {record50[16:24]}")
            return True
        found = self.rejections
        kept = [r for r in found[tariff_from:] if not (r.index == at and r.code in TARIFF_CODES)]
        del found[tariff_from:]
        found.extend(kept)
        count = _unit_count(record50[107:112])
        try:
            amount, share = int(record50[87:99]), int(record50[127:137])
        except ValueError:
            return False  # not numeric: reported on the 50
        if amount != committed.reimbursement * count:
            self._reject("501920", at, "50", "19", f"{amount} cents, commitment {number} gives "
                         f"{committed.reimbursement * count}")
        if share > committed.patient_fee * count:
            self._reject("502742", at, "50", "27", f"{share} cents, commitment {number} gives "
                         f"{committed.patient_fee * count}")
        invoice.last_50_rejected = any(
            r.letter == "R" for r in self.rejections if r.index == at
        )
        return False

    def _add_code(self, code: int) -> None:
        if self._invoice is not None:
            self._invoice.codes += code

    def _record80(self, index: int, text: str) -> None:
        self._mediprima_record25(None)  # an invoice without services still has its 25 judged
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
        self._saw_90 = True
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


def _by_index(item: Rejection) -> int:
    return item.index


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
