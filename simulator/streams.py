"""A read-only raw stream that keeps its own position: what a posted file kept in parts
(store/parts.py) and its framing as a 920000 (efact/parser.py) have in common; each says how
to fill a read from a position."""

from __future__ import annotations

import io


class PositionedReader(io.RawIOBase):
    """Seekable and readable; `seek` from the end needs `size` (None: unknown)."""

    size: int | None = None

    def __init__(self) -> None:
        super().__init__()
        self._position = 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._position

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        if whence == io.SEEK_CUR:
            offset += self._position
        elif whence == io.SEEK_END:
            if self.size is None:
                raise io.UnsupportedOperation("seek from the end of a stream of unknown size")
            offset += self.size
        if offset < 0:
            raise ValueError(f"negative seek position {offset}")
        self._position = offset
        return offset
