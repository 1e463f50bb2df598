"""`conformance evaluate`: a simulator ran on its own, the vendor's software called it, and the
cases are judged afterwards from its journal, over the admin API or from its data dir."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from simulator.cli.main import main as cli_main
from simulator.config import Settings
from simulator.conformance.resolve import resolve
from simulator.conformance.runner import KEYSTORE_PASSWORD, case_environment
from simulator.conformance.suites import load_suite_named
from simulator.security.pki import write_keystore
from tests.support.server import ServerThread


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerThread]:
    """`serve` with its defaults (the population `conformance` rebuilds), then one vendor run."""
    data_dir = tmp_path_factory.mktemp("served")
    server = ServerThread(Settings(data_dir=data_dir, port=0, no_delay=True)).start()
    sim = server.sim
    assert sim is not None
    suite = load_suite_named("etar")
    resolved = resolve(suite, suite.case("TAR-1"), sim.population)
    identity = sim.pki.issue_provider(resolved.provider.nihii, resolved.provider.ssin, "Dr Test")
    keystore = data_dir / "gp.p12"
    write_keystore(keystore, identity, KEYSTORE_PASSWORD)
    case_file = data_dir / "case.json"
    today = sim.clock.today().isoformat()
    case_file.write_text(json.dumps(resolved.case_file() | {"date": today}), encoding="utf-8")
    env = case_environment(server.base_url, sim, resolved, keystore, case_file)
    subprocess.run([sys.executable, "-m", "simulator.examples.reference_client"],
                   env={**os.environ, **env}, check=True, capture_output=True, timeout=60)  # fmt: skip
    sim.store.flush()
    yield server
    server.stop()


def test_evaluate_from_the_data_dir_passes_the_case_the_client_performed(
    served: ServerThread, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args = ["conformance", "evaluate", "--suite", "etar", "--case", "TAR-1",
            "--data-dir", str(served.settings.data_dir), "--out", str(tmp_path)]  # fmt: skip
    assert cli_main(args) == 0
    assert "PASS  etar/TAR-1" in capsys.readouterr().out
    report = json.loads((tmp_path / "report.json").read_text(encoding="utf-8"))
    (case,) = report["cases"]
    assert [m["operation"] for m in case["messages"]][-1] == "TarificationConsultation"


def test_evaluate_over_the_admin_api_fails_a_case_that_was_not_performed(
    served: ServerThread, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args = ["conformance", "evaluate", "--suite", "etar", "--case", "TAR-1", "--case",
            "TAR-3-MM", "--url", served.base_url, "--out", str(tmp_path)]  # fmt: skip
    assert cli_main(args) == 1
    out = capsys.readouterr().out
    assert "PASS  etar/TAR-1" in out
    assert "FAIL  etar/TAR-3-MM" in out and "expected 1 such request(s); got 0" in out


def test_list_and_show_give_a_tester_what_to_do(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli_main(["conformance", "list"]) == 0
    listing = capsys.readouterr().out
    for suite in ("etar", "eattest", "memberdata", "mediprima", "efact"):
        assert f"{suite}: " in listing
    assert cli_main(["conformance", "show", "ATT-3"]) == 0
    shown = capsys.readouterr().out
    assert "eattest / ATT-3" in shown and "What to do:" in shown
    assert "the refused attestation is not sent again" in shown
    assert cli_main(["conformance", "show", "NOPE-1"]) == 2
    assert "no case 'NOPE-1'" in capsys.readouterr().err
