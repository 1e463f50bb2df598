"""The insurer's ledger in the store: durable, searchable by patient, removable by source."""

from __future__ import annotations

import dataclasses
import threading
import time
from datetime import date, timedelta
from pathlib import Path

import pytest

from simulator.domain.identifiers import make_nihii
from simulator.domain.ledger_rules import DUPLICATE, Channel, HistoryScope, LedgerService
from simulator.store.ledger import LOCK_STALE_S, LOCKS, LedgerBusy, RecordsLedger
from simulator.store.records import SqliteRecords
from tests.store.conftest import Backend

DAY = date(2026, 3, 10)
GP = make_nihii("100001", "003")
PATIENT = "85073003328"


def _service(**changes: object) -> LedgerService:
    service = LedgerService("100", PATIENT, "101032", DAY, GP, Channel.EATTEST, "100-1-x", 0)
    return dataclasses.replace(service, **changes)  # type: ignore[arg-type]


@pytest.fixture
def records(tmp_path: Path) -> SqliteRecords:
    return SqliteRecords(tmp_path / "s.sqlite3")


def test_find_by_patient_insurer_code_and_days(records: SqliteRecords) -> None:
    ledger = RecordsLedger(records)
    consultation = _service()
    visit = _service(code="0103132", source="file-1/1", channel=Channel.EFACT, tooth=None)
    older = _service(day=DAY - timedelta(days=40), source="old")
    elsewhere = _service(insurer="300", source="other")
    ledger.record([consultation, visit, older, elsewhere])
    assert visit.code == "103132"  # a 7-digit eFact code is kept as 6
    assert ledger.find(PATIENT, insurer="100") == [older, consultation, visit]
    assert ledger.find(PATIENT, code="0101032") == [older, consultation, elsewhere]
    assert ledger.find(PATIENT, since=DAY - timedelta(days=1)) == [consultation, visit, elsewhere]
    assert ledger.find(PATIENT, until=DAY - timedelta(days=1)) == [older]
    assert ledger.find("17073003384") == []


def test_remove_forgets_every_line_of_a_source_and_survives_a_restart(tmp_path: Path) -> None:
    path = tmp_path / "s.sqlite3"
    ledger = RecordsLedger(SqliteRecords(path))
    lines = [_service(line=0), _service(code="102432", line=1)]
    ledger.record(lines)
    ledger.record([_service(source="another")])
    ledger.records.close()
    reopened = RecordsLedger(SqliteRecords(path))
    assert len(reopened.find(PATIENT)) == 3
    assert reopened.remove("100-1-x") == 2
    assert reopened.remove("100-1-x") == 0
    assert [s.source for s in reopened.find(PATIENT)] == ["another"]


def test_admit_records_only_what_the_rules_accept(records: SqliteRecords) -> None:
    ledger = RecordsLedger(records)
    assert ledger.admit([_service()]) == ()
    (finding,) = ledger.admit([_service(source="again")])
    assert finding.code == DUPLICATE
    assert [s.source for s in ledger.find(PATIENT)] == ["100-1-x"]
    assert records.find(LOCKS) == []  # the patient's lock is given back


def test_simultaneous_admits_of_one_consultation_accept_one(records: SqliteRecords) -> None:
    ledger = RecordsLedger(records)
    results: list[int] = []

    def admit(source: str) -> None:
        results.append(len(ledger.admit([_service(source=source)])))

    threads = [threading.Thread(target=admit, args=(f"s{i}",)) for i in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(results) == [0, 1, 1, 1, 1, 1]
    assert len(ledger.find(PATIENT)) == 1


def test_a_lock_left_by_a_dead_worker_is_taken_over(records: SqliteRecords) -> None:
    ledger = RecordsLedger(records)
    records.insert(LOCKS, PATIENT, {"at": time.time() - LOCK_STALE_S - 1})
    assert ledger.admit([_service()]) == ()
    records.insert(LOCKS, PATIENT, {"at": time.time()})  # a live worker holds it
    with pytest.raises(LedgerBusy):
        ledger.admit([_service(source="b")])


def test_an_admin_reset_forgets_the_ledger(records: SqliteRecords) -> None:
    ledger = RecordsLedger(records)
    ledger.record([_service()])
    records.clear()
    assert ledger.find(PATIENT) == []
    assert ledger.remove("100-1-x") == 0


# -- on every backend of the store: two workers share one ledger ----------------------------------


def test_two_workers_share_one_ledger_and_count_a_consultation_once(backend: Backend) -> None:
    one = RecordsLedger(backend.open().records)
    two = RecordsLedger(backend.open().records)
    results: list[int] = []

    def admit(ledger: RecordsLedger, source: str) -> None:
        results.append(len(ledger.admit([_service(source=source)])))

    threads = [
        threading.Thread(target=admit, args=(ledger, f"{name}-{i}"))
        for i in range(3)
        for name, ledger in (("one", one), ("two", two))
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(results) == [0, 1, 1, 1, 1, 1]
    assert len(one.find(PATIENT)) == len(two.find(PATIENT)) == 1
    (kept,) = two.find(PATIENT)
    assert one.remove(kept.source) == 1 and two.find(PATIENT) == []


def test_history_reads_the_scope_only(records: SqliteRecords) -> None:
    ledger = RecordsLedger(records)
    same_day = _service(source="a")
    next_day = _service(day=DAY + timedelta(days=1), source="b")
    last_year = _service(day=date(DAY.year - 1, 12, 31), source="c")
    elsewhere = _service(insurer="300", source="d")
    other = _service(patient="17073003384", source="e")
    ledger.record([same_day, next_day, last_year, elsewhere, other])

    def history(scope: HistoryScope, *, insurer: str = "100") -> list[LedgerService]:
        return ledger.history(insurer, {PATIENT: scope})

    assert history(HistoryScope(days=frozenset({DAY}))) == [same_day]
    assert history(HistoryScope(years=frozenset({DAY.year}))) == [same_day, next_day]
    both = HistoryScope(years=frozenset({DAY.year - 1}), days=frozenset({DAY}))
    assert history(both) == [last_year, same_day]
    assert history(HistoryScope(whole=True)) == [last_year, same_day, next_day]
    assert history(HistoryScope()) == []
    assert history(HistoryScope(whole=True), insurer="300") == [elsewhere]
    # Several patients in one read, by patient then day.
    day = HistoryScope(days=frozenset({DAY}))
    assert ledger.history("100", {"17073003384": day, PATIENT: day}) == [other, same_day]
