"""The insurer's answers parse back with the same layouts and say what the checker found."""

from __future__ import annotations

import io
from datetime import date

import pytest

from simulator.efact.block import BlockError, ErrorBlock, format_block, parse_block
from simulator.efact.checks import CheckOptions, check_file
from simulator.efact.errors import rejection
from simulator.efact.parser import parse
from simulator.efact.writer import (
    error_percentage,
    signed,
    write_receipt,
    write_rejections,
    write_settlement,
)

from .helpers import TODAY, edit, small_file


def _answer(write, data: bytes, rejections, **options) -> bytes:  # type: ignore[no-untyped-def]
    out = io.BytesIO()
    header, records = parse(data)
    write(out, header, records, rejections, **options)
    return out.getvalue()


def test_receipt_931000_is_a_stub_without_records() -> None:
    out = io.BytesIO()
    header, _ = parse(small_file())
    write_receipt(out, header)
    answer, records = parse(out.getvalue())
    assert len(out.getvalue()) == 67 + 160
    assert answer.message_type == "931000"
    assert answer.zone200("204") == "20261123000001"
    assert list(records) == []


def test_920098_echoes_every_record_with_its_error_block() -> None:
    data = edit(small_file(), 3, 67, "018334790004")
    rejections = check_file(data, CheckOptions(today=TODAY))
    answer, records = parse(_answer(write_rejections, data, rejections, whole_file=False))
    assert answer.message_type == "920098"
    assert answer.zone300("301") == "005"
    assert answer.zone300("311") == "00"
    assert answer.zone300("310") == error_percentage(1, 13) == "00769"
    echoed = list(records)
    original = list(parse(data)[1])
    assert [r.text for r in echoed] == [r.text for r in original]
    blocks = {r.index: parse_block(r.error_block) for r in echoed}
    assert blocks[3].errors == (BlockError("R", "501502"),)
    assert blocks[3].index == 3 and blocks[3].sending_number == "005"
    assert blocks[3].year_month == "202611" and blocks[3].creation_date == "20261123"
    assert blocks[3].mutuality == "131" and blocks[7].mutuality == "304"
    assert "R501502" in blocks[3].comment
    assert all(not b.errors for i, b in blocks.items() if i != 3)


@pytest.mark.parametrize(("code", "rejection_type"), [("509902", "01"), ("501502", "02")])
def test_920099_rejection_type_blocking_or_too_many(code: str, rejection_type: str) -> None:
    data = small_file()
    found = [rejection(code, 3, "50", "99")]
    answer, records = parse(_answer(write_rejections, data, found, whole_file=True))
    assert answer.message_type == "920099"
    assert answer.zone300("311") == rejection_type
    assert len(list(records)) == 13


def test_920900_settlement_totals_and_payment_reference() -> None:
    data = small_file()  # invoice 1 (131): 2400 + 2400 cents; invoice 2 (304): 2400 cents
    found = [rejection("501502", 4, "50", "15")]
    settlement = _answer(write_settlement, data, found, payment_date=date(2026, 12, 7))
    answer, records = parse(settlement)
    assert answer.message_type == "920900"
    rows = list(records)
    assert [r.type for r in rows] == ["10", "20", "50", "50", "80", "20", "50", "80", "90",
                                      "91", "91", "92", "92"]
    first, second, federation = rows[9], rows[10], rows[11]
    assert (first.zone("401"), first.zone("404"), first.zone("412"), first.zone("414")) == (
        "131", "00000004800", "00000002400", "00000002400")
    assert (second.zone("401"), second.zone("412"), second.zone("414")) == (
        "304", "00000002400", "00000000000")
    assert first.zone("423").startswith("20261207")
    assert federation.zone("501") == "199" and federation.zone("512") == "00000002400"
    assert rows[12].zone("501") == "399" and rows[12].zone("522") == "00000000000"
    assert parse_block(rows[3].error_block).errors == (BlockError("R", "501502"),)


def test_invoice_rejected_at_level_f_is_not_paid() -> None:
    found = [rejection("200802", 2, "20", "8")]
    rows = list(parse(_answer(write_settlement, small_file(), found,
                              payment_date=date(2026, 12, 7)))[1])
    first = rows[9]
    assert first.zone("412") == "00000000000" and first.zone("414") == "00000004800"


def test_error_block_round_trip_and_limits() -> None:
    block = ErrorBlock("005", "20261123", "202611", "131",
                       (BlockError("B", "509902"), BlockError("R", "500402")), "why", 42)
    text = format_block(block)
    assert len(text) == 450
    assert parse_block(text) == block
    with pytest.raises(ValueError, match="at most 3"):
        format_block(ErrorBlock("005", "", "", "", (BlockError("R", "1"),) * 4, "", 1))
    with pytest.raises(ValueError, match="449 chars"):
        parse_block(text[:-1])


def test_amount_and_percentage_formats() -> None:
    assert signed(1942, 12) == "+00000001942"
    assert signed(-5, 10) == "-000000005"
    assert error_percentage(1, 1) == "10000"
    assert error_percentage(1, 6) == "01666"
    assert error_percentage(0, 0) == "00000"


def test_writer_can_produce_the_cin_checksum_variant() -> None:
    data = small_file(cin_variant=True)
    assert check_file(data, CheckOptions(today=TODAY)) == []
    strict = check_file(data, CheckOptions(today=TODAY, accept_cin_checksum=False))
    assert {r.code for r in strict} == {"109902", "209902", "509902", "809902", "909902"}
