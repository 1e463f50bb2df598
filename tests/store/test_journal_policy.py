"""The journal on disk: compressed bodies, masked secrets, retention, which rows keep bodies."""

from __future__ import annotations

import sqlite3
import time
from datetime import timedelta
from pathlib import Path

import pytest

from simulator.store.base import JournalBodies, JournalEntry, JournalPolicy, JournalQuery
from simulator.store.masking import mask_secrets
from simulator.store.sqlite import SqliteStore

LICENCE = (
    "<CommonInput><Origin><Package><License><Username>vendor</Username>"
    "<Password>s3cr3t-licence</Password></License></Package></Origin></CommonInput>"
)


def _request(index: int) -> str:
    # What repeats from one exchange to the next (the token, certificates) is what the
    # per-operation dictionary saves.
    token = "MIIEDTCCAvWgAwIBAgIUdrKJ" * 200
    return (
        f"<soap:Envelope><soap:Header><Assertion>{token}</Assertion></soap:Header><soap:Body>"
        f"{LICENCE}<Patient>{index:011d}</Patient></soap:Body></soap:Envelope>"
    )


def _entry(index: int = 0, outcome: str = "ok", request: str | None = None) -> JournalEntry:
    return JournalEntry(
        at=f"2025-11-03T10:00:{index % 60:02d}+00:00",
        service="etar",
        operation="TarificationConsultation",
        path="/MyCareNet/Tarification/v1",
        outcome=outcome,
        http_status=200 if outcome != "fault" else 500,
        duration_ms=1.0,
        code=None if outcome == "ok" else "SOA-01001",
        stages=[
            {"name": "parse", "ms": 0.1, "note": ""},
            {"name": "handle", "ms": 2.0, "note": "x"},
        ],
        security={"verdict": "valid"},
        request=request if request is not None else _request(index),
        response=f"<answer>{index}</answer>",
    )


def _raw(path: Path) -> bytes:
    """Every byte the journal files hold (database and WAL)."""
    return b"".join(p.read_bytes() for p in path.parent.glob(f"{path.stem}-journal*"))


def test_bodies_are_compressed_and_read_back_whole(tmp_path: Path) -> None:
    path = tmp_path / "s.sqlite3"
    store = SqliteStore(path)
    for index in range(20):
        store.record(_entry(index))
    store.flush()
    entries = store.journal(JournalQuery())
    assert len(entries) == 20
    assert entries[5].request == mask_secrets(_request(5))
    assert entries[5].response == "<answer>5</answer>"
    assert entries[5].stages == [
        {"name": "parse", "ms": 0.1, "note": ""},
        {"name": "handle", "ms": 2.0, "note": "x"},
    ]
    with sqlite3.connect(path.with_name("s-journal.sqlite3")) as db:
        stored = db.execute("SELECT sum(length(request_z)) FROM journal WHERE id > 1").fetchone()[0]
    # ~5 KB of XML each; against the dictionary only what differs remains.
    assert stored / 19 < 200
    assert store.journal(JournalQuery(include_bodies=False))[0].request == ""
    store.close()


def test_passwords_never_reach_the_disk(tmp_path: Path) -> None:
    path = tmp_path / "s.sqlite3"
    store = SqliteStore(path)
    cut = "<a/>" * 10 + "<ns:Password>half-a-secret"  # a body cut inside the element
    store.record(_entry(1, request=_request(1)))
    store.record(_entry(2, outcome="fault", request=cut))
    store.close()
    assert b"s3cr3t-licence" not in _raw(path)
    store = SqliteStore(path)
    first, second = store.journal(JournalQuery())
    assert "<Password>***</Password>" in first.request
    assert "s3cr3t" not in first.request and "half-a-secret" not in second.request
    assert second.request.endswith("<ns:Password>***")
    store.close()


def test_masking_covers_prefixes_attributes_and_cdata() -> None:
    text = (
        '<a:Password Type="x">one</a:Password><Username>u</Username>'
        "<Password><![CDATA[t<w>o]]></Password><Password/>"
    )
    assert mask_secrets(text) == (
        '<a:Password Type="x">***</a:Password><Username>u</Username>'
        "<Password>***</Password><Password/>"
    )


