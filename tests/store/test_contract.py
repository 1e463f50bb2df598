"""The store contract, once for every backend: what the services and the admin API rely on,
whether the state is in SQLite (one process) or PostgreSQL (several workers).

Each `backend.open()` is what one process opens: on PostgreSQL two of them are two workers
sharing one world; on SQLite, the simulator after a restart.
"""

from __future__ import annotations

import asyncio
import threading
import time
from datetime import timedelta

import pytest

from simulator.store.base import JournalBodies, JournalEntry, JournalPolicy, JournalQuery
from tests.store.conftest import Backend

LICENCE = "<License><Username>vendor</Username><Password>s3cr3t</Password></License>"


def entry(**overrides: object) -> JournalEntry:
    values: dict[str, object] = dict(
        at="2025-11-03T10:00:00+00:00",
        service="etar",
        operation="TarificationConsultation",
        path="/MyCareNet/Tarification/v1",
        outcome="ok",
        http_status=200,
        duration_ms=1.5,
        request=f"<req>{LICENCE}</req>",
        response="<resp/>",
        stages=[
            {"name": "parse", "ms": 0.5, "note": ""},
            {"name": "decide", "ms": 1.0, "note": "x"},
        ],
        security={"verdict": "valid", "mode": "strict"},
    )
    values.update(overrides)
    return JournalEntry(**values)  # type: ignore[arg-type]


# -- journal ------------------------------------------------------------------------------
def test_journal_filters_pages_and_survives_reopening(backend: Backend) -> None:
    store = backend.open().store
    store.record(entry(patient_ssin="85073003328", reference="REF-1", provider_nihii="19283746001"))
    store.record(
        entry(service="sts", operation="RequestSecurityToken", outcome="fault", code="SOA-01001")
    )
    store.record(
        entry(
            at="2025-11-04T10:00:00+00:00", outcome="business-error", code="166", reference="REF-22"
        )
    )
    store.close()

    store = backend.open().store
    everything = store.journal(JournalQuery())
    ids = [e.id for e in everything]
    assert len(ids) == 3 and ids == sorted(ids)
    first = everything[0]
    assert first.security == {"verdict": "valid", "mode": "strict"}
    assert first.stages == [
        {"name": "parse", "ms": 0.5, "note": ""},
        {"name": "decide", "ms": 1.0, "note": "x"},
    ]
    assert (first.provider_nihii, first.patient_ssin, first.reference) == (
        "19283746001",
        "85073003328",
        "REF-1",
    )
    assert [e.code for e in store.journal(JournalQuery(outcome="fault"))] == ["SOA-01001"]
    assert [e.id for e in store.journal(JournalQuery(patient_ssin="85073003328"))] == ids[:1]
    assert [e.id for e in store.journal(JournalQuery(since="2025-11-04"))] == ids[2:]
    assert [e.id for e in store.journal(JournalQuery(service="etar", until="2025-11-04"))] == ids[
        :1
    ]
    assert [e.id for e in store.journal(JournalQuery(limit=1, offset=1))] == ids[1:2]
    assert [e.id for e in store.journal(JournalQuery(newest_first=True))] == ids[::-1]
    assert [e.id for e in store.journal(JournalQuery(after_id=ids[0]))] == ids[1:]
    assert [e.id for e in store.journal(JournalQuery(code="166"))] == ids[2:]
    assert [e.id for e in store.journal(JournalQuery(reference="REF-"))] == [ids[0], ids[2]]
    assert [e.id for e in store.journal(JournalQuery(reference="%"))] == []  # not a pattern
    assert store.journal_count(JournalQuery(service="etar", limit=1)) == 2
    assert store.journal_count(JournalQuery()) == 3
    light = store.journal(JournalQuery(include_bodies=False))[0]
    assert light.request == "" and light.response == "" and light.code is None


def test_an_entry_keeps_its_bodies_and_content_with_secrets_masked(backend: Backend) -> None:
    store = backend.open().store
    body = "<soap:Envelope>" + "<x>signed</x>" * 2000 + LICENCE + "</soap:Envelope>"
    store.record(
        entry(
            request=body,
            request_content=f"<content>{LICENCE}</content>",
            response_content="<answer/>",
        )
    )
    [listed] = store.journal(JournalQuery())
    assert listed.id is not None
    one = store.journal_entry(listed.id)
    assert one is not None
    assert one.request == body.replace("s3cr3t", "***")
    assert one.response == "<resp/>"
    assert one.request_content == LICENCE.replace("s3cr3t", "***").join(("<content>", "</content>"))
    assert one.response_content == "<answer/>"
    assert store.journal_entry(listed.id + 1000) is None


