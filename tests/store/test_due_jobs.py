"""Claiming due jobs (store/due_jobs.py), on SQLite (one process) and PostgreSQL (several):
one claimer at a time per job, only due jobs, and a claimer that dies gives its job back."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

from simulator.store.due_jobs import Claims, LocalClaims, PostgresClaims
from simulator.store.records import Records
from tests.store.conftest import Backend

NOW = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)
KIND = "efact-open"


@pytest.fixture
def jobs(backend: Backend) -> Iterator[tuple[Records, Claims, Claims]]:
    """The records and two claimers: two processes' on PostgreSQL, the one process's twice on
    SQLite (where one process holds the data dir)."""
    records = backend.open().records
    if backend.url is not None:
        first: Claims = PostgresClaims(backend.url)
        second: Claims = PostgresClaims(backend.url)
    else:
        first = second = LocalClaims(records)
    yield records, first, second
    first.close()
    second.close()


def _at(delta: timedelta) -> str:
    return (NOW + delta).isoformat()


def test_only_due_jobs_are_claimed_and_each_by_one_claimer(
    jobs: tuple[Records, Claims, Claims],
) -> None:
    records, first, second = jobs
    records.put(KIND, "hcpfac/1", {"file": "a", "next": _at(-timedelta(seconds=1))})
    records.put(KIND, "hcpfac/2", {"file": "b"})  # no next: due now
    records.put(KIND, "hcpfac/3", {"file": "c", "next": _at(timedelta(seconds=1))})
    one = first.claim(KIND, NOW)
    two = second.claim(KIND, NOW)
    assert one is not None and two is not None
    assert {one.key, two.key} == {"hcpfac/1", "hcpfac/2"}
    assert first.claim(KIND, NOW) is None and second.claim(KIND, NOW) is None  # c not due
    first.finish(one, {"file": "a", "next": _at(timedelta(hours=1))})
    second.finish(two, None)
    assert records.get(KIND, "hcpfac/2") is None
    assert records.get(KIND, one.key) == {"file": "a", "next": _at(timedelta(hours=1))}
    later = first.claim(KIND, NOW + timedelta(seconds=2))
    assert later is not None and later.key == "hcpfac/3"
    first.release(later)


def test_a_released_job_is_unchanged_and_claimed_again(
    jobs: tuple[Records, Claims, Claims],
) -> None:
    records, first, second = jobs
    records.put(KIND, "hcpfac/1", {"file": "a"})
    held = first.claim(KIND, NOW)
    assert held is not None and second.claim(KIND, NOW) is None
    first.release(held)
    again = second.claim(KIND, NOW)
    assert again is not None and again.key == "hcpfac/1"
    assert records.get(KIND, "hcpfac/1") == {"file": "a"}
    second.release(again)


def test_a_claimer_whose_connection_dies_gives_its_job_to_another(backend: Backend) -> None:
    """PostgreSQL: the row lock is the lease; a killed worker's session ends, and so does it."""
    if backend.url is None:
        pytest.skip("one process per SQLite data dir: its restart starts with no claims")
    records = backend.open().records
    records.put(KIND, "hcpfac/1", {"file": "a"})
    dying, other = PostgresClaims(backend.url), PostgresClaims(backend.url)
    try:
        held = dying.claim(KIND, NOW)
        assert held is not None and other.claim(KIND, NOW) is None
        held.handle.close()  # what SIGKILL does to the worker's connection
        # The server ends that session (and its lock) a moment after the socket closes.
        deadline = time.monotonic() + 10
        while (taken := other.claim(KIND, NOW)) is None:
            assert time.monotonic() < deadline, "the dead claimer's job never came free"
            time.sleep(0.01)
        assert taken.key == "hcpfac/1"
        other.finish(taken, None)
        assert records.get(KIND, "hcpfac/1") is None
    finally:
        dying.close()
        other.close()
