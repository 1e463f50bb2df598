"""Issue 11: whatever is posted is read as a 920000 (`parser.frame`) and what that took is a
blocking finding (`checks.framing_rejections`); the answers are printable ASCII."""

from __future__ import annotations

import io

import pytest

from simulator.efact.checks import CheckOptions, check_file, framing_rejections
from simulator.efact.parser import ascii_digits, frame, parse, plain, plain_text
from simulator.efact.writer import write_receipt, write_rejections

from .helpers import OFFSET, TODAY, small_file


def _codes(content: bytes) -> list[tuple[int, str, str]]:
    framed = frame(content)
    found = framing_rejections(framed) + check_file(framed.content, CheckOptions(today=TODAY))
    return [(r.index, r.code, r.letter) for r in found]


def test_a_valid_file_is_framed_as_it_is() -> None:
    data = small_file()
    framed = frame(data)
    assert (framed.content, framed.message_type, framed.tail, framed.records) == (data, "", 0, 13)
    assert framing_rejections(framed) == []


def test_a_message_type_other_than_920000_is_100103_on_record_1() -> None:
    data = b"920098" + small_file()[6:]
    assert _codes(data) == [(1, "100103", "B")]
    assert frame(data).content[:6] == b"920000"


def test_a_file_ending_inside_a_record_has_it_padded_and_refused_t0004() -> None:
    data = small_file()[:-10]  # the last 96 lost 10 chars
    assert _codes(data)[0] == (13, "960004", "B")
    assert len(frame(data).content) == len(small_file())


@pytest.mark.parametrize("content", [b"", b"9", b"920000", small_file()[:OFFSET - 1]])
def test_a_file_without_records_is_refused_900104(content: bytes) -> None:
    assert (1, "900104", "B") in _codes(content)


def test_invalid_bytes_in_the_segments_are_100003() -> None:
    data = small_file()
    data = data[:100] + b"\xe9" + data[101:]  # segment 300, contact name
    assert _codes(data) == [(1, "100003", "B")]


def test_answers_are_printable_ascii_whatever_came_in() -> None:
    data = bytearray(small_file())
    for at in (25, 70, OFFSET + 140, OFFSET + 350 + 3, len(data) - 1):
        data[at] = 0xE9
    header, records = parse(plain(bytes(frame(bytes(data)).content)))
    out = io.BytesIO()
    write_rejections(out, header, records, [], whole_file=True)
    write_receipt(out, header)
    assert plain(out.getvalue()) == out.getvalue()


def test_helpers() -> None:
    assert plain(b"a\xe9\r\n\x7f~") == b"a????~"
    assert plain_text("caf\u00e9\u20ac") == "caf??"
    assert ascii_digits("0123") and not ascii_digits("\u00b2") and not ascii_digits("")
