"""Writing eFact flat files: 920000 invoice files, and the insurer's 931000, 920098, 920099 and
920900 answers. Every output is readable by `simulator.efact.parser` with the same layouts.

`InvoiceFileWriter` streams: invoices go out as they come, only running totals are kept, and
the order numbers, checksums (zone 99), control numbers (zones 98/410/510) and totals of
80/90/95/96 are computed here, so callers pass facts, not derived values.
"""

from __future__ import annotations

import unicodedata
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import BinaryIO

from simulator.efact.block import MAX_ERRORS, BlockError, ErrorBlock, format_block
from simulator.efact.checks import control_number, record_checksum
from simulator.efact.errors import Rejection
from simulator.efact.layout import layout
from simulator.efact.parser import Header, Record, ascii_digits, open_source, plain

TEST_VERSION = "9991999"  # segment 300 zone 304 / record 10 zone 4 in test files


def signed(cents: int, width: int) -> str:
    """Sign + zero-padded amount in `width` chars ("+00000001942")."""
    return ("-" if cents < 0 else "+") + str(abs(cents)).rjust(width - 1, "0")


def with_checksum(text: str, *, cin_variant: bool = False) -> str:
    """`text` with zone 99 set to its checksum."""
    return text[:348] + f"{record_checksum(text, cin_variant=cin_variant):02d}"


@dataclass(frozen=True)
class Service:
    code: str  # 7 digits
    day: date
    niss: str
    provider: str  # NIHII-11
    amount: int  # insurer part in cents (all units)
    share: int  # patient share in cents
    units: int = 1
    supplement: int = 0
    mutuality: str = ""  # of affiliation; the invoice's when empty
    corrupt_checksum: bool = False  # test files: write a wrong zone 99 on purpose
    norm: str = "1"  # zone 16: 1 normal, 4 G notion (the DMG holder in zone 49), 5 trainee
    auxiliary: str = ""  # zone 49: NIHII-11 of the DMG holder (norm 4) or the trainee
    exemption: str = ""  # zone 23: derogation / distinct contact (01..04), "" = 00
    tooth: str = ""  # zone 29: ISO 3950 tooth number (dentists)
    commitment: str = ""  # eTar payment commitment: a record 51 (zones 42-45) follows the 50
    last_day: date | None = None  # zone 6a, the last service date; `day` when None


@dataclass(frozen=True)
class MediprimaBeneficiary:
    """Record 25 of a MediPrima invoice (wire-formats 7.4): the CPAS decision it is billed under."""

    card_number: str  # medical card (decision) number, zones 56-58
    card_version: int  # zone 59
    cpas_cbe: str  # zone 38
    urgent_aid: bool  # zone 12: urgent medical aid
    amu_reference: str = ""  # zones 47-49: the electronic AMU attestation number


@dataclass(frozen=True)
class Invoice:
    niss: str
    sex: str  # "1" male, "2" female
    mutuality: str  # of affiliation (record 20 zone 7)
    destination: str  # destination mutuality (zone 18); files are sorted on it
    number: int  # individual invoice number (zone 24)
    services: tuple[Service, ...]
    reference: str = ""
    mediprima: MediprimaBeneficiary | None = None  # MediPrima (690): a record 25 after the 20


@dataclass(frozen=True)
class FileHeader:
    reference: str  # 14 digits, segment 200 zone 204 (= GenAsync InputReference)
    sending_number: int  # 1..999, unique per year and third party
    third_party: str  # NIHII-11 of the invoicing party
    created: date
    year: int  # invoicing year and month
    month: int
    cbe: str = "0000000000"
    contact_last: str = "SIMULATOR"
    contact_first: str = "Test"
    phone: str = "0000000000"
    invoice_type: str = "03"  # ambulatory
    test: bool = True
    iban: str = "BE10001232152604"
    bic: str = "GEBABEBB"
    institution_reference: str = "mycarenet-sim"


def segment200(
    message_type: str, reference: str, *, test: bool = True, io_reference: str = "0"
) -> str:
    return layout("200").fill(
        {
            "200": message_type,
            "201": "01",
            "202": "92" if test else "12",
            "204": reference.rjust(14, "0"),
            "205": io_reference.rjust(14, "0"),
        }
    )


