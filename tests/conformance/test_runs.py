"""Full conformance runs: the reference client passes every case of every suite (timed), each
fault of the broken client is caught by the case meant for it and only by it, and the reports
are read by real consumers (junitparser, headless Chromium)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from junitparser import Error, Failure, JUnitXml

from simulator.cli.main import main as cli_main
from simulator.conformance.reports import write_all
from simulator.conformance.results import PASS, RunResult
from simulator.conformance.runner import RunOptions, run_suites
from simulator.conformance.suites import load_all, load_suite_named
from simulator.examples.broken_client import FAULTS

REFERENCE = (sys.executable, "-m", "simulator.examples.reference_client")
BROKEN = (sys.executable, "-m", "simulator.examples.broken_client")
FULL_RUN_LIMIT_S = 120
# The suites whose actions a fault changes: running them shows that no other case catches it.

TOUCHED = {
    "no-insurability-check": ("eattest",),
    "resend-refused": ("eattest",),
    "resend-late-cancellation": ("eattest",),
    "bad-signature": ("mediprima",),
    "unsealed-memberdata": ("memberdata", "eattest", "efact"),  # eFact: after R500540/R500742
    "no-confirm": ("efact",),
    "two-files-a-day": ("efact",),
    "no-correction": ("efact",),
    "same-sending-number": ("efact",),
    "resend-accepted": ("efact",),
    "rebill-duplicate": ("efact",),
    "bills-old-services": ("efact",),
}

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def reference(tmp_path_factory: pytest.TempPathFactory) -> tuple[RunResult, dict[str, Path], float]:
    work = tmp_path_factory.mktemp("reference")
    started = time.perf_counter()
    options = RunOptions(command=REFERENCE, work_dir=work / "work", jobs=2)
    result = run_suites(load_all(), options)
    elapsed = time.perf_counter() - started
    print(f"\nfull conformance run: {len(result.cases)} cases, {elapsed:.1f} s")
    return result, write_all(result, work / "reports"), elapsed


def test_the_reference_client_passes_every_case_of_every_suite_in_time(
    reference: tuple[RunResult, dict[str, Path], float],
) -> None:
    result, _, elapsed = reference
    failed = {
        f"{c.suite}/{c.case}": c.failures or [c.error] for c in result.cases if c.verdict != PASS
    }
    assert failed == {}
    assert {c.suite for c in result.cases} == {
        "efact",
        "eattest",
        "etar",
        "mediprima",
        "memberdata",
    }
    assert len(result.cases) == sum(len(s.cases) for s in load_all())
    assert elapsed < FULL_RUN_LIMIT_S


def test_the_junit_report_is_read_by_junitparser(
    reference: tuple[RunResult, dict[str, Path], float],
) -> None:
    result, paths, _ = reference
    xml = JUnitXml.fromfile(str(paths["junit"]))
    cases = [case for suite in xml for case in suite]
    assert len(cases) == len(result.cases)
    assert all(case.is_passed for case in cases)
    assert {suite.name for suite in xml} == set(result.suites)


def test_the_html_report_is_self_contained(
    reference: tuple[RunResult, dict[str, Path], float],
) -> None:
    html = reference[1]["html"].read_text(encoding="utf-8")
    for external in ("<script", "<link", " src=", "@import", "url("):
        assert external not in html
    # Passed cases are a line each: the report weighs what its failures need (9.7 MB before,
    # when every message of every case was embedded pretty-printed).
    assert len(html.encode("utf-8")) < 2_000 * len(reference[0].cases)
    assert "&lt;soap:Envelope" not in html


def _chromium() -> str | None:
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found is None and os.environ.get("MYCARENET_REQUIRE_BROWSER") == "1":
        pytest.fail("MYCARENET_REQUIRE_BROWSER=1 but no chromium on PATH")
    return found


def test_the_html_report_opens_in_headless_chromium_with_every_case(
    reference: tuple[RunResult, dict[str, Path], float], tmp_path: Path
) -> None:
    chromium = _chromium()
    if chromium is None:
        pytest.skip("chromium is not installed (set MYCARENET_REQUIRE_BROWSER=1 to require it)")
    result, paths, _ = reference
    dom = subprocess.run(
        [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
         "--no-first-run", "--disable-background-networking", "--disable-component-update",
         "--disable-sync", f"--user-data-dir={tmp_path / 'profile'}", "--dump-dom",
         paths["html"].resolve().as_uri()],
        capture_output=True, text=True, timeout=120, check=True,
    ).stdout  # fmt: skip
    for case in result.cases:
        assert f'id="{case.suite}-{case.case}"' in dom
    assert dom.count('<section class="case pass"') == len(result.cases)


@pytest.fixture(scope="module")
def broken(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, Any]]:
    """Every fault run on the suites it touches, through the CLI, three processes at a time
    (a run in this process would share one interpreter lock with its simulator)."""
    root = tmp_path_factory.mktemp("broken")

    def run(fault: str) -> dict[str, Any]:
        suites = [arg for name in TOUCHED[fault] for arg in ("--suite", name)]
        out = root / fault
        command = [sys.executable, "-m", "simulator", "conformance", "run", *suites, "--jobs",
                   "1", "--out", str(out), "--", sys.executable,
                   "-m", "simulator.examples.broken_client", fault]  # fmt: skip
        done = subprocess.run(command, capture_output=True, text=True, timeout=600, check=False)
        assert done.returncode == 1, done.stdout + done.stderr
        report: dict[str, Any] = json.loads((out / "report.json").read_text(encoding="utf-8"))
        report["junit"] = out / "junit.xml"
        return report

    with ThreadPoolExecutor(max_workers=3) as pool:
        return dict(zip(TOUCHED, pool.map(run, TOUCHED), strict=True))


def test_every_fault_of_the_broken_client_has_a_catching_case() -> None:
    assert set(TOUCHED) == set(FAULTS)


@pytest.mark.parametrize("fault", sorted(FAULTS))
def test_each_fault_is_caught_by_its_case_and_only_by_it(
    broken: dict[str, dict[str, Any]], fault: str
) -> None:
    cases = broken[fault]["cases"]
    failing = {f"{c['suite']}/{c['case']}" for c in cases if c["verdict"] != PASS}
    assert failing == {FAULTS[fault][2]}
    (case,) = [c for c in cases if c["verdict"] != PASS]
    explained = [f["explanation"] for check in case["checks"] for f in check["failures"]]
    assert explained and all("journal #" in e or "received" in e for e in explained)


def test_a_failing_case_is_a_junit_failure_with_its_explanation(
    broken: dict[str, dict[str, Any]],
) -> None:
    junit = broken["resend-refused"]["junit"]
    cases = [case for suite in JUnitXml.fromfile(str(junit)) for case in suite]
    failed = [case for case in cases if not case.is_passed]
    assert [case.name.split(":")[0] for case in failed] == ["ATT-3"]
    (failure,) = failed[0].result
    assert isinstance(failure, Failure) and not isinstance(failure, Error)
    assert "sent again after" in (failure.text or "")


def test_the_cli_runs_a_case_writes_the_reports_and_exits_non_zero_on_failure(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    broken_command = [*BROKEN, "two-files-a-day"]
    code = cli_main(["conformance", "run", "--suite", "efact", "--case", "FAC-2", "--out",
                     str(tmp_path / "out"), "--", *broken_command])  # fmt: skip
    out = capsys.readouterr().out
    assert code == 1
    assert "FAIL  efact/FAC-2" in out and "0 passed, 1 failed" in out
    assert {p.name for p in (tmp_path / "out").iterdir()} == {
        "junit.xml",
        "report.json",
        "report.html",
    }
    code = cli_main(["conformance", "run", "--suite", "efact", "--case", "FAC-2", "--out",
                     str(tmp_path / "ok"), "--", *REFERENCE])  # fmt: skip
    assert code == 0


def test_a_command_that_cannot_start_is_an_error_not_a_pass(tmp_path: Path) -> None:
    suite = load_suite_named("etar")
    options = RunOptions(command=(str(tmp_path / "missing-client"),), work_dir=tmp_path / "w",
                         case_ids=("TAR-1",))  # fmt: skip
    result = run_suites([suite], options)
    (case,) = result.cases
    assert case.verdict == "error" and "could not be started" in (case.error or "")
    paths = write_all(result, tmp_path / "out")
    (junit_case,) = [c for s in JUnitXml.fromfile(str(paths["junit"])) for c in s]
    assert isinstance(junit_case.result[0], Error)


def test_a_command_over_its_time_is_an_error_with_its_output(tmp_path: Path) -> None:
    sleeper = (sys.executable, "-c", "print('started', flush=True); import time; time.sleep(30)")
    options = RunOptions(command=sleeper, work_dir=tmp_path, case_ids=("TAR-1",), timeout_s=1.5)
    (case,) = run_suites([load_suite_named("etar")], options).cases
    assert case.verdict == "error" and case.error == "the command ran over 1.5 s"
    assert "started" in case.output
