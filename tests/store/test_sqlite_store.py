import threading

from simulator.store.base import JournalEntry, JournalQuery
from simulator.store.sqlite import SqliteStore


def entry(**overrides):
    values = dict(
        at="2025-11-03T10:00:00+00:00",
        service="etar",
        operation="TarificationConsultation",
        path="/MyCareNet/Tarification/v1",
        outcome="ok",
        http_status=200,
        duration_ms=1.5,
        request="<req/>",
        response="<resp/>",
    )
    values.update(overrides)
    return JournalEntry(**values)


def test_journal_survives_reopening_and_filters(tmp_path):
    path = tmp_path / "s.sqlite3"
    store = SqliteStore(path)
    store.record(entry(patient_ssin="85073003328", security={"verdict": "valid"}))
    store.record(
        entry(service="sts", operation="RequestSecurityToken", outcome="fault", code="SOA-01001")
    )
    store.record(entry(at="2025-11-04T10:00:00+00:00", outcome="business-error", code="166"))
    store.close()

    store = SqliteStore(path)
    everything = store.journal(JournalQuery())
    assert [e.id for e in everything] == [1, 2, 3]
    assert everything[0].security == {"verdict": "valid"}
    assert [e.code for e in store.journal(JournalQuery(outcome="fault"))] == ["SOA-01001"]
    assert [e.id for e in store.journal(JournalQuery(patient_ssin="85073003328"))] == [1]
    assert [e.id for e in store.journal(JournalQuery(since="2025-11-04"))] == [3]
    assert [e.id for e in store.journal(JournalQuery(service="etar", until="2025-11-04"))] == [1]
    assert [e.id for e in store.journal(JournalQuery(limit=1, offset=1))] == [2]
    assert store.journal(JournalQuery(include_bodies=False))[0].request == ""
    store.close()


def test_sequences_are_persistent_and_unique_under_threads(tmp_path):
    store = SqliteStore(tmp_path / "s.sqlite3")
    seen: list[int] = []
    lock = threading.Lock()

    def draw():
        for _ in range(50):
            value = store.next_sequence("commitment")
            with lock:
                seen.append(value)

    threads = [threading.Thread(target=draw) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(seen) == list(range(1, 201))
    store.close()
    store = SqliteStore(tmp_path / "s.sqlite3")
    after_restart = store.next_sequence("commitment")
    assert after_restart > 200  # never reused; a gap after a restart is allowed
    assert store.next_sequence("commitment") == after_restart + 1
    assert store.next_sequence("other") == 1
    store.clear()  # an admin reset forgets the journal, never the numbers handed out
    assert store.next_sequence("commitment") > after_restart + 1
    assert store.journal(JournalQuery()) == []
    store.close()
