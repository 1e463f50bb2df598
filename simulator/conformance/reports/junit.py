"""JUnit XML, the format CI systems (GitHub Actions, GitLab, Jenkins) read: one testsuite per
conformance suite, one testcase per case; a failed expectation is a <failure>, a case that
could not run an <error>."""

from __future__ import annotations

from itertools import groupby
from pathlib import Path

from lxml import etree

from simulator.conformance.results import ERROR, FAIL, CaseResult, RunResult


def to_junit(result: RunResult) -> etree._Element:
    root = etree.Element("testsuites", name="mycarenet-sim conformance")
    root.set("tests", str(len(result.cases)))
    root.set("failures", str(result.count(FAIL)))
    root.set("errors", str(result.count(ERROR)))
    root.set("time", f"{result.duration_s:.3f}")
    for suite_id, grouped in groupby(result.cases, key=lambda c: c.suite):
        cases = list(grouped)
        suite = etree.SubElement(root, "testsuite", name=suite_id)
        suite.set("tests", str(len(cases)))
        suite.set("failures", str(sum(c.verdict == FAIL for c in cases)))
        suite.set("errors", str(sum(c.verdict == ERROR for c in cases)))
        suite.set("skipped", "0")
        suite.set("time", f"{sum(c.duration_s for c in cases):.3f}")
        for case in cases:
            _testcase(suite, case)
    return root


def _testcase(parent: etree._Element, case: CaseResult) -> None:
    element = etree.SubElement(
        parent,
        "testcase",
        classname=f"conformance.{case.suite}",
        name=f"{case.case}: {case.title}",
        time=f"{case.duration_s:.3f}",
    )
    if case.verdict == ERROR:
        error = etree.SubElement(element, "error", message=_clean(case.error or "error"))
        error.text = _clean(case.error or "")
    elif case.verdict == FAIL:
        failures = case.failures
        failure = etree.SubElement(
            element, "failure", message=_clean(failures[0] if failures else "failed")
        )
        failure.set("type", "ExpectationFailed")
        failure.text = _clean("\n".join(failures))
    lines = [f"patient {case.patient_ssin}, provider {case.provider_nihii}, at {case.at}"]
    lines += [f"{'PASS' if c.passed else 'FAIL'} {c.check.says}" for c in case.checks]
    lines += [m.label for m in case.messages]
    out = etree.SubElement(element, "system-out")
    out.text = _clean("\n".join(lines))
    if case.output:
        err = etree.SubElement(element, "system-err")
        err.text = _clean(case.output)


def _clean(text: str) -> str:
    """XML 1.0 cannot carry most control characters; vendor output may contain them."""
    return "".join(ch for ch in text if ch in "\t\n\r" or ord(ch) >= 0x20)


def write_junit(result: RunResult, path: Path) -> None:
    path.write_bytes(
        etree.tostring(to_junit(result), xml_declaration=True, encoding="UTF-8", pretty_print=True)
    )
