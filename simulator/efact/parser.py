"""Streaming reader of eFact flat files: segment 200 + segment 300 + fixed-width records.

Records are produced one at a time from a file object (or bytes), reading fixed-size chunks, so
memory stays flat whatever the file size. A 920000 has 350-char records; the insurer's answers
(920098/920099/920900) have 800-char units: the echoed record and its 450-char error block, or a
91/92 settlement record. A 931000 receipt has no records.
"""

from __future__ import annotations

import io
import re
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, BinaryIO, overload

from simulator.efact.layout import (
    RECORD_LENGTH,
    RESPONSE_STRIDE,
    SEGMENT200_LENGTH,
    RecordLayout,
    layout,
    segment300_key,
)
from simulator.streams import PositionedReader

if TYPE_CHECKING:
    from _typeshed import WriteableBuffer

_CHUNK_RECORDS = 2048  # records read per chunk: large enough to amortise I/O, small in memory

# Flat files are plain printable ASCII (wire-formats 6.1: "ASCII/UTF-8 without diacritics").
# Any other byte (control characters, CR/LF, DEL, bytes >= 0x80) is invalid: the checks report
# it and the answers echo it as "?". "?" has the same checksum value (37, wire-formats 6.4) as
# every invalid byte, so a sanitised record keeps its zone 99 verdict.
INVALID_BYTE = re.compile(rb"[^\x20-\x7e]")
PLACEHOLDER = b"?"
_PLAIN = bytes(b if 0x20 <= b <= 0x7E else PLACEHOLDER[0] for b in range(256))
MESSAGE_920000 = "920000"
_SEGMENTS_920000 = SEGMENT200_LENGTH + 160  # segment 200 + segment 300 of a 920000
_BUFFER = 1 << 16  # read-ahead of a framed stream


def plain(data: bytes) -> bytes:
    """`data` with every byte outside printable ASCII replaced by "?" (same length)."""
    return data.translate(_PLAIN)


def plain_text(text: str) -> str:
    """`text` (one char per byte, as the parser decodes) as printable ASCII, same length."""
    return plain(text.encode("latin-1", "replace")).decode("ascii")


def ascii_digits(text: str) -> bool:
    """Only "0"-"9": `str.isdigit` also accepts "²" or "¹", which `int` refuses."""
    return text.isascii() and text.isdigit()


class EfactFormatError(ValueError):
    """The bytes cannot be split into records; says where (byte offset) and why."""

    def __init__(self, offset: int, message: str) -> None:
        super().__init__(f"at byte {offset}: {message}")
        self.offset = offset


@dataclass(frozen=True, slots=True)
class Header:
    message_type: str  # segment 200 zone 200: 920000, 931000, 920098 ...
    segment200: str
    segment300: str

    @property
    def segment300_layout(self) -> RecordLayout:
        return layout(segment300_key(self.message_type))

    def zone200(self, name: str) -> str:
        return layout("200").read(self.segment200, name)

    def zone300(self, name: str) -> str:
        return self.segment300_layout.read(self.segment300, name)

    @property
    def has_records(self) -> bool:
        return segment300_key(self.message_type) != "300S"

    @property
    def stride(self) -> int:
        return RECORD_LENGTH if segment300_key(self.message_type) == "300" else RESPONSE_STRIDE


@dataclass(slots=True)  # not frozen: frozen __init__ costs twice as much on the hot path
class Record:
    index: int  # 1-based position among the records of the file (segments not counted)
    type: str  # "10", "20", "50" ... (first two characters)
    text: str  # the record itself (350 chars; 800 for 91/92)
    error_block: str = ""  # the 450-char error block after an echoed record in an answer

    def zone(self, name: str) -> str:
        return layout(self.type).read(self.text, name)


def _read_full(stream: BinaryIO, size: int) -> bytes:
    """Up to `size` bytes, fewer only at the end: pipes and raw streams may return less."""
    data = stream.read(size)
    if len(data) == size or not data:
        return data
    parts = [data]
    missing = size - len(data)
    while missing:
        more = stream.read(missing)
        if not more:
            break
        parts.append(more)
        missing -= len(more)
    return b"".join(parts)


