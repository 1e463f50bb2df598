"""The eFact load suite run distributed (a locust master and two workers) against a real
simulator process, and its figures checked against what the simulator itself recorded:

- locust's request totals per name = the journal's counts per service and operation;
- every user billed as its own third party, no sending number used twice in a year for one
  third party and insurer, one file per third party, insurer and business day;
- every posted file got exactly one verdict (920098 here: the files are valid), and the users
  received each verdict exactly once.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections import Counter
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from simulator.client.admin_api import AdminApi
from simulator.store.records import SqliteRecords
from tests.load.conftest import Simulator
from tests.load.requirement import require_locust

require_locust()

pytestmark = pytest.mark.slow

USERS = 4
VERDICTS = ("920098", "920099")


@pytest.fixture(scope="module")
def run(server: Simulator, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    url = server.url
    out = tmp_path_factory.mktemp("run")
    command = [
        sys.executable, "-m", "simulator", "load", "efact", "--url", url,
        "--users", str(USERS), "--spawn-rate", str(USERS), "--duration", "12s",
        "--workers", "2", "--wait", "0.1,0.3", "--invoices", "10", "--drain", "30",
        "--summary-json", str(out / "summary.json"),
        f"--locust=--json-file {out / 'locust'} --loglevel WARNING",
    ]  # fmt: skip
    done = subprocess.run(command, capture_output=True, text=True, timeout=240)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-5000:]
    return {
        "summary": json.loads((out / "summary.json").read_text()),
        "locust": json.loads((out / "locust.json").read_text()),
        "output": done.stderr,
    }


def test_locust_totals_are_what_the_simulator_journaled(
    server: Simulator, run: dict[str, Any]
) -> None:
    admin = AdminApi(server.url)
    counted = {
        entry["name"]: entry["num_requests"]
        for entry in run["locust"]
        if entry["method"] == "POST"  # the HTTP requests (not the time-to-answer samples)
    }
    assert counted["genasync post"] > USERS  # more files than one per user
    journaled = Counter(f"{e['service']} {e['operation']}" for e in admin.journal())
    assert journaled == Counter(counted)
    assert all(entry["num_failures"] == 0 for entry in run["locust"]), run["output"][-3000:]


def test_each_user_bills_as_itself_one_file_per_insurer_and_day(
    server: Simulator, run: dict[str, Any]
) -> None:
    files = _files(server.data_dir)
    assert len(files) == run["summary"]["requests"]["genasync post"]
    # The insurer notes a file's record 10 when it decides; a file it failed to process has none.
    assert all("facts" in f for f in files), [f.get("problem") for f in files if "facts" not in f][
        :3
    ]
    facts = [f["facts"] for f in files]
    assert len({f["third_party"] for f in facts}) == USERS
    numbers = Counter(
        (f["third_party"], s["insurer"], date.fromisoformat(f["received_on"]).year,
         f["sending_number"])
        for f, s in zip(facts, files, strict=True)
    )  # fmt: skip
    assert max(numbers.values()) == 1, numbers.most_common(3)
    days = Counter(
        (f["third_party"], s["insurer"], f["received_on"])
        for f, s in zip(facts, files, strict=True)
    )
    assert max(days.values()) == 1, days.most_common(3)
    per_user = Counter(f["third_party"] for f in facts)
    if max(per_user.values()) > 5:  # more files than insurers: the business day moved
        assert len({f["received_on"] for f in facts}) >= 2


def test_every_file_got_one_verdict_received_once(server: Simulator, run: dict[str, Any]) -> None:
    files = _files(server.data_dir)
    verdicts = [[h["message"] for h in f["history"] if h["message"] in VERDICTS] for f in files]
    refused = [
        (v, f.get("problem") or f.get("rejections"))
        for v, f in zip(verdicts, files, strict=True)
        if v != ["920098"]
    ]
    assert not refused, refused[:3]
    summary = run["summary"]
    assert summary["files"] == len(files)
    assert summary["records"] == sum(f["decision"]["records"] for f in files)
    assert summary["time_to"]["920098"]["count"] == len(files)
    assert (summary["unanswered"], summary["duplicate_answers"], summary["errors"]) == (0, 0, 0)
    assert summary["days_moved"] >= 1  # a fresh business day for the run


def _files(data_dir: Path) -> list[dict[str, Any]]:
    records = SqliteRecords(data_dir / "simulator.sqlite3")
    try:
        return [dict(state) for _, state in records.find("efact-file", limit=1_000_000)]
    finally:
        records.close()
