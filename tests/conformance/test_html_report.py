"""The HTML report of a run with a failure: failures first, what to do, each failure linked to
the exchange it names, the sealed answer shown in clear, and only what the failures need."""

from __future__ import annotations

import re
import sys
from pathlib import Path

import pytest

from simulator.conformance.reports import write_all
from simulator.conformance.results import RunResult
from simulator.conformance.runner import RunOptions, run_suites
from simulator.conformance.suites import load_suite_named

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> tuple[RunResult, str, Path]:
    work = tmp_path_factory.mktemp("html")
    command = (sys.executable, "-m", "simulator.examples.broken_client", "resend-refused")
    options = RunOptions(command=command, work_dir=work / "work", case_ids=("ATT-1", "ATT-3"))
    result = run_suites([load_suite_named("eattest")], options)
    paths = write_all(result, work / "reports")
    return result, paths["html"].read_text(encoding="utf-8"), paths["json"]


def test_failed_cases_come_first_with_what_to_do(run: tuple[RunResult, str, Path]) -> None:
    result, html, _ = run
    assert {c.case: c.verdict for c in result.cases} == {"ATT-1": "pass", "ATT-3": "fail"}
    assert html.index('id="eattest-ATT-3"') < html.index('id="eattest-ATT-1"')
    failed = html[html.index('id="eattest-ATT-3"') : html.index('id="eattest-ATT-1"')]
    assert "What to do" in failed and "do not send the attestation again" in failed
    assert "Make the journal show: the refused attestation is not sent again" in failed


def test_each_failure_links_to_the_exchanges_it_names(run: tuple[RunResult, str, Path]) -> None:
    _, html, _ = run
    links = set(re.findall(r'href="#(eattest-ATT-3-journal-[0-9]+)"', html))
    assert len(links) == 2  # the refused attestation and the one sent again
    for anchor in links:
        assert f'id="{anchor}"' in html


def test_the_sealed_answer_is_shown_in_clear(run: tuple[RunResult, str, Path]) -> None:
    _, html, _ = run
    assert "answer in clear (before it was sealed for the client)" in html
    assert "S=&quot;CD-ERROR&quot; SV=&quot;1.0&quot;&gt;196&lt;" in html


def test_only_failures_carry_messages_and_the_report_stays_small(
    run: tuple[RunResult, str, Path],
) -> None:
    result, html, json_path = run
    passed = html[html.index('id="eattest-ATT-1"') :]
    assert "<details" not in passed and "<pre" not in passed
    assert "wsse:Security" not in html  # bodies only, no signatures or tokens
    assert len(html) < json_path.stat().st_size / 4
    for external in ("<script", "<link", " src=", "@import", "url("):
        assert external not in html
    assert 'id="show-failed"' in html  # the filter, without script
    assert len(result.cases) == 2
