"""Business records: unique keys, prefix search, and nothing lost when the process dies."""

import subprocess
import sys
import textwrap

from simulator.store.records import SqliteRecords


def test_insert_is_unique_put_replaces_and_delete_says_what_it_did(tmp_path):
    records = SqliteRecords(tmp_path / "s.sqlite3")
    assert records.insert("eattest", "100-1-261123-0000001-12", {"status": "accepted"})
    assert not records.insert("eattest", "100-1-261123-0000001-12", {"status": "other"})
    assert records.get("eattest", "100-1-261123-0000001-12") == {"status": "accepted"}
    records.put("eattest", "100-1-261123-0000001-12", {"status": "cancelled"})
    assert records.get("eattest", "100-1-261123-0000001-12") == {"status": "cancelled"}
    assert records.get("uma", "100-1-261123-0000001-12") is None  # kinds are separate
    assert records.delete("eattest", "100-1-261123-0000001-12")
    assert not records.delete("eattest", "100-1-261123-0000001-12")
    records.close()


def test_find_by_prefix_in_key_order_with_special_characters(tmp_path):
    records = SqliteRecords(tmp_path / "s.sqlite3")
    for key in ("p1|b", "p1|a", "p2|a", "p1%|x", "p1_|y"):
        records.put("uma", key, {"key": key})
    assert [key for key, _ in records.find("uma", prefix="p1|")] == ["p1|a", "p1|b"]
    assert [key for key, _ in records.find("uma", prefix="p1%")] == ["p1%|x"]
    assert len(records.find("uma")) == 5
    assert len(records.find("uma", limit=2)) == 2
    records.clear()
    assert records.find("uma") == []
    records.close()


def test_a_record_survives_a_killed_process(tmp_path):
    path = tmp_path / "s.sqlite3"
    script = textwrap.dedent(
        f"""
        import os, signal
        from pathlib import Path
        from simulator.store.records import SqliteRecords
        records = SqliteRecords(Path({str(path)!r}))
        records.insert("eattest", "n1", {{"fee": "30.00"}})
        os.kill(os.getpid(), signal.SIGKILL)
        """
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, timeout=60)
    assert done.returncode == -9
    assert SqliteRecords(path).get("eattest", "n1") == {"fee": "30.00"}