def test_max_rows_keeps_the_newest_and_forgets_unused_dictionaries(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # a new dictionary every 5 bodies
    monkeypatch.setattr("simulator.store.preset_dictionaries.DICTIONARY_REFRESH", 5)
    store = SqliteStore(tmp_path / "s.sqlite3", policy=JournalPolicy(max_rows=10, max_age=None))
    for index in range(40):
        store.record(_entry(index))
        store.flush()
    assert store.apply_retention() == 30
    entries = store.journal(JournalQuery())
    assert [e.id for e in entries] == list(range(31, 41))
    assert entries[0].request == mask_secrets(_request(30))  # still readable
    with sqlite3.connect(tmp_path / "s-journal.sqlite3") as db:
        dictionaries = db.execute("SELECT count(*) FROM journal_dict").fetchone()[0]
    assert dictionaries <= 6  # the request and response ones of the last 10 rows, not all 16
    store.close()


def test_max_age_drops_rows_written_before_it(tmp_path: Path) -> None:
    store = SqliteStore(
        tmp_path / "s.sqlite3", policy=JournalPolicy(max_rows=None, max_age=timedelta(hours=1))
    )
    for index in range(5):
        store.record(_entry(index))
    store.flush()
    assert store.apply_retention() == 0
    assert store.apply_retention(now=time.time() + 2 * 3600) == 5
    assert store.journal(JournalQuery()) == []
    store.close()


def test_errors_policy_keeps_bodies_of_rejections_and_faults_only(tmp_path: Path) -> None:
    policy = JournalPolicy(bodies=JournalBodies.ERRORS)
    store = SqliteStore(tmp_path / "s.sqlite3", policy=policy)
    store.record(_entry(1, outcome="ok"))
    store.record(_entry(2, outcome="business-error"))
    store.record(_entry(3, outcome="fault"))
    store.flush()
    ok, rejected, fault = store.journal(JournalQuery())
    assert ok.request == "" and ok.response == "" and ok.outcome == "ok"
    assert rejected.response == "<answer>2</answer>" and fault.request.startswith("<soap:")
    assert not policy.keeps_bodies("ok") and policy.keeps_bodies("fault")
    assert not JournalPolicy(bodies=JournalBodies.NONE).keeps_bodies("fault")
    store.close()


def test_the_writer_applies_retention_on_its_own(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("simulator.store.sqlite.RETENTION_INTERVAL_S", 0.0)
    store = SqliteStore(tmp_path / "s.sqlite3", policy=JournalPolicy(max_rows=3))
    for index in range(10):
        store.record(_entry(index))
    deadline = time.monotonic() + 5
    while store.journal_rows() > 3 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert store.journal_rows() == 3
    store.close()


def test_a_journal_of_the_previous_layout_is_still_read(tmp_path: Path) -> None:
    path = tmp_path / "s.sqlite3"
    old = sqlite3.connect(path.with_name("s-journal.sqlite3"))
    old.executescript(
        """CREATE TABLE journal (id INTEGER PRIMARY KEY AUTOINCREMENT, at TEXT NOT NULL,
        service TEXT NOT NULL, operation TEXT NOT NULL, path TEXT NOT NULL, soap_action TEXT,
        outcome TEXT NOT NULL, code TEXT, http_status INTEGER NOT NULL,
        duration_ms REAL NOT NULL, provider_nihii TEXT, patient_ssin TEXT,
        security TEXT NOT NULL, stages TEXT NOT NULL, request TEXT NOT NULL,
        response TEXT NOT NULL);
        INSERT INTO journal (at, service, operation, path, outcome, http_status, duration_ms,
        security, stages, request, response) VALUES ('2025-01-01T00:00:00+00:00', 'etar',
        'TarificationConsultation', '/p', 'ok', 200, 1.0, '{}',
        '[{"name": "parse", "ms": 1.0, "note": ""}]', '<old/>', '<old-answer/>');"""
    )
    old.close()
    store = SqliteStore(path)
    store.record(_entry(1))
    store.flush()
    first, second = store.journal(JournalQuery())
    assert (first.request, first.response) == ("<old/>", "<old-answer/>")
    assert first.stages == [{"name": "parse", "ms": 1.0, "note": ""}]
    assert second.response == "<answer>1</answer>"
    store.close()


def test_a_store_opened_only_to_read_deletes_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("simulator.store.sqlite.RETENTION_INTERVAL_S", 0.0)
    path = tmp_path / "s.sqlite3"
    store = SqliteStore(path, policy=JournalPolicy(max_rows=None, max_age=None))
    for index in range(5):
        store.record(_entry(index))
    store.close()
    reader = SqliteStore(path, policy=JournalPolicy(max_rows=2))  # conformance evaluate
    time.sleep(0.5)  # several writer passes
    assert len(reader.journal(JournalQuery())) == 5
    reader.close()
