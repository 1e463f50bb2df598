"""Deferred record writes: held back, visible to their own reads, written all at once."""

from __future__ import annotations

import multiprocessing
import os
import signal
from pathlib import Path

from simulator.store.records import SqliteRecords


def test_writes_in_a_deferred_block_exist_only_once_committed(tmp_path: Path) -> None:
    records = SqliteRecords(tmp_path / "r.sqlite3")
    records.put("kind", "kept/0", {"n": 0})
    with records.deferred() as batch:
        records.put("kind", "new/1", {"n": 1})
        assert records.insert("kind", "new/2", {"n": 2})
        assert not records.insert("kind", "new/2", {"n": 3})  # already in the batch
        assert not records.insert("kind", "kept/0", {"n": 4})  # already in the store
        assert records.get("kind", "new/1") == {"n": 1}  # its own writes are visible
        assert records.delete("kind", "kept/0")
        assert [key for key, _ in records.find("kind")] == ["new/1", "new/2"]
    other = SqliteRecords(tmp_path / "r.sqlite3")  # another connection sees none of it
    assert other.get("kind", "new/1") is None
    assert other.get("kind", "kept/0") == {"n": 0}
    records.commit(batch)
    records.commit(batch)  # once only
    assert [key for key, _ in other.find("kind")] == ["new/1", "new/2"]
    assert other.get("kind", "new/2") == {"n": 2}
    other.close()
    records.close()


def _write_then_die(path: Path) -> None:
    records = SqliteRecords(path)
    with records.deferred():
        records.put("kind", "never", {"n": 1})
    os.kill(os.getpid(), signal.SIGKILL)  # killed before the batch was committed


def test_a_batch_never_committed_leaves_nothing(tmp_path: Path) -> None:
    path = tmp_path / "r.sqlite3"
    process = multiprocessing.get_context("fork").Process(target=_write_then_die, args=(path,))
    process.start()
    process.join(timeout=30)
    assert process.exitcode == -signal.SIGKILL
    records = SqliteRecords(path)
    assert records.find("kind") == []
    records.close()
