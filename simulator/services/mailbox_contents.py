"""What GenAsync keeps a part at a time (store/parts.py): posted contents and answers.

A posted 920000 may be 20 MB and its 920098 twice that: neither is held whole. `keep_post`
puts a post's content in POSTED_PARTS and the insurer's processing reads it back through
`PostedFile.open`; an answer is written into an `Answer` as it is produced, which hashes and
deflates it on the way into MESSAGE_PARTS, and the mailbox entry `deliver_answer` writes
names its parts.
"""

from __future__ import annotations

import base64
import hashlib
import io
import uuid
import zlib
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, BinaryIO

from simulator.runtime import Simulator
from simulator.store.parts import (
    PartCache,
    PartsReader,
    PartsWriter,
    delete_parts,
    read_parts,
)

if TYPE_CHECKING:
    from _typeshed import ReadableBuffer

POSTED_PARTS = "genasync-posted-part"  # posted contents: <mailbox>/<reference>/<n>
MESSAGE_PARTS = "genasync-message-part"  # a waiting message's Detail: <reference>/<n>
_HEAD = 6  # first bytes of an answer kept beside it: its message type (931000, 920098...)
_READ_AHEAD = 1 << 16


class Answer(io.RawIOBase):
    """An answer on its way to a mailbox, written as it is produced: each write is hashed
    (HashValue is the SHA-256 of the content) and deflated (ContentEncoding deflate) into the
    store's parts of the message to be, so a 920098 of any size is never held whole; what
    stays in memory is the deflated Detail, when `deliver_answer` signs it."""

    def __init__(self, sim: Simulator, content_encoding: str = "deflate") -> None:
        super().__init__()
        encoding = content_encoding.strip().lower()
        if encoding not in ("deflate", "none"):
            raise ValueError(f"unsupported ContentEncoding {content_encoding!r} (none or deflate)")
        self.content_encoding = content_encoding
        self.reference = uuid.uuid4().hex
        self._digest = hashlib.sha256()
        self._deflate = zlib.compressobj(level=6, wbits=-15) if encoding == "deflate" else None
        self._records = sim.records
        self._parts = PartsWriter(sim.records, MESSAGE_PARTS, self.reference)
        self.head = b""  # the first bytes, for the processing's history (message type)

    def writable(self) -> bool:
        return True

    def write(self, data: ReadableBuffer) -> int:
        chunk = bytes(data)
        if len(self.head) < _HEAD:
            self.head += chunk[: _HEAD - len(self.head)]
        self._digest.update(chunk)
        self._parts.write(self._deflate.compress(chunk) if self._deflate else chunk)
        return len(chunk)

    def close(self) -> None:
        if not self.closed:
            if self._deflate is not None:
                self._parts.write(self._deflate.flush())
            self._parts.close()
        super().close()

    def forget(self) -> None:
        """Drop what was written (an answer found delivered already, or withheld)."""
        self.close()
        delete_parts(self._records, MESSAGE_PARTS, self.reference, self.parts)

    @property
    def sha256(self) -> bytes:
        return self._digest.digest()

    @property
    def hash_value(self) -> str:
        return base64.b64encode(self.sha256).decode("ascii")

    @property
    def parts(self) -> int:
        return self._parts.parts


def detail_text(sim: Simulator, reference: str, parts: int) -> str:
    """The Detail text of a stored message: base64 of its (deflated) content."""
    return base64.b64encode(read_parts(sim.records, MESSAGE_PARTS, reference, parts)).decode(
        "ascii"
    )


def forget_parts(sim: Simulator, document: dict[str, object]) -> None:
    """Delete the Detail parts of a stored message that left its mailbox."""
    parts = document.get("detail_parts")
    if parts is not None:
        delete_parts(sim.records, MESSAGE_PARTS, str(document["reference"]), int(str(parts)))


@dataclass(frozen=True)
class PostedFile:
    """A posted content as the insurer's processing reads it: its size, and a stream over it
    from the start each time `open` is called (a part in memory at a time)."""

    sim: Simulator
    key: str
    size: int
    parts: int | None  # None: kept whole in the document (stores from before parts)
    whole: bytes = b""
    # The processing reads a file several times: a file of two parts (~2 MB) is read once.
    cache: PartCache = field(default_factory=PartCache, repr=False, compare=False)

    def open(self) -> BinaryIO:
        if self.parts is None:
            return io.BytesIO(self.whole)
        parts = PartsReader(
            self.sim.records, POSTED_PARTS, self.key, self.parts, cache=self.cache
        )
        return io.BufferedReader(parts, buffer_size=_READ_AHEAD)

    def read(self) -> bytes:
        with self.open() as stream:
            return stream.read()


__all__ = [
    "MESSAGE_PARTS",
    "POSTED_PARTS",
    "Answer",
    "PostedFile",
    "detail_text",
    "forget_parts",
]
