"""The 450-char error block the insurer writes after each echoed record (wire-formats 6.5)."""

from __future__ import annotations

from dataclasses import dataclass

ERROR_BLOCK_LENGTH = 450
MAX_ERRORS = 3  # three {letter, code} slots per record
_SLOTS_START = 106  # sending id 3 + creation date 8 + year-month 6 + mutuality 3 + filler 86
_COMMENT_START = 183  # after the slots (21), zones 114-116 (36), 117 (7), 118 (1), IO result (12)
_COMMENT_LENGTH = 200
_INDEX_START = 444


@dataclass(frozen=True, slots=True)
class BlockError:
    letter: str
    code: str


@dataclass(frozen=True, slots=True)
class ErrorBlock:
    sending_number: str
    creation_date: str  # YYYYMMDD
    year_month: str  # YYYYMM
    mutuality: str
    errors: tuple[BlockError, ...]
    comment: str
    index: int


def format_block(block: ErrorBlock) -> str:
    if len(block.errors) > MAX_ERRORS:
        raise ValueError(f"an error block holds at most {MAX_ERRORS} errors")
    slots = "".join(f"{e.letter}{e.code}" for e in block.errors).ljust(7 * MAX_ERRORS)
    text = (
        f"{block.sending_number:>03}"[:3]
        + block.creation_date.rjust(8, "0")
        + block.year_month.rjust(6, "0")
        + block.mutuality.rjust(3, "0")
        + " " * 86
        + slots
        + "0" * 36  # zones 114-116
        + "0" * 7  # zone 117
        + " "  # zone 118
        + " " * 12  # IO result
        + block.comment[:_COMMENT_LENGTH].ljust(_COMMENT_LENGTH)
        + " " * 61
        + f"{block.index:06d}"
    )
    assert len(text) == ERROR_BLOCK_LENGTH
    return text


def parse_block(text: str) -> ErrorBlock:
    """The error block of an echoed record; ValueError when its length is wrong."""
    if len(text) != ERROR_BLOCK_LENGTH:
        raise ValueError(f"error block of {len(text)} chars, expected {ERROR_BLOCK_LENGTH}")
    errors = []
    for slot in range(MAX_ERRORS):
        raw = text[_SLOTS_START + 7 * slot : _SLOTS_START + 7 * slot + 7]
        if raw.strip():
            errors.append(BlockError(raw[0], raw[1:]))
    index = text[_INDEX_START:]
    return ErrorBlock(
        sending_number=text[0:3],
        creation_date=text[3:11],
        year_month=text[11:17],
        mutuality=text[17:20],
        errors=tuple(errors),
        comment=text[_COMMENT_START : _COMMENT_START + _COMMENT_LENGTH].rstrip(),
        index=int(index) if index.isdigit() else 0,
    )
