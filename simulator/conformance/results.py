"""What a run produced, per case: the verdict, every check with its failures, and the messages
exchanged (pretty-printed), ready for the JUnit, JSON and HTML reports."""

from __future__ import annotations

from dataclasses import dataclass, field

from simulator.conformance.evaluator import CheckResult
from simulator.conformance.journal_view import EntryView, pretty
from simulator.store.base import JournalEntry

PASS, FAIL, ERROR = "pass", "fail", "error"


@dataclass(frozen=True)
class Message:
    """One exchange as the reports show it."""

    entry_id: int
    at: str
    service: str
    operation: str
    outcome: str
    code: str | None
    http_status: int
    security: str
    request: str  # pretty-printed envelope
    content: str  # the business content (unsealed KMEHR, SAML query, 920000...)
    response: str
    # The answer's business content in clear, as the simulator wrote it before sealing it for
    # the requester (journaled with the exchange): the only way to read a sealed answer.
    answer_content: str = ""

    @property
    def label(self) -> str:
        code = f" {self.code}" if self.code else ""
        return f"#{self.entry_id} {self.service}.{self.operation} -> {self.outcome}{code}"


def message_of(view: EntryView) -> Message:
    entry: JournalEntry = view.entry
    return Message(
        entry_id=view.id,
        at=entry.at,
        service=entry.service,
        operation=entry.operation,
        outcome=entry.outcome,
        code=entry.code,
        http_status=entry.http_status,
        security=str(entry.security.get("verdict", "")),
        request=pretty(entry.request),
        content=view.content_text() if entry.service not in ("sts", "etkdepot") else "",
        response=pretty(entry.response),
        answer_content=_clear_text(entry.response_content),
    )


def _clear_text(text: str) -> str:
    return pretty(text) if text.lstrip().startswith("<") else text


@dataclass(frozen=True)
class CaseResult:
    suite: str
    case: str
    title: str
    verdict: str  # pass | fail | error
    checks: tuple[CheckResult, ...]
    messages: tuple[Message, ...]
    duration_s: float
    patient_ssin: str = ""
    provider_nihii: str = ""
    at: str = ""
    exit_code: int | None = None
    output: str = ""  # the vendor command's stdout and stderr (tail)
    error: str | None = None  # why the case could not be run or evaluated
    tags: tuple[str, ...] = ()

    @property
    def failures(self) -> list[str]:
        return [f"{c.check.says}: {f.explain()}" for c in self.checks for f in c.failures]


@dataclass(frozen=True)
class RunResult:
    cases: tuple[CaseResult, ...]
    duration_s: float
    command: tuple[str, ...] = ()
    suites: tuple[str, ...] = field(default_factory=tuple)

    @property
    def passed(self) -> bool:
        return all(c.verdict == PASS for c in self.cases)

    def count(self, verdict: str) -> int:
        return sum(1 for c in self.cases if c.verdict == verdict)


def verdict_of(checks: tuple[CheckResult, ...]) -> str:
    return PASS if all(c.passed for c in checks) else FAIL
