"""The embedded store's replay cache: a key is refused until its expiry, memory is bounded."""

from __future__ import annotations

import time
from pathlib import Path

from simulator.store.seen import SeenCache
from simulator.store.sqlite import SqliteStore


def test_a_key_is_refused_until_it_expires() -> None:
    cache = SeenCache()
    assert cache.first_seen([b"sig:a", b"mid:x"], until=100.0, now=10.0)
    assert not cache.first_seen([b"sig:a"], until=100.0, now=50.0)
    assert not cache.first_seen([b"sig:b", b"mid:x"], until=100.0, now=50.0)  # same MessageID
    assert cache.first_seen([b"sig:a"], until=300.0, now=100.0)  # expired: forgotten
    assert len(cache) == 1


def test_memory_is_bounded_the_soonest_to_expire_go_first() -> None:
    cache = SeenCache(capacity=3)
    for index in range(10):
        assert cache.first_seen([f"k{index}".encode()], until=1000.0 + index, now=0.0)
    assert len(cache) == 3
    assert not cache.first_seen([b"k9"], until=2000.0, now=0.0)
    assert cache.first_seen([b"k0"], until=2000.0, now=0.0)  # evicted earlier


def test_the_sqlite_store_remembers_in_real_time_and_forgets_on_clear(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "s.sqlite3")
    until = time.time() + 60
    assert store.first_seen([b"sig:one"], until)
    assert not store.first_seen([b"sig:one"], until)
    assert store.first_seen([b"sig:two"], time.time() - 1)  # already expired: nothing to keep
    assert store.first_seen([b"sig:two"], until)
    store.clear()
    assert store.first_seen([b"sig:one"], until)
    store.close()