def segment300(head: FileHeader) -> str:
    return layout("300").fill(
        {
            "300": f"{head.year:04d}{head.month:02d}",
            "301": head.sending_number,
            "302": head.created.strftime("%Y%m%d"),
            "303": head.reference[-13:],
            "304": TEST_VERSION if head.test else "0001999",
            "305": head.contact_last,
            "306": head.contact_first,
            "307": head.phone,
            "308": head.invoice_type,
            "309": "01",
        }
    )


@dataclass
class _Totals:
    codes: int = 0
    amount: int = 0
    records: int = 0


@dataclass
class InvoiceFileWriter:
    """Write one 920000: `open()`, `invoice()` per patient (ascending destination), `close()`."""

    out: BinaryIO
    head: FileHeader
    cin_variant: bool = False  # write the +10 checksums of the CIN test files
    index: int = 0
    _file: _Totals = field(default_factory=_Totals)
    _mutualities: dict[str, _Totals] = field(default_factory=lambda: defaultdict(_Totals))

    def _emit(self, text: str, *, checksum: bool = True, corrupt: bool = False) -> None:
        if checksum:
            text = with_checksum(text, cin_variant=self.cin_variant)
        if corrupt:
            text = text[:348] + f"{int(text[348:]) % 97 + 1:02d}"
        self.out.write(text.encode("ascii"))

    def _next(self) -> int:
        self.index += 1
        return self.index

    def open(self) -> None:
        head = self.head
        self.out.write(segment200("920000", head.reference, test=head.test).encode("ascii"))
        self.out.write(segment300(head).encode("ascii"))
        self._emit(
            layout("10").fill(
                {
                    "2": self._next(),
                    "4": TEST_VERSION if head.test else "0001999",
                    "7": f"{head.sending_number:03d}",
                    "13": "040",
                    "14": "0" + head.third_party,
                    "22": f"{head.year:05d}",
                    "23": f"{head.month:02d}",
                    "25": head.created.strftime("%Y%m%d"),
                    "27": head.cbe,
                    "28": head.institution_reference,
                    "31": head.bic,
                    "36": head.iban,
                }
            )
        )

    def invoice(self, invoice: Invoice) -> None:
        records20: dict[str, str | int] = {
            "2": self._next(),
            "7": invoice.mutuality,
            "8a": "00" + invoice.niss,
            "9": invoice.sex,
            "10": "3",
            "14": "0" + self.head.third_party,
            "18": invoice.destination,
            "24": invoice.number,
            "28": invoice.reference,
            "32": "1",
        }
        self._emit(layout("20").fill(records20))
        beneficiary = invoice.mediprima
        if beneficiary is not None:
            self._emit(
                layout("25").fill(
                    {
                        "2": self._next(),
                        "7": invoice.mutuality,
                        "8": "00" + invoice.niss,
                        "9": invoice.sex,
                        "12": "1" if beneficiary.urgent_aid else "0",
                        "14": "0" + self.head.third_party,
                        "18": invoice.destination,
                        "24": invoice.number,
                        "32": "1",
                        "38": beneficiary.cpas_cbe,
                        "47": beneficiary.amu_reference,
                        "56": beneficiary.card_number,
                        "59": beneficiary.card_version,
                    }
                )
            )
        codes = amount = share = supplement = 0
        for service in invoice.services:
            self._emit(
                layout("50").fill(
                    {
                        "2": self._next(),
                        "4": service.code,
                        "5": service.day.strftime("%Y%m%d"),
                        "6a": (service.last_day or service.day).strftime("%Y%m%d"),
                        "7": service.mutuality or invoice.mutuality,
                        "8a": "00" + service.niss,
                        "9": invoice.sex,
                        "13": "990",
                        "14": "0" + self.head.third_party,
                        "15": "0" + service.provider,
                        "16": service.norm,
                        "19": signed(service.amount, 12),
                        "22": signed(service.units, 5),
                        "23": service.exemption or "00",
                        "27": signed(service.share, 10),
                        "28": invoice.reference,
                        "29": service.tooth or "00",
                        "30": signed(service.supplement, 10),
                        "32": "0",
                        "49": ("0" + service.auxiliary) if service.auxiliary else 0,
                    }
                ),
                corrupt=service.corrupt_checksum,
            )
            codes += int(service.code) if service.code.isdigit() else 0
            if service.commitment:
                # IFHC writes the commitment (insuranceRef) in record 51 zone 42 [I].
                self._emit(
                    layout("51").fill(
                        {
                            "2": self._next(),
                            "4": service.code,
                            "5": service.day.strftime("%Y%m%d"),
                            "8a": "00" + service.niss,
                            "15": "0" + service.provider,
                            "19": signed(service.amount, 12),
                            "42": service.commitment,
                        }
                    )
                )
                codes += int(service.code) if service.code.isdigit() else 0
            amount += service.amount
            share += service.share
            supplement += service.supplement
        text = layout("80").fill(
            {
                "2": self._next(),
                "7": invoice.mutuality,
                "8a": "00" + invoice.niss,
                "9": invoice.sex,
                "10": "3",
                "14": "0" + self.head.third_party,
                "15": signed(0, 12),
                "18": invoice.destination,
                "19": signed(amount, 12),
                "20": self.head.created.strftime("%Y%m%d"),
                "24": invoice.number,
                "27": signed(share, 10),
                "28": invoice.reference,
                "30": signed(supplement, 10),
                "38": signed(0, 12),
                "98": f"{control_number(codes):02d}",
            }
        )
        self._emit(text)
        for totals in (self._file, self._mutualities[invoice.destination]):
            totals.codes += codes
            totals.amount += amount
            totals.records += (
                2 + len(invoice.services) + (beneficiary is not None)
                + sum(1 for service in invoice.services if service.commitment)
            )

    def close(self) -> None:
        head = self.head
        self._emit(
            layout("90").fill(
                {
                    "2": self._next(),
                    "5": "0",
                    "7": f"{head.sending_number:03d}",
                    "14": "0" + head.third_party,
                    "15": signed(0, 12),
                    "19": signed(self._file.amount, 12),
                    "22": f"{head.year:05d}",
                    "23": f"{head.month:02d}",
                    "27": head.cbe,
                    "28": head.institution_reference,
                    "31": head.bic,
                    "36": head.iban,
                    "98": f"{control_number(self._file.codes):02d}",
                }
            )
        )
        federations: dict[str, _Totals] = defaultdict(_Totals)
        for mutuality in sorted(self._mutualities):
            totals = self._mutualities[mutuality]
            self._emit(_summary("95", mutuality, totals), checksum=False)
            federation = federations[mutuality[0]]
            federation.codes += totals.codes
            federation.amount += totals.amount
            federation.records += totals.records
        for first in sorted(federations):
            self._emit(_summary("96", first + "99", federations[first]), checksum=False)


