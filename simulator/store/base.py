"""What must persist, as one interface: the journal of exchanges and named sequences.

SQLite is the embedded default; other backends implement the same `Store` protocol.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol


@dataclass(frozen=True)
class JournalEntry:
    """One exchange as the simulator saw it: what came in, what it decided, what went out."""

    at: str  # simulated instant (ISO 8601, UTC) the request was received
    service: str
    operation: str
    path: str
    outcome: str  # ok | business-error | fault
    http_status: int
    duration_ms: float
    soap_action: str | None = None
    code: str | None = None  # SOA fault code or first business error code
    provider_nihii: str | None = None
    patient_ssin: str | None = None
    security: dict[str, Any] = field(default_factory=dict)  # verdict, mode, reason
    stages: list[dict[str, Any]] = field(default_factory=list)  # pipeline steps with timings
    request: str = ""
    response: str = ""
    id: int | None = None


@dataclass(frozen=True)
class JournalQuery:
    service: str | None = None
    operation: str | None = None
    outcome: str | None = None
    provider_nihii: str | None = None
    patient_ssin: str | None = None
    since: str | None = None  # ISO instant, inclusive
    until: str | None = None  # ISO instant, exclusive
    limit: int = 100
    offset: int = 0
    include_bodies: bool = True


class Store(Protocol):
    def record(self, entry: JournalEntry) -> None:
        """Queue an entry for the journal; durable after `flush()` or shortly after."""

    def flush(self) -> None: ...

    def journal(self, query: JournalQuery) -> list[JournalEntry]: ...

    def next_sequence(self, name: str) -> int:
        """Next value of a named, persistent counter: starts at 1, strictly increasing, never
        reused, even across restarts (a restart may skip values)."""

    def clear(self) -> None:
        """Forget the journal (admin reset); sequences go on, so no number is ever reused."""

    def close(self) -> None: ...
