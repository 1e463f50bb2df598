"""The synchronous suites (practice, MediPrima) against a real simulator: every call locust
counts is one the simulator journaled, under the same name, and none failed."""

from __future__ import annotations

import json
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

from simulator.client.admin_api import AdminApi
from tests.load.conftest import Simulator
from tests.load.requirement import require_locust

require_locust()

pytestmark = pytest.mark.slow


@pytest.mark.parametrize(
    ("suite", "services"),
    [
        ("sync", {"memberdata", "etar", "eattest"}),
        ("mediprima", {"mediprima", "mediprima-uma", "etar-mediprima"}),
    ],
)
def test_locust_totals_are_what_the_simulator_journaled(
    suite: str, services: set[str], server: Simulator, tmp_path: Path
) -> None:
    admin = AdminApi(server.url)
    before = _journaled(admin)
    command = [
        sys.executable, "-m", "simulator", "load", suite, "--url", server.url,
        "--users", "2", "--spawn-rate", "2", "--duration", "5s", "--wait", "0.05,0.2",
        "--summary-json", str(tmp_path / "summary.json"),
        f"--locust=--json-file {tmp_path / 'locust'} --loglevel WARNING",
    ]  # fmt: skip
    done = subprocess.run(command, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-5000:]
    counted = Counter(
        {e["name"]: e["num_requests"] for e in json.loads((tmp_path / "locust.json").read_text())}
    )
    assert _journaled(admin) - before == counted
    assert {name.split()[0] for name in counted} >= services
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["errors"] == 0
    assert summary["requests"] == dict(counted)
    assert summary["request_ms"]["count"] == sum(counted.values())


def _journaled(admin: AdminApi) -> Counter[str]:
    return Counter(f"{e['service']} {e['operation']}" for e in admin.journal())