def _summary(kind: str, mutuality: str, totals: _Totals) -> str:
    """A 95 or 96 record: zones are numbered 40x for 95 and 50x for 96."""
    p = "4" if kind == "95" else "5"
    return layout(kind).fill(
        {
            f"{p}00": kind,
            f"{p}01": mutuality,
            f"{p}03": signed(totals.amount, 12)[0],
            f"{p}04": signed(totals.amount, 12)[1:],
            f"{p}05": "+",
            f"{p}07": "+",
            f"{p}08": signed(totals.amount, 12)[1:],
            f"{p}09": totals.records,
            f"{p}10": f"{control_number(totals.codes):02d}",
            f"{p}11": "+",
        }
    )


def write_invoice_file(
    out: BinaryIO, head: FileHeader, invoices: Iterable[Invoice], *, cin_variant: bool = False
) -> int:
    """A whole 920000 from an iterable of invoices; returns the number of records written."""
    writer = InvoiceFileWriter(out, head, cin_variant=cin_variant)
    writer.open()
    for invoice in invoices:
        writer.invoice(invoice)
    writer.close()
    return writer.index


# --- the insurer's answers --------------------------------------------------------------------


def _ascii(text: str) -> bytes:
    """An answer's text as printable ASCII (wire-formats 6.1): whatever the provider sent that
    is not (accents, control characters, CR/LF) is echoed as "?", one byte for one char, so
    that every zone and record of the answer stays where a reader expects it."""
    return plain(text.encode("latin-1", "replace"))


