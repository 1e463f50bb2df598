"""A case's verdict from the journal entries that concern it (the vendor's word never counts)."""

from __future__ import annotations

import time
from collections.abc import Sequence

from simulator.conformance.evaluator import evaluate
from simulator.conformance.journal_view import EntryView, Unsealer
from simulator.conformance.resolve import ResolvedCase
from simulator.conformance.results import ERROR, CaseResult, message_of, verdict_of
from simulator.store.base import JournalEntry


def judge_case(
    resolved: ResolvedCase,
    entries: Sequence[JournalEntry],
    unsealer: Unsealer | None,
    started: float,
    *,
    exit_code: int | None = None,
    output: str = "",
    error: str | None = None,
) -> CaseResult:
    """Every check of the case against `entries`, and the messages to show in the reports.

    `error` (the case could not run) makes the verdict an error whatever the checks say; the
    command's exit code is only reported.
    """
    checks = tuple(evaluate(resolved.case.checks, entries, resolved.facts, unsealer=unsealer))
    views = [EntryView(e, unsealer) for e in sorted(entries, key=lambda e: e.id or 0)]
    return CaseResult(
        suite=resolved.suite.id,
        case=resolved.case.id,
        title=resolved.case.title,
        verdict=ERROR if error else verdict_of(checks),
        checks=checks,
        messages=tuple(message_of(v) for v in views),
        duration_s=round(time.perf_counter() - started, 3),
        patient_ssin=resolved.patient_ssin,
        provider_nihii=resolved.provider.nihii,
        at=resolved.at.isoformat(),
        exit_code=exit_code,
        output=output,
        error=error,
        tags=resolved.case.tags,
    )
