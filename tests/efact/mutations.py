"""Hypothesis mutations of valid 920000 files (issue 11): byte flips (non-ASCII and control
characters included), record type changes, truncation, duplicated and removed records, wrong
lengths and CR/LF variants. Used by the in-process bulk test and the HTTP test."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from hypothesis import strategies as st

from simulator.efact.parser import INVALID_BYTE, frame

SEGMENTS = 67 + 160
RECORD = 350

Mutation = Callable[[bytes], bytes]

# Bytes a vendor's file really gets wrong: accents (latin-1 and the first byte of UTF-8),
# control characters, CR/LF, DEL, superscript digits ("²".isdigit() is True), plus ordinary ones.
_NASTY = [0x00, 0x09, 0x0A, 0x0D, 0x1A, 0x7F, 0x80, 0xA0, 0xB2, 0xB9, 0xC3, 0xE9, 0xFF]
BYTES = st.one_of(
    st.sampled_from(_NASTY),
    st.integers(0x80, 0xFF),
    st.integers(0x00, 0x1F),
    st.sampled_from(b"0123456789 AZaz+-?/"),
)
TYPES = st.one_of(
    st.sampled_from(["10", "20", "25", "30", "50", "51", "52", "80", "90", "91", "92", "95",
                     "96", "00", "77", "40", "99"]),
    st.text(alphabet=st.characters(min_codepoint=0, max_codepoint=255), min_size=2, max_size=2),
)


def _records(data: bytes) -> int:
    return max(0, (len(data) - SEGMENTS) // RECORD)


@dataclass(frozen=True)
class Step:
    kind: str
    apply: Mutation

    def __repr__(self) -> str:
        return self.kind


@st.composite
def _flip(draw: st.DrawFn) -> Step:
    where = draw(st.floats(0, 1, exclude_max=True))
    count = draw(st.integers(1, 3))
    values = draw(st.lists(BYTES, min_size=count, max_size=count))

    def apply(data: bytes) -> bytes:
        if not data:
            return data
        body = bytearray(data)
        start = int(where * len(body))
        for offset, value in enumerate(values):
            body[(start + offset) % len(body)] = value
        return bytes(body)

    return Step(f"flip@{where:.3f}:{bytes(values)!r}", apply)


@st.composite
def _retype(draw: st.DrawFn) -> Step:
    which = draw(st.floats(0, 1, exclude_max=True))
    kind = draw(TYPES).encode("latin-1")

    def apply(data: bytes) -> bytes:
        records = _records(data)
        if not records:
            return data
        start = SEGMENTS + int(which * records) * RECORD
        return data[:start] + kind + data[start + 2 :]

    return Step(f"type:{kind!r}", apply)


@st.composite
def _truncate(draw: st.DrawFn) -> Step:
    keep = draw(st.floats(0, 1))
    return Step(f"truncate:{keep:.3f}", lambda data: data[: int(keep * len(data))])


@st.composite
def _duplicate(draw: st.DrawFn) -> Step:
    which = draw(st.floats(0, 1, exclude_max=True))

    def apply(data: bytes) -> bytes:
        records = _records(data)
        if not records:
            return data
        start = SEGMENTS + int(which * records) * RECORD
        return data[: start + RECORD] + data[start : start + RECORD] + data[start + RECORD :]

    return Step("duplicate", apply)


@st.composite
def _remove(draw: st.DrawFn) -> Step:
    which = draw(st.floats(0, 1, exclude_max=True))

    def apply(data: bytes) -> bytes:
        records = _records(data)
        if not records:
            return data
        start = SEGMENTS + int(which * records) * RECORD
        return data[:start] + data[start + RECORD :]

    return Step("remove", apply)


@st.composite
def _length(draw: st.DrawFn) -> Step:
    where = draw(st.floats(0, 1))
    delta = draw(st.integers(1, 40)) * draw(st.sampled_from([-1, 1]))
    filler = draw(st.sampled_from([b" ", b"0", b"\xe9"]))

    def apply(data: bytes) -> bytes:
        at = int(where * len(data))
        if delta > 0:
            return data[:at] + filler * delta + data[at:]
        return data[:at] + data[at - delta :]

    return Step(f"length{delta:+d}", apply)


@st.composite
def _newlines(draw: st.DrawFn) -> Step:
    ending = draw(st.sampled_from([b"\r\n", b"\n", b"\r"]))
    how = draw(st.sampled_from(["each-record", "end", "after-segments"]))

    def apply(data: bytes) -> bytes:
        if how == "end":
            return data + ending
        if how == "after-segments":
            return data[:67] + ending + data[67:SEGMENTS] + ending + data[SEGMENTS:]
        parts = [data[:SEGMENTS]] + [
            data[start : start + RECORD] for start in range(SEGMENTS, len(data), RECORD)
        ]
        return ending.join(parts) + ending

    return Step(f"newlines:{how}:{ending!r}", apply)


STEPS = st.one_of(
    _flip(), _flip(), _retype(), _truncate(), _duplicate(), _remove(), _length(), _newlines()
)
MUTATIONS = st.lists(STEPS, min_size=1, max_size=4)


def mutate(data: bytes, steps: list[Step]) -> bytes:
    for step in steps:
        data = step.apply(data)
    return data


def printable(answer: bytes) -> bool:
    """Answers are plain printable ASCII, whatever came in."""
    return INVALID_BYTE.search(answer) is None


def records_of(posted: bytes) -> int:
    """How many records the insurer reads in a posted file (after `frame`)."""
    return frame(posted).records