def write_receipt(out: BinaryIO, header: Header) -> None:
    """931000: segment 200 and a 160-char stub, no records."""
    out.write(_ascii(segment200("931000", header.zone200("204"),
                                test=header.zone200("202") == "92")))
    out.write(_ascii(layout("300S").fill({"300": header.message_type[:6]})))


def error_percentage(rejected: int, total: int) -> str:
    """Zone 310: percentage with two decimals in 5 digits (10000 = 100.00 %)."""
    return f"{(rejected * 10000 // total) if total else 0:05d}"


def _segment300_error(header: Header, percentage: str, rejection_type: str) -> str:
    # Zones 300..3091 sit at the same places in both variants: copy them, add 310/311.
    return (
        header.segment300[:140]
        + layout("300E").fill({"310": percentage, "311": rejection_type})[140:]
    )


_INDEX_MODULO = 1_000_000  # the block's index zone has 6 digits
_MAX_AMOUNT = 10**11 - 1  # an 11-digit amount zone of 91/92


def _fit(cents: int) -> int:
    """An amount as an 11-digit zone can hold it: a sum of absurd amounts (a provider may
    write 99999999999 in several records) is written as the largest, never a crash."""
    return max(-_MAX_AMOUNT, min(_MAX_AMOUNT, cents))


class _Blocks:
    """The error blocks of one answer file. The header's zones are read once, and a record
    without errors (most of them) gets the same block but for its index: kept per mutuality."""

    def __init__(self, header: Header) -> None:
        self._sending_number = header.zone300("301")
        self._creation_date = header.zone300("302")
        self._year_month = header.zone300("300")
        self._clean: dict[str, str] = {}

    def _format(self, index: int, found: Sequence[Rejection], mutuality: str) -> str:
        return format_block(
            ErrorBlock(
                sending_number=self._sending_number,
                creation_date=self._creation_date,
                year_month=self._year_month,
                mutuality=mutuality,
                errors=tuple(BlockError(r.letter, r.code) for r in found[:MAX_ERRORS]),
                comment=_plain(
                    "; ".join(f"{r.letter}{r.code} {_note(r)}" for r in found[:MAX_ERRORS])
                ),
                index=index,
            )
        )

    def of(self, record: Record, found: Sequence[Rejection], mutuality: str) -> str:
        if found:
            return self._format(record.index % _INDEX_MODULO, found, mutuality)
        clean = self._clean.get(mutuality)
        if clean is None:
            clean = self._clean[mutuality] = self._format(0, (), mutuality)[:-6]
        return clean + f"{record.index % _INDEX_MODULO:06d}"


# No zone of the 920098/920900 layouts carries a fine: the closest is the record's error
# block, where the service keeps its code with the letter E (annotated, paid) and this
# remark in the comment [A] (docs/rules.md "eFact", two-month rule).
FINE_REMARK = "hors delai de 2 mois: amende administrative, prestation payee"


def _note(item: Rejection) -> str:
    if item.code == "500503" and item.letter == "E":
        return FINE_REMARK
    return item.fr


def _plain(text: str) -> str:
    """Flat files are plain ASCII (wire-formats 6.1); catalogue texts have accents and ’."""
    flat = unicodedata.normalize("NFKD", text.replace("\u2019", "'"))
    return flat.encode("ascii", "ignore").decode("ascii")


def _answer200(message_type: str, header: Header) -> bytes:
    """Segment 200 of an answer: same provider reference and test/production flag."""
    test = header.zone200("202") != "12"
    return _ascii(segment200(message_type, header.zone200("204"), test=test))


def _by_record(rejections: Iterable[Rejection]) -> dict[int, list[Rejection]]:
    grouped: dict[int, list[Rejection]] = defaultdict(list)
    for item in rejections:
        grouped[item.index].append(item)
    return grouped


