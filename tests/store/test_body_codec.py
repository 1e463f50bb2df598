"""The journal's body codec: zstd against the kind's dictionary, and rows written by the zlib
codec before it still read back."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import zlib
from pathlib import Path

from simulator.store.base import JournalEntry
from simulator.store.body_codec import ZSTD_MAGIC, BodyCodec
from simulator.store.sqlite import SqliteStore

ASSERTION = b"<saml:Assertion>" + b"<saml:Attribute Name='urn:be:fgov:person:ssin'/>" * 80
FIRST = b"<soap:Envelope>" + ASSERTION + b"<Body>patient 85073003328</Body></soap:Envelope>"
LATER = b"<soap:Envelope>" + ASSERTION + b"<Body>patient 71010100123</Body></soap:Envelope>"


def test_a_body_round_trips_with_and_without_its_kinds_dictionary() -> None:
    codec = BodyCodec()
    dictionary = (7, FIRST)
    with_dictionary = codec.compress(LATER, dictionary)
    alone = codec.compress(LATER)
    assert with_dictionary.startswith(ZSTD_MAGIC) and alone.startswith(ZSTD_MAGIC)
    assert len(with_dictionary) < len(alone) / 3  # the repeated assertion costs nothing
    assert BodyCodec().decompress(with_dictionary, dictionary) == LATER  # any reader
    assert BodyCodec().decompress(alone) == LATER


def test_rows_written_by_the_zlib_codec_read_back() -> None:
    compressor = zlib.compressobj(6, zdict=FIRST)
    old_with_dictionary = compressor.compress(LATER) + compressor.flush()
    old_alone = zlib.compress(LATER, 6)
    codec = BodyCodec()
    assert codec.decompress(old_with_dictionary, (3, FIRST)) == LATER
    assert codec.decompress(old_alone) == LATER


def test_many_dictionaries_keep_working_past_the_prepared_cache() -> None:
    codec = BodyCodec()
    blobs = [
        (n, codec.compress(LATER + str(n).encode(), (n, FIRST + bytes([n])))) for n in range(100)
    ]
    for n, blob in blobs:
        assert codec.decompress(blob, (n, FIRST + bytes([n]))) == LATER + str(n).encode()


def test_two_journals_in_one_process_keep_their_own_dictionaries(tmp_path: Path) -> None:
    # Dictionary numbers are per database: both journals have a dictionary 1. Read back by a
    # fresh process (no prepared dictionary left over), each row must be what was recorded.
    bodies = {"a": ("alpha-0123456789-", "alpha-0123456789-"),
              "b": ("bravo-9876543210-", "alpha-0123456789-")}  # fmt: skip
    for name, (first, second) in bodies.items():
        (tmp_path / name).mkdir()  # a journal of its own beside each store
        store = SqliteStore(tmp_path / name / "state.sqlite3")
        for text in (first, second):  # the first becomes the dictionary of the second
            store.record(_entry(f"<x>{text * 100}</x>"))
            store.flush()
        store.close()
    script = textwrap.dedent(
        f"""
        from pathlib import Path
        from simulator.store.base import JournalQuery
        from simulator.store.sqlite import SqliteStore
        for name in "ba":  # b first: nothing of a prepared yet
            store = SqliteStore(Path({str(tmp_path)!r}) / name / "state.sqlite3")
            print(" ".join(e.request[3:20] for e in store.journal(JournalQuery())))
        """
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          timeout=60, check=True)  # fmt: skip
    assert done.stdout.split("\n")[:2] == [
        "bravo-9876543210- alpha-0123456789-",
        "alpha-0123456789- alpha-0123456789-",
    ]


def _entry(request: str) -> JournalEntry:
    return JournalEntry(
        at="2026-01-01T00:00:00+00:00", service="etar", operation="TarificationConsultation",
        path="/MyCareNet/Tarification/v1", soap_action="", outcome="ok", http_status=200,
        duration_ms=1.0, security={}, stages=[], request=request, response="<r/>",
    )  # fmt: skip