def test_the_policy_decides_which_rows_keep_bodies_and_how_many_rows_stay(backend: Backend) -> None:
    policy = JournalPolicy(bodies=JournalBodies.ERRORS, max_rows=5, max_age=None)
    store = backend.open(policy).store
    for index in range(12):
        store.record(entry(outcome="ok" if index % 2 else "fault", code=str(index)))
    store.flush()
    rows = store.journal(JournalQuery())
    assert {e.outcome for e in rows if e.request} == {"fault"}
    assert all(e.request == "" for e in rows if e.outcome == "ok")
    assert store.apply_retention() == 7  # type: ignore[attr-defined]
    assert [e.code for e in store.journal(JournalQuery())] == [str(i) for i in range(7, 12)]


def test_rows_older_than_max_age_go(backend: Backend) -> None:
    store = backend.open(JournalPolicy(max_rows=None, max_age=timedelta(hours=1))).store
    for _ in range(3):
        store.record(entry())
    store.flush()
    assert store.apply_retention(now=time.time() + 10) == 0  # type: ignore[attr-defined]
    assert store.apply_retention(now=time.time() + 7200) == 3  # type: ignore[attr-defined]
    assert store.journal_count(JournalQuery()) == 0


def test_clear_forgets_the_journal_and_replays_but_never_numbers(backend: Backend) -> None:
    store = backend.open().store
    store.record(entry())
    first = store.next_sequence("commitment")
    assert store.first_seen([b"sig:a"], time.time() + 60)
    store.clear()
    assert store.journal(JournalQuery()) == []
    assert store.first_seen([b"sig:a"], time.time() + 60)
    assert store.next_sequence("commitment") > first


def test_every_process_sees_one_journal(backend: Backend) -> None:
    one, two = backend.open().store, backend.open().store
    one.record(entry(code="one"))
    two.record(entry(code="two"))
    one.flush()
    two.flush()
    assert sorted(e.code or "" for e in one.journal(JournalQuery())) == ["one", "two"]
    assert two.journal_count(JournalQuery()) == 2


# -- replay cache -------------------------------------------------------------------------
def test_a_message_identity_is_refused_until_it_expires(backend: Backend) -> None:
    store = backend.open().store
    until = time.time() + 60
    assert store.first_seen([b"sig:a", b"mid:x"], until)
    assert not store.first_seen([b"sig:a"], until)
    assert not store.first_seen([b"sig:b", b"mid:x"], until)  # the same MessageID
    assert store.first_seen([b"sig:b"], until)  # a refused message left nothing behind
    assert store.first_seen([b"sig:c"], time.time() - 1)  # already expired: not kept
    assert store.first_seen([b"sig:c"], until)