def write_rejections(
    out: BinaryIO,
    header: Header,
    records: Iterable[Record],
    rejections: Iterable[Rejection],
    *,
    whole_file: bool,
    total: int | None = None,
) -> None:
    """920098 (accepted, per-record errors) or 920099 (whole file rejected: zone 311 01 when a
    blocking error is present, 02 for too many errors). Every record is echoed with its block.
    Zone 310 (`_percentage`) needs the number of records: `total`, or patched in place."""
    grouped = _by_record(rejections)
    blocking = any(r.letter == "B" for found in grouped.values() for r in found)
    message = "920099" if whole_file else "920098"
    rejection_type = ("01" if blocking else "02") if whole_file else "00"
    out.write(_answer200(message, header))
    out.write(_ascii(_segment300_error(header, _percentage(grouped, total), rejection_type)))
    blocks = _Blocks(header)
    count = 0
    destination = "000"
    for record in records:
        count += 1
        if record.type == "20":
            destination = record.text[84:87]
        found = grouped.get(record.index, ())
        out.write(_ascii(record.text + blocks.of(record, found, destination)))
    _finish_percentage(out, grouped, count, total)


def write_bare_receipt(out: BinaryIO, content: bytes) -> None:
    """931000 from the raw bytes of a posted file, by slicing only (the safety net's receipt)."""
    text = _ascii(content[:67].decode("latin-1")).decode("ascii")
    reference = text[20:34]
    out.write(_ascii(segment200("931000", reference if ascii_digits(reference) else "0",
                                test=text[12:14] != "12")))
    out.write(_ascii(layout("300S").fill({"300": "920000"})))


def write_failure(out: BinaryIO, content: BinaryIO | bytes, failure: Rejection) -> None:
    """920099 for a file the insurer failed on (the safety net of the processing): built from
    the raw bytes with nothing but slicing, so that it cannot fail where the checks or the
    writers did. Zone 311 01 (blocking), 310 100.00 %; every 350-char slice is echoed and the
    first carries `failure` (a file without records gets the segments only)."""
    source = open_source(content)
    text = _ascii(source.read(227).decode("latin-1")).decode("ascii")
    reference = text[20:34]
    test = text[12:14] != "12"
    out.write(_ascii(segment200("920099", reference if ascii_digits(reference) else "0",
                                test=test)))
    segment = text[67:227].ljust(160)
    out.write(_ascii(segment[:140] + layout("300E").fill({"310": "10000", "311": "01"})[140:]))
    comment = _plain(f"{failure.letter}{failure.code} {failure.fr}")
    number = 0
    while raw := source.read(350):  # the posted file a slice at a time, never whole
        number += 1
        errors = (BlockError(failure.letter, failure.code),) if number == 1 else ()
        block = format_block(ErrorBlock(
            sending_number=segment[8:11], creation_date=segment[13:21],
            year_month=segment[0:6], mutuality="000", errors=errors,
            comment=comment if number == 1 else "", index=number % 1_000_000,
        ))  # fmt: skip
        out.write(_ascii(raw.decode("latin-1").ljust(350) + block))


def _in_error(grouped: dict[int, list[Rejection]]) -> int:
    """Records in error for zone 310: rejected ones (B, F, R); S signals and E annotations
    (a service paid despite a remark, e.g. the two-month fine) are not errors."""
    return sum(1 for found in grouped.values() if any(r.letter in "BFR" for r in found))


def _percentage(grouped: dict[int, list[Rejection]], total: int | None) -> str:
    return error_percentage(_in_error(grouped), total) if total is not None else "00000"


def _finish_percentage(
    out: BinaryIO, grouped: dict[int, list[Rejection]], count: int, total: int | None
) -> None:
    """Zone 310 was written from `total` when the caller knew it (an answer streamed to the
    store cannot be rewritten); else it is known only now: write it in place."""
    if total is not None:
        if total != count:
            raise ValueError(f"zone 310 was written for {total} records, the answer has {count}")
        return
    if not out.seekable():
        raise ValueError("zone 310: a stream that cannot seek needs the number of records")
    end = out.tell()
    out.seek(67 + 140)
    out.write(error_percentage(_in_error(grouped), count).encode("ascii"))
    out.seek(end)


