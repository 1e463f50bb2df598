"""Contents kept a part at a time (store/parts.py): written as they come, read back with seeks."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from simulator.store.parts import PartsReader, PartsWriter, delete_parts, put_parts, read_parts
from simulator.store.records import SqliteRecords

KIND = "test-part"


@pytest.fixture
def records(tmp_path: Path) -> SqliteRecords:
    return SqliteRecords(tmp_path / "parts.sqlite3")


@pytest.mark.parametrize("size", [0, 1, 4, 5, 6, 23])
def test_a_content_comes_back_whole_from_its_parts(records: SqliteRecords, size: int) -> None:
    data = bytes(range(size))
    with PartsWriter(records, KIND, "a", part_size=5) as writer:
        for start in range(0, size, 3):  # writes that do not line up with the parts
            writer.write(data[start : start + 3])
    assert writer.parts == max(1, -(-size // 5)) and writer.size == size
    assert len(records.find(KIND, prefix="a/")) == writer.parts
    with PartsReader(records, KIND, "a", writer.parts, part_size=5) as reader:
        assert reader.read() == data


def test_a_part_is_put_as_soon_as_it_is_full(records: SqliteRecords) -> None:
    writer = PartsWriter(records, KIND, "a", part_size=4)
    writer.write(b"abcdefghij")
    assert [key for key, _ in records.find(KIND, prefix="a/")] == ["a/000000", "a/000001"]
    writer.close()
    assert len(records.find(KIND, prefix="a/")) == 3


def test_reads_seek_back_and_forth_across_parts(records: SqliteRecords) -> None:
    data = bytes(range(256)) * 4
    parts = put_parts(records, KIND, "a", data)
    assert parts == 1  # the default part is large
    count = len(data) // 7 + 1
    with PartsWriter(records, KIND, "b", part_size=7) as writer:
        writer.write(data)
    assert writer.parts == count
    stream = io.BufferedReader(PartsReader(records, KIND, "b", count, part_size=7), 16)
    stream.seek(1000)
    assert stream.read(24) == data[1000:]
    stream.seek(3)
    assert stream.read(20) == data[3:23]
    stream.seek(5, io.SEEK_CUR)
    assert stream.read(9) == data[28:37]
    assert stream.read() == data[37:]
    assert stream.read(1) == b""


def test_a_missing_part_is_an_error_not_a_short_content(records: SqliteRecords) -> None:
    with PartsWriter(records, KIND, "a", part_size=4) as writer:
        writer.write(b"abcdefghij")
    with pytest.raises(OSError, match="part 0 of a is 4 bytes"):
        read_parts(records, KIND, "a", writer.parts)  # read with another part size
    records.delete(KIND, "a/000001")
    with pytest.raises(OSError, match="part 1 of a is missing"):
        read_parts(records, KIND, "a", writer.parts, part_size=4)


def test_delete_parts_forgets_them(records: SqliteRecords) -> None:
    with PartsWriter(records, KIND, "a", part_size=4) as writer:
        writer.write(b"abcdefghij")
    put_parts(records, KIND, "ab", b"other")
    delete_parts(records, KIND, "a", writer.parts)
    assert records.find(KIND, prefix="a/") == []
    assert read_parts(records, KIND, "ab", 1) == b"other"