def test_a_replay_is_refused_whichever_process_sees_it_first(backend: Backend) -> None:
    if backend.kind == "sqlite":
        pytest.skip("the embedded store's replay cache is per process, like the ESB's")
    stores = [backend.open().store for _ in range(2)]
    until = time.time() + 60
    wins: list[bool] = []
    lock = threading.Lock()

    def send(index: int) -> None:
        for number in range(30):
            result = stores[index % 2].first_seen([f"sig:{number}".encode()], until)
            with lock:
                wins.append(result)

    threads = [threading.Thread(target=send, args=(i,)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert wins.count(True) == 30  # each identity accepted exactly once across 4 senders


# -- sequences ----------------------------------------------------------------------------
def test_sequences_are_unique_across_threads_processes_and_restarts(backend: Backend) -> None:
    stores = [backend.open().store for _ in range(2)]
    seen: list[int] = []
    lock = threading.Lock()

    def draw(index: int) -> None:
        for _ in range(100):
            value = stores[index % 2].next_sequence("commitment")
            with lock:
                seen.append(value)

    threads = [threading.Thread(target=draw, args=(i,)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(set(seen)) == 400 and min(seen) >= 1
    for store in stores:
        store.close()
    again = backend.open().store
    after = again.next_sequence("commitment")
    assert after > max(seen)
    assert again.next_sequence("commitment") == after + 1
    assert again.next_sequence("other") == 1


# -- records ------------------------------------------------------------------------------
def test_records_insert_put_get_delete(backend: Backend) -> None:
    records = backend.open().records
    assert records.insert("eattest", "100-1", {"status": "accepted", "fee": "30.00"})
    assert not records.insert("eattest", "100-1", {"status": "other"})
    assert records.get("eattest", "100-1") == {"status": "accepted", "fee": "30.00"}
    records.put("eattest", "100-1", {"status": "cancelled"})
    assert records.get("eattest", "100-1") == {"status": "cancelled"}
    assert records.get("uma", "100-1") is None
    assert records.delete("eattest", "100-1")
    assert not records.delete("eattest", "100-1")


def test_records_find_by_prefix_in_key_order_with_special_characters(backend: Backend) -> None:
    records = backend.open().records
    for key in ("p1|b", "p1|a", "p2|a", "p1%|x", "p1_|y", "P1|z", "p1\\|w"):
        records.put("uma", key, {"key": key})
    assert [key for key, _ in records.find("uma", prefix="p1|")] == ["p1|a", "p1|b"]
    assert [key for key, _ in records.find("uma", prefix="p1%")] == ["p1%|x"]
    assert [key for key, _ in records.find("uma", prefix="p1_")] == ["p1_|y"]
    assert [key for key, _ in records.find("uma", prefix="p1\\")] == ["p1\\|w"]
    assert [key for key, _ in records.find("uma")] == sorted(
        ["p1|b", "p1|a", "p2|a", "p1%|x", "p1_|y", "P1|z", "p1\\|w"]
    )  # byte order, whatever the database's locale
    assert len(records.find("uma", limit=2)) == 2
    records.clear()
    assert records.find("uma") == []


def test_records_get_many_reads_the_keys_that_exist(backend: Backend) -> None:
    records = backend.open().records
    records.put("ledger-source", "f/1", {"n": 1})
    records.put("ledger-source", "f/10", {"n": 10})
    records.put("other", "f/2", {"n": 2})
    assert records.get_many("ledger-source", ["f/1", "f/2", "f/3"]) == {"f/1": {"n": 1}}
    assert records.get_many("ledger-source", []) == {}
    with records.deferred():
        records.put("ledger-source", "f/2", {"n": 22})
        assert records.delete("ledger-source", "f/1")
        assert records.get_many("ledger-source", ["f/1", "f/2", "f/10"]) == {
            "f/2": {"n": 22}, "f/10": {"n": 10}
        }


def test_records_find_any_of_many_prefixes_in_one_read(backend: Backend) -> None:
    records = backend.open().records
    for key in ("a:1", "a:2", "ab:1", "b:1", "b%:1", "c:1", "c_:1"):
        records.put("ledger", key, {"key": key})
    records.put("other", "a:3", {"key": "a:3"})
    assert [k for k, _ in records.find_any("ledger", ["b:", "a:"])] == ["a:1", "a:2", "b:1"]
    assert [k for k, _ in records.find_any("ledger", ["a", "ab:"])] == ["a:1", "a:2", "ab:1"]
    assert [k for k, _ in records.find_any("ledger", ["b%", "c_"])] == ["b%:1", "c_:1"]
    assert [k for k, _ in records.find_any("ledger", ["a:", "c"], limit=2)] == ["a:1", "a:2"]
    assert records.find_any("ledger", []) == [] and records.find_any("ledger", ["z"]) == []
    with records.deferred():  # a batch's own writes are seen, as by `find`
        records.put("ledger", "b:2", {"key": "b:2"})
        assert records.delete("ledger", "a:1")
        assert [k for k, _ in records.find_any("ledger", ["a:", "b:"])] == ["a:2", "b:1", "b:2"]


def test_a_deferred_batch_is_written_whole_on_commit_or_not_at_all(backend: Backend) -> None:
    opened = backend.open()
    records, other = opened.records, backend.open().records
    records.put("mailbox", "m/1", {"n": 1})
    with records.deferred() as batch:
        assert records.insert("posted", "m/ref", {"file": "F"})
        assert not records.insert("posted", "m/ref", {"file": "G"})
        records.put("tack", "m/ref", {"ok": True})
        assert records.delete("mailbox", "m/1")
        assert records.get("mailbox", "m/1") is None  # the batch reads its own writes
        assert [k for k, _ in records.find("posted", prefix="m/")] == ["m/ref"]
        assert other.get("posted", "m/ref") is None  # nobody else sees them yet
    assert records.get("posted", "m/ref") is None  # not committed: nothing written
    records.commit(batch)
    records.commit(batch)  # once only
    assert other.get("posted", "m/ref") == {"file": "F"}
    assert other.get("tack", "m/ref") == {"ok": True}
    assert other.get("mailbox", "m/1") is None
    with records.deferred() as dropped:
        records.put("posted", "m/lost", {"file": "H"})
    del dropped  # a fault: never committed
    assert other.get("posted", "m/lost") is None


def test_put_many_is_committed_when_it_returns_even_from_many_requests_at_once(
    backend: Backend,
) -> None:
    records, other = backend.open().records, backend.open().records

    async def requests() -> None:
        # 40 answers in flight, each keeping its commitments (PostgreSQL groups them).
        await asyncio.gather(
            *(
                records.put_many("commitment", {f"c{n}a": {"n": n}, f"c{n}b": {"n": -n}})
                for n in range(40)
            )
        )

    asyncio.run(requests())
    assert len(other.find("commitment")) == 80
    assert other.get("commitment", "c7b") == {"n": -7}
    with records.deferred() as batch:  # inside a batch: held like any other write
        asyncio.run(records.put_many("commitment", {"held": {"n": 0}}))
        assert records.get("commitment", "held") == {"n": 0}
        assert other.get("commitment", "held") is None
    records.commit(batch)
    assert other.get("commitment", "held") == {"n": 0}


def test_every_process_sees_the_records_of_the_others(backend: Backend) -> None:
    one, two = backend.open().records, backend.open().records
    assert one.insert("eattest", "n1", {"by": "one"})
    assert not two.insert("eattest", "n1", {"by": "two"})  # one key, one winner
    assert two.get("eattest", "n1") == {"by": "one"}
    two.clear()
    assert one.get("eattest", "n1") is None


def test_the_ledger_admits_a_service_once_when_processes_race(backend: Backend) -> None:
    from datetime import date

    from simulator.domain.ledger_rules import Channel, Finding, LedgerService
    from simulator.store.ledger import RecordsLedger

    def judge(history, new):  # a duplicate: the same code the same day
        return [
            Finding("duplicate", "same day", service, old)
            for service in new
            for old in history
            if (old.code, old.day) == (service.code, service.day)
        ]

    ledgers = [RecordsLedger(backend.open().records) for _ in range(2)]
    admitted: list[bool] = []
    lock = threading.Lock()

    def admit(index: int) -> None:
        service = LedgerService(
            insurer="300",
            patient="85073003328",
            code="101076",
            day=date(2025, 11, 3),
            provider="19283746001",
            channel=Channel.EATTEST,
            source=f"attestation-{index}",
        )
        findings = ledgers[index % 2].admit([service], judge)
        with lock:
            admitted.append(not findings)

    threads = [threading.Thread(target=admit, args=(i,)) for i in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert admitted.count(True) == 1
    assert len(ledgers[1].find("85073003328")) == 1


def test_bodies_read_back_whole_from_any_process_after_clear_and_retention(
    backend: Backend,
) -> None:
    policy = JournalPolicy(max_rows=4, max_age=None)
    one, two = backend.open(policy).store, backend.open(policy).store

    def body(index: int) -> str:
        return (
            "<Envelope>" + "<Assertion>MIIEDTCCAvWgAwIB</Assertion>" * 300 + f"{index}</Envelope>"
        )

    for index in range(6):  # the first of a kind is its dictionary, the next use it
        (one if index % 2 else two).record(entry(request=body(index), code=str(index)))
    one.flush()
    two.flush()
    reader = backend.open(policy).store  # a third process: no dictionary in its cache
    assert sorted((e.code, e.request) for e in reader.journal(JournalQuery())) == sorted(
        (str(i), body(i)) for i in range(6)
    )
    assert reader.apply_retention() == 2  # type: ignore[attr-defined]
    one.clear()
    one.record(entry(request=body(7), code="7"))
    two.record(entry(request=body(8), code="8"))
    one.flush()
    two.flush()
    assert sorted((e.code, e.request) for e in reader.journal(JournalQuery())) == [
        ("7", body(7)),
        ("8", body(8)),
    ]
