"""The run as JSON: every case with its verdict, checks, failures and messages."""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path
from typing import Any

from simulator.conformance.evaluator import CheckResult
from simulator.conformance.results import CaseResult, RunResult


def to_json(result: RunResult) -> dict[str, Any]:
    return {
        "passed": result.passed,
        "duration_s": result.duration_s,
        "command": list(result.command),
        "suites": list(result.suites),
        "totals": {v: result.count(v) for v in ("pass", "fail", "error")},
        "cases": [_case(c) for c in result.cases],
    }


def _case(case: CaseResult) -> dict[str, Any]:
    return {
        "suite": case.suite,
        "case": case.case,
        "title": case.title,
        "verdict": case.verdict,
        "duration_s": case.duration_s,
        "patient_ssin": case.patient_ssin,
        "provider_nihii": case.provider_nihii,
        "at": case.at,
        "exit_code": case.exit_code,
        "error": case.error,
        "tags": list(case.tags),
        "checks": [_check(c) for c in case.checks],
        "messages": [asdict(m) for m in case.messages],
        "output": case.output,
    }


def _check(check: CheckResult) -> dict[str, Any]:
    return {
        "says": check.check.says,
        "kind": check.check.expectation.kind,
        "passed": check.passed,
        "failures": [asdict(f) | {"explanation": f.explain()} for f in check.failures],
    }


def write_json(result: RunResult, path: Path) -> None:
    path.write_text(json.dumps(to_json(result), indent=2), encoding="utf-8")
