"""The few figures a run is judged by, printed after locust's own tables.

- files/s and records/s: files (and their records) posted, over the time from the first post
  to the last one;
- time to answer: from the start of a file's post to its 920098 (accepted), 920099 (refused)
  or 920900 (settlement) in the hands of the billing office, p50/p95/p99 in ms, whichever
  worker received it (the post instant travels in the file's reference);
- requests/s over the run, and for the synchronous suites the round trip of every request
  (p50/p95/p99);
- errors: failed requests (HTTP errors and SOAP faults), exceptions in the users' code, and
  for eFact the files never answered within the drain time, answers received twice and
  answers to files the run did not post.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # importing locust monkey-patches the process (gevent): types only here
    from locust.stats import RequestStats, StatsEntry

ANSWERS = ("920098", "920099", "920900")
ANSWER_TYPE = "eFact"  # locust request type of the time-to-answer samples
POST_NAME = "genasync post"
PERCENTILES = (0.5, 0.95, 0.99)


def answer_name(kind: str) -> str:
    return f"time to {kind}"


@dataclass(frozen=True)
class Latency:
    count: int
    p50_ms: float
    p95_ms: float
    p99_ms: float


@dataclass(frozen=True)
class Summary:
    suite: str
    requests: dict[str, int]  # locust's count per request name (what the journal should show)
    failures: int
    exceptions: int
    requests_per_s: float
    request_ms: Latency | None = None  # every request's round trip (synchronous suites)
    files: int = 0
    records: int = 0
    files_per_s: float = 0.0
    records_per_s: float = 0.0
    time_to: dict[str, Latency] = field(default_factory=dict)
    unanswered: int = 0
    duplicate_answers: int = 0
    unexpected_answers: int = 0  # answers to files this run did not post
    days_moved: int = 0

    @property
    def errors(self) -> int:
        return (
            self.failures
            + self.exceptions
            + self.unanswered
            + self.duplicate_answers
            + self.unexpected_answers
        )

    def text(self) -> str:
        lines = [f"mycarenet-sim load {self.suite}: summary"]
        if self.files:
            lines.append(
                f"  posted        {self.files} files, {self.records} records: "
                f"{self.files_per_s:.2f} files/s, {self.records_per_s:,.0f} records/s"
            )
            for kind, latency in self.time_to.items():
                lines.append(
                    f"  time to {kind}  n={latency.count}  p50 {latency.p50_ms:,.0f} ms  "
                    f"p95 {latency.p95_ms:,.0f} ms  p99 {latency.p99_ms:,.0f} ms"
                )
            if self.days_moved:
                lines.append(
                    f"  business days {self.days_moved} moved (one file a day per insurer)"
                )
        total = sum(self.requests.values())
        line = f"  requests      {total} ({self.requests_per_s:.1f}/s)"
        if self.request_ms is not None:
            line += (
                f", round trip p50 {self.request_ms.p50_ms:,.0f} ms  p95 "
                f"{self.request_ms.p95_ms:,.0f} ms  p99 {self.request_ms.p99_ms:,.0f} ms"
            )
        lines.append(line)
        lines.append(
            f"  errors        {self.errors} (failed requests {self.failures}, exceptions "
            f"{self.exceptions}, files unanswered {self.unanswered}, answers twice "
            f"{self.duplicate_answers}, answers to unknown files {self.unexpected_answers})"
        )
        return "\n".join(lines)

    def write_json(self, path: Path) -> None:
        document = {**asdict(self), "errors": self.errors}
        path.write_text(json.dumps(document, indent=2, sort_keys=True))


def summarise(
    suite: str, stats: RequestStats, exceptions: int, tally: Mapping[str, int]
) -> Summary:
    requests = {
        name: entry.num_requests
        for (name, method), entry in sorted(stats.entries.items())
        if method != ANSWER_TYPE
    }
    failures = sum(
        entry.num_failures for (_, method), entry in stats.entries.items() if method != ANSWER_TYPE
    )
    duration = _seconds(stats.total, minimum=1e-9)
    files, records = int(tally.get("files", 0)), int(tally.get("records", 0))
    window = _window(stats.entries.get((POST_NAME, "POST")))
    timed = any(method == ANSWER_TYPE for _, method in stats.entries)
    return Summary(
        suite=suite,
        requests=requests,
        failures=failures,
        exceptions=exceptions,
        requests_per_s=sum(requests.values()) / duration if duration else 0.0,
        # The total mixes in the answer times when there are some: then per name only.
        request_ms=_latency(stats.total) if requests and not timed else None,
        files=files,
        records=records,
        files_per_s=files / window if window else 0.0,
        records_per_s=records / window if window else 0.0,
        time_to={
            kind: _latency(entry)
            for kind in ANSWERS
            if (entry := stats.entries.get((answer_name(kind), ANSWER_TYPE))) is not None
        },
        unanswered=int(tally.get("unanswered", 0)),
        duplicate_answers=int(tally.get("duplicate answers", 0)),
        unexpected_answers=int(tally.get("unexpected answers", 0)),
        days_moved=int(tally.get("days moved", 0)),
    )


def _window(posts: StatsEntry | None) -> float:
    """Seconds from the first post to the last (at least one second: one post is a rate too)."""
    return _seconds(posts, minimum=1.0) if posts is not None else 0.0


def _seconds(entry: StatsEntry, *, minimum: float) -> float:
    """From an entry's first request to its last; 0 when it has none."""
    if not entry.num_requests or entry.last_request_timestamp is None:
        return 0.0
    return max(entry.last_request_timestamp - entry.start_time, minimum)


def _latency(entry: StatsEntry) -> Latency:
    p50, p95, p99 = (float(entry.get_response_time_percentile(q)) for q in PERCENTILES)
    return Latency(entry.num_requests, p50, p95, p99)


def exceptions_of(runner_exceptions: Mapping[Any, Mapping[str, Any]]) -> int:
    return sum(int(row.get("count", 0)) for row in runner_exceptions.values())
