"""Record layouts as data, the import tool, and the streaming parser."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

from simulator.efact import parser as parser_module
from simulator.efact.layout import layout, layouts, segment300_key
from simulator.efact.parser import EfactFormatError, parse
from tools.import_record_layouts import convert

from .helpers import small_file

DATA = Path(__file__).resolve().parents[2] / "simulator" / "efact" / "data" / "record-layouts.json"


def test_layouts_tile_their_records() -> None:
    expected = {"200": 67, "300": 160, "300E": 610, "300S": 160, "91": 800, "92": 800}
    for key, record in layouts().items():
        assert record.length == expected.get(key, 350), key
        position = 0
        for zone in record.zones:
            assert zone.start == position, (key, zone.name)
            position = zone.end
        assert position == record.length


def test_zone_positions_match_wire_formats() -> None:
    assert layout("50").zone("19").slice == slice(87, 99)
    assert layout("10").zone("14").slice == slice(55, 67)
    assert layout("80").zone("98").slice == slice(346, 348)
    assert layout("95").zone("410").slice == slice(75, 77)
    assert layout("50").zone("8a").zones == "8a,8b"
    assert layout("50").zone("8a").number == 8
    with pytest.raises(KeyError, match="record 50 has no zone '999'"):
        layout("50").zone("999")


def test_fill_pads_and_refuses_overflow() -> None:
    record = layout("50").fill({"2": 3, "4": "0101032", "28": "ABC"})
    assert record[:16] == "5000000300101032"
    assert record[137:162] == "ABC".ljust(25)
    with pytest.raises(ValueError, match="record 50 zone 4"):
        layout("50").fill({"4": "01010321"})
    with pytest.raises(KeyError, match="no zone"):
        layout("50").fill({"nope": "1"})


def test_segment300_variant_by_message_type() -> None:
    assert segment300_key("920000") == "300"
    assert segment300_key("920999") == "300"
    assert segment300_key("931000") == "300S"
    assert segment300_key("920098") == "300E"


def test_import_tool_reproduces_the_shipped_data(shared_reference: Path) -> None:
    import csv

    with (shared_reference / "efact" / "record-layouts.csv").open(newline="") as handle:
        records = convert(list(csv.DictReader(handle)))
    assert json.loads(DATA.read_text()) == {"records": records}


def test_import_tool_refuses_a_gap() -> None:
    row = {"record": "Record10", "zones": "1", "label": "x", "property": "", "type": "N",
           "start_1based": "2", "length": "2", "end_1based": "3", "fixed_value": "",
           "is_checksum": ""}
    with pytest.raises(ValueError, match="gap"):
        convert([row])


@pytest.mark.parametrize("name", ["TFAC1SC09.509E", "TFAC1SC13.519E"])
def test_cin_files_split_into_the_documented_records(shared_reference: Path, name: str) -> None:
    data = (shared_reference / "samples" / "efact" / name).read_bytes()
    header, records = parse(io.BytesIO(data))
    assert header.message_type == "920000"
    assert header.zone300("304") == "9991999"
    types = [r.type for r in records]
    if name.startswith("TFAC1SC09"):
        assert types == ["10", "20", "50", "51", "80", "90", "95", "96"]
    else:
        assert types == ["10", "20", "50", "80", "90", "95", "96"]


def test_parser_streams_across_chunks(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(parser_module, "_CHUNK_RECORDS", 2)
    data = small_file()
    _, records = parse(io.BytesIO(data))
    indexes = [r.index for r in records]
    assert indexes == list(range(1, 14))


class _Trickle(io.RawIOBase):
    """A stream that returns at most 100 bytes per read, like a socket."""

    def __init__(self, data: bytes) -> None:
        self._data = io.BytesIO(data)

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        return self._data.read(min(size, 100) if size > 0 else 100)


def test_parser_reads_whole_records_from_short_reads() -> None:
    data = small_file()
    header, records = parse(_Trickle(data))  # type: ignore[arg-type]
    assert header.message_type == "920000"
    assert [r.type for r in records] == [r.type for r in parse(data)[1]]


def test_parser_errors_say_where() -> None:
    with pytest.raises(EfactFormatError, match="at byte 0: file ends inside segment 200"):
        parse(b"920000")
    with pytest.raises(EfactFormatError, match="message type 'ABCDEF' is not 6 digits"):
        parse(b"ABCDEF" + b"0" * 300)
    data = small_file()
    with pytest.raises(EfactFormatError, match=r"at byte \d+: file ends inside a record"):
        _, records = parse(data[:-1])
        list(records)