def _read_exact(stream: BinaryIO, size: int, offset: int, what: str) -> bytes:
    data = _read_full(stream, size)
    if len(data) != size:
        raise EfactFormatError(offset, f"file ends inside {what} ({len(data)} of {size} chars)")
    return data


def open_source(source: BinaryIO | bytes) -> BinaryIO:
    """A binary stream over `source`: the file object itself, or the bytes in memory."""
    return io.BytesIO(source) if isinstance(source, bytes | bytearray) else source


def read_header(source: BinaryIO) -> Header:
    """Segments 200 and 300 from the start of `source` (left positioned on the first record)."""
    raw200 = _read_exact(source, SEGMENT200_LENGTH, 0, "segment 200")
    segment200 = raw200.decode("latin-1")
    message_type = segment200[:6]
    if not message_type.isdigit():
        raise EfactFormatError(0, f"message type {message_type!r} is not 6 digits")
    length300 = layout(segment300_key(message_type)).length
    segment300 = _read_exact(source, length300, SEGMENT200_LENGTH, "segment 300").decode("latin-1")
    return Header(message_type, segment200, segment300)


def iter_chunks(source: BinaryIO, header: Header) -> Iterator[tuple[int, bytes]]:
    """(byte offset, raw bytes) of whole records after the header, many records at a time.

    The fast path of the checks reads these directly: one decode and one checksum translation
    per chunk instead of per record. EfactFormatError when the file ends inside a record.
    """
    stride = header.stride
    offset = SEGMENT200_LENGTH + len(header.segment300)
    while True:
        chunk = _read_full(source, stride * _CHUNK_RECORDS)
        if not chunk:
            return
        if len(chunk) % stride:
            raise EfactFormatError(
                offset + len(chunk) - len(chunk) % stride,
                f"file ends inside a record ({len(chunk) % stride} of {stride} chars)",
            )
        yield offset, chunk
        offset += len(chunk)


def iter_records(source: BinaryIO, header: Header) -> Iterator[Record]:
    """The records after the header, one at a time; EfactFormatError on a short one.

    A record whose type names no layout is given as it is (its `zone`s cannot be read): the
    checks report it (X0101/X0103) instead of losing the whole file.
    """
    if not header.has_records:
        if source.read(1):
            raise EfactFormatError(SEGMENT200_LENGTH + 160, "a receipt carries no records")
        return
    stride = header.stride
    response = stride == RESPONSE_STRIDE
    index = 0
    for _offset, chunk in iter_chunks(source, header):
        text = chunk.decode("latin-1")  # one byte per char: offsets in text are byte offsets
        for start in range(0, len(text), stride):
            index += 1
            kind = text[start : start + 2]
            if not response or kind in ("91", "92"):
                yield Record(index, kind, text[start : start + stride])
            else:
                yield Record(
                    index,
                    kind,
                    text[start : start + RECORD_LENGTH],
                    text[start + RECORD_LENGTH : start + stride],
                )


def parse(source: BinaryIO | bytes) -> tuple[Header, Iterator[Record]]:
    """Header now, records lazily: `header, records = parse(open(path, "rb"))`."""
    stream = open_source(source)
    header = read_header(stream)
    return header, iter_records(stream, header)


@dataclass(frozen=True)
class Framed:
    """A posted file made readable as a 920000 (`frame`), and what had to be done for it. Its
    content is read through `open`, a stream from the posted file: never held whole."""

    segments: bytes  # segments 200 + 300 as framed (zone 200 920000, padded)
    size: int  # bytes of the framed content: the segments then whole 350-char records
    message_type: str  # zone 200 as posted (decoded latin-1), when it was not 920000
    tail: int  # chars of the last record as posted when the file ended inside it, else 0
    source: Callable[[], BinaryIO] = field(repr=False, compare=False)  # the posted bytes

    @property
    def records(self) -> int:
        return (self.size - _SEGMENTS_920000) // RECORD_LENGTH

    def open(self, *, printable: bool = False) -> BinaryIO:
        """The framed content from its start; `printable`: every byte outside printable ASCII
        as "?" (`plain`), which is what the answers and the settlement read."""
        return io.BufferedReader(_FramedStream(self, printable), buffer_size=_BUFFER)

    @property
    def content(self) -> bytes:
        """The whole framed content (small files, tests)."""
        with self.open() as stream:
            return stream.read()


