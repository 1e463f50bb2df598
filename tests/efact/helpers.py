"""Small valid files built with the writer, and surgical edits that keep checksums right."""

from __future__ import annotations

import io
from datetime import date

from simulator.efact.checks import CHECKSUM_TYPES
from simulator.efact.writer import FileHeader, Invoice, Service, with_checksum, write_invoice_file

TODAY = date(2026, 11, 23)
NISS = "36121015396"  # valid NISS from the CIN test files
NISS_2 = "86103130262"
NIHII = "18334780004"  # valid NIHII from the CIN test files
OFFSET = 67 + 160  # segments 200 + 300


def head(**changes: object) -> FileHeader:
    values: dict[str, object] = {
        "reference": "20261123000001",
        "sending_number": 5,
        "third_party": NIHII,
        "created": TODAY,
        "year": 2026,
        "month": 11,
    }
    values.update(changes)
    return FileHeader(**values)  # type: ignore[arg-type]


def service(code: str = "0101032", day: date = date(2026, 11, 20), **changes: object) -> Service:
    values: dict[str, object] = {
        "code": code, "day": day, "niss": NISS, "provider": NIHII, "amount": 2400, "share": 600,
    }
    values.update(changes)
    return Service(**values)  # type: ignore[arg-type]


def small_file(*invoices: Invoice, cin_variant: bool = False) -> bytes:
    """Default: two invoices, mutualities 131 then 304 -> records
    1:10 2:20 3:50 4:50 5:80 6:20 7:50 8:80 9:90 10:95 11:95 12:96 13:96."""
    if not invoices:
        invoices = (
            Invoice(NISS, "1", "131", "131", 1, (service(), service("0103132", share=900))),
            Invoice(NISS_2, "2", "304", "304", 2, (service(niss=NISS_2),)),
        )
    out = io.BytesIO()
    write_invoice_file(out, head(), invoices, cin_variant=cin_variant)
    return out.getvalue()


def edit(data: bytes, index: int, start: int, value: str, *, checksum: bool = True) -> bytes:
    """Record `index` (1-based) with `value` written at 0-based `start`; zone 99 recomputed."""
    begin = OFFSET + (index - 1) * 350
    record = data[begin : begin + 350].decode("latin-1")
    record = record[:start] + value + record[start + len(value) :]
    if checksum and record[:2] in CHECKSUM_TYPES:
        record = with_checksum(record)
    return data[:begin] + record.encode("latin-1") + data[begin + 350 :]