@dataclass
class _Settlement:
    requested: int = 0
    accepted: int = 0
    records: int = 0
    codes: int = 0


def write_settlement(
    out: BinaryIO,
    header: Header,
    records: Iterable[Record],
    rejections: Iterable[Rejection],
    *,
    payment_date: date,
    total: int | None = None,
) -> None:
    """920900: every record with its block, then a 91 per mutuality and a 92 per federation
    with requested, accepted and rejected amounts (account A); zone 423 carries the payment
    reference, which starts with the payment date (YYYYMMDD). `total`: the records but the 95
    and 96, for zone 310 (`write_rejections`)."""
    grouped = _by_record(rejections)
    out.write(_answer200("920900", header))
    out.write(_ascii(_segment300_error(header, _percentage(grouped, total), "00")))
    mutualities: dict[str, _Settlement] = defaultdict(_Settlement)
    blocks = _Blocks(header)
    destination = ""
    invoice_rejected = False
    # Services of the current invoice not yet paid: an F or B on its record 80 rejects them
    # all, so they are paid only once the 80 is read (as `domain.efact_processing.settle`).
    pending: list[int] = []
    count = 0
    for record in records:
        if record.type in ("95", "96"):
            continue
        count += 1
        found = grouped.get(record.index, [])
        if record.type == "20":
            destination = record.text[84:87]
            invoice_rejected = any(r.letter in "FB" for r in found)
            pending = []
        elif record.type == "25":  # MediPrima beneficiary: an F there rejects the invoice
            invoice_rejected = invoice_rejected or any(r.letter in "FB" for r in found)
        elif record.type == "80":
            invoice_rejected = invoice_rejected or any(r.letter in "FB" for r in found)
            if not invoice_rejected:
                mutualities[destination].accepted += sum(pending)
            pending = []
        elif record.type == "50":
            amount = int(record.text[87:99]) if ascii_digits(record.text[88:99]) else 0
            totals = mutualities[destination]
            totals.requested += amount
            totals.records += 1
            if not any(r.letter in "RFB" for r in found):
                pending.append(amount)
        block = blocks.of(record, found, destination or "000")
        out.write(_ascii(record.text + block))
    reference = f"{payment_date:%Y%m%d}{header.zone200('204')[-14:]}"
    federations: dict[str, _Settlement] = defaultdict(_Settlement)
    for mutuality in sorted(mutualities):
        totals = mutualities[mutuality]
        out.write(_ascii(_record9x("91", mutuality, totals, reference)))
        federation = federations[mutuality[:1] or "0"]
        federation.requested += totals.requested
        federation.accepted += totals.accepted
        federation.records += totals.records
    for first in sorted(federations):
        out.write(_ascii(_record9x("92", first + "99", federations[first], reference)))
    _finish_percentage(out, grouped, count, total)


def _record9x(kind: str, mutuality: str, totals: _Settlement, reference: str) -> str:
    p = "4" if kind == "91" else "5"
    totals = _Settlement(
        _fit(totals.requested), _fit(totals.accepted), totals.records % 100_000_000, totals.codes
    )
    rejected = _fit(totals.requested - totals.accepted)
    values: dict[str, str | int] = {
        f"{p}00": kind,
        f"{p}01": mutuality,
        f"{p}03": "+",
        f"{p}04": signed(totals.requested, 12)[1:],
        f"{p}05": "+",
        f"{p}07": "+",
        f"{p}08": signed(totals.requested, 12)[1:],
        f"{p}09": totals.records,
        f"{p}11": "+",
        f"{p}12": signed(totals.accepted, 12)[1:],
        f"{p}13": "+",
        f"{p}14": signed(rejected, 12)[1:],
        f"{p}15": "+",
        f"{p}17": "+",
        f"{p}19": "+",
        f"{p}20": signed(totals.accepted, 12)[1:],
        f"{p}21": "+",
        f"{p}22": signed(rejected, 12)[1:],
    }
    if kind == "91":
        values["423"] = reference
    return layout(kind).fill(values)