def frame(content: bytes) -> Framed:
    """`frame_source` over bytes in memory."""
    return frame_source(lambda: io.BytesIO(content), len(content))


def frame_source(source: Callable[[], BinaryIO], size: int) -> Framed:
    """Whatever was posted to the insurer (`size` bytes, read from the start by each call of
    `source`), as a 920000 the checks and writers can read: zone 200 forced to 920000,
    segments padded with spaces when the file is shorter, and a last record the file ends
    inside padded with spaces to 350. Pure; the checks report what was changed
    (`checks.framing_rejections`) so that nothing is accepted silently."""
    with source() as stream:
        head = _read_full(stream, _SEGMENTS_920000)
    message_type = head[:6].decode("latin-1")
    segments = (MESSAGE_920000.encode("ascii") + head[6:]).ljust(_SEGMENTS_920000, b" ")
    body = max(size, _SEGMENTS_920000)
    tail = (body - _SEGMENTS_920000) % RECORD_LENGTH
    framed_size = body + (RECORD_LENGTH - tail if tail else 0)
    kind = "" if message_type == MESSAGE_920000 else message_type
    return Framed(segments, framed_size, kind, tail, source)


class _FramedStream(PositionedReader):
    """The bytes of a `Framed`: its segments, then the posted file from the same offset, then
    spaces up to its size."""

    def __init__(self, framed: Framed, printable: bool) -> None:
        super().__init__()
        self._framed, self._printable = framed, printable
        self._source: BinaryIO | None = None
        self.size = framed.size

    def readinto(self, buffer: WriteableBuffer) -> int:
        target = memoryview(buffer).cast("B")
        position, framed = self._position, self._framed
        want = min(len(target), framed.size - position)
        if want <= 0:
            return 0
        if position < _SEGMENTS_920000:
            data = framed.segments[position : position + want]
        else:
            data = self._posted(position, want).ljust(want, b" ")
        if self._printable:
            data = plain(data)
        target[: len(data)] = data
        self._position += len(data)
        return len(data)

    def _posted(self, position: int, count: int) -> bytes:
        if self._source is None:
            self._source = self._framed.source()
        if self._source.tell() != position:
            self._source.seek(position)
        return _read_full(self._source, count)

    def close(self) -> None:
        if self._source is not None:
            self._source.close()
        super().close()


class RecordKinds(Sequence[str]):
    """The record types of a file in file order (`kinds[i]`: record i+1), two bytes each
    rather than a string per record."""

    def __init__(self, types: bytes) -> None:
        self._types = types

    @classmethod
    def of(cls, framed: Framed) -> RecordKinds:
        with framed.open(printable=True) as stream:
            stream.seek(_SEGMENTS_920000)
            found = bytearray()
            while chunk := stream.read(RECORD_LENGTH * _CHUNK_RECORDS):
                for start in range(0, len(chunk), RECORD_LENGTH):
                    found += chunk[start : start + 2]
        return cls(bytes(found))

    def __len__(self) -> int:
        return len(self._types) // 2

    @overload
    def __getitem__(self, index: int) -> str: ...

    @overload
    def __getitem__(self, index: slice) -> Sequence[str]: ...

    def __getitem__(self, index: int | slice) -> str | Sequence[str]:
        if isinstance(index, slice):
            return [self[i] for i in range(*index.indices(len(self)))]
        if index < 0:
            index += len(self)
        if not 0 <= index < len(self):
            raise IndexError(index)
        return self._types[2 * index : 2 * index + 2].decode("ascii")
