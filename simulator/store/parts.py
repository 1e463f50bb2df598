"""Large contents in the store a part at a time: a posted eFact file, an answer's Detail.

A content of any size is kept as records `<key>/<index>` of one kind, PART_SIZE bytes each
(base64 in the document), so that neither the store nor a reader ever holds it whole:
`PartsWriter` puts each part as soon as it is full, `PartsReader` loads one part at a time
and seeks (the eFact framing reads the last record first). The document that owns the
content notes how many parts it has; `delete_parts` forgets them with it.
"""

from __future__ import annotations

import base64
import io
from collections import OrderedDict
from typing import TYPE_CHECKING

from simulator.store.records import Records
from simulator.streams import PositionedReader

if TYPE_CHECKING:
    from _typeshed import ReadableBuffer, WriteableBuffer

PART_SIZE = 1 << 20


def part_key(key: str, index: int) -> str:
    return f"{key}/{index:06d}"


class PartsWriter(io.RawIOBase):
    """A write-only stream whose bytes go to the store in parts as they come; `close()` puts
    the last one. `parts` and `size` say what was written."""

    def __init__(
        self, records: Records, kind: str, key: str, part_size: int | None = None
    ) -> None:
        super().__init__()
        self._records, self._kind, self._key = records, kind, key
        self._part_size = part_size or PART_SIZE
        self._pending = bytearray()
        self.parts = 0
        self.size = 0

    def writable(self) -> bool:
        return True

    def write(self, data: ReadableBuffer) -> int:
        view = memoryview(data).cast("B")
        self._pending += view
        self.size += len(view)
        while len(self._pending) >= self._part_size:
            self._put(bytes(self._pending[: self._part_size]))
            del self._pending[: self._part_size]
        return len(view)

    def close(self) -> None:
        if not self.closed and (self._pending or not self.parts):
            self._put(bytes(self._pending))  # an empty content is one empty part
            self._pending.clear()
        super().close()

    def _put(self, data: bytes) -> None:
        document = {"data": base64.b64encode(data).decode("ascii")}
        self._records.put(self._kind, part_key(self._key, self.parts), document)
        self.parts += 1


def put_parts(records: Records, kind: str, key: str, data: bytes) -> int:
    """Keep `data` as parts; returns how many."""
    with PartsWriter(records, kind, key) as writer:
        writer.write(data)
    return writer.parts


class PartCache:
    """The last few parts read, shared by the readers of one content: the eFact processing
    reads a posted file several times over (checks, services, answers), and a small file is
    then read from the store once; a large one still holds `size` parts at most."""

    def __init__(self, size: int = 2) -> None:
        self._size = size
        self._parts: OrderedDict[int, bytes] = OrderedDict()

    def get(self, index: int) -> bytes | None:
        data = self._parts.get(index)
        if data is not None:
            self._parts.move_to_end(index)
        return data

    def keep(self, index: int, data: bytes) -> None:
        self._parts[index] = data
        self._parts.move_to_end(index)
        while len(self._parts) > self._size:
            self._parts.popitem(last=False)


class PartsReader(PositionedReader):
    """A seekable read-only stream over the `parts` parts of `key` (each `part_size` bytes but
    the last, as `PartsWriter` puts them), one part in memory."""

    def __init__(
        self,
        records: Records,
        kind: str,
        key: str,
        parts: int,
        part_size: int | None = None,
        cache: PartCache | None = None,
    ) -> None:
        super().__init__()
        self._records, self._kind, self._key = records, kind, key
        self._parts, self._part_size = parts, part_size or PART_SIZE
        self._cache = cache or PartCache(1)
        self._index = -1  # the part in `_data`
        self._data = b""

    def readinto(self, buffer: WriteableBuffer) -> int:
        target = memoryview(buffer).cast("B")
        index, within = divmod(self._position, self._part_size)
        if index >= self._parts:
            return 0
        if index != self._index:
            self._data, self._index = self._read_part(index), index
            if len(self._data) != self._part_size and index + 1 < self._parts:
                raise OSError(f"part {index} of {self._key} is {len(self._data)} bytes, "
                              f"not {self._part_size}")  # fmt: skip
        count = max(0, min(len(target), len(self._data) - within))
        target[:count] = self._data[within : within + count]
        self._position += count
        return count

    def _read_part(self, index: int) -> bytes:
        data = self._cache.get(index)
        if data is None:
            document = self._records.get(self._kind, part_key(self._key, index))
            if document is None:
                raise OSError(f"part {index} of {self._key} is missing from the store")
            data = base64.b64decode(str(document["data"]))
            self._cache.keep(index, data)
        return data


def read_parts(
    records: Records, kind: str, key: str, parts: int, part_size: int | None = None
) -> bytes:
    """The whole content (for what needs it whole: an answer's Detail as sent)."""
    with PartsReader(records, kind, key, parts, part_size) as reader:
        return reader.read()


def delete_parts(records: Records, kind: str, key: str, parts: int) -> None:
    for index in range(parts):
        records.delete(kind, part_key(key, index))


__all__ = [
    "PART_SIZE",
    "PartCache",
    "PartsReader",
    "PartsWriter",
    "delete_parts",
    "part_key",
    "put_parts",
    "read_parts",
]
