"""What must persist, as one interface: the journal of exchanges and named sequences.

SQLite is the embedded default; other backends implement the same `Store` protocol.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import timedelta
from enum import StrEnum
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
    # The business content inside the Detail, in clear (server/exchange.py): what the request
    # carried under its seal and what the answer said before it was sealed for the requester.
    request_content: str = ""
    response_content: str = ""
    reference: str | None = None  # the request's InputReference (or MessageID): searchable


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
    code: str | None = None  # business error or fault code
    reference: str | None = None  # part of the request's reference
    newest_first: bool = False
    after_id: int | None = None  # only entries with a greater id (live tails)


class JournalBodies(StrEnum):
    """Which rows keep their request and response bodies (the rest keep the metadata)."""

    NONE = "none"
    ERRORS = "errors"  # business errors and faults only
    ALL = "all"


# Defaults (see DEFAULT_JOURNAL_* in simulator/config.py for the arithmetic): bodies are kept,
# zlib-compressed against a per-operation dictionary (~2.6 KB a signed eTar exchange on disk
# instead of ~33 KB), and the newest 500,000 rows of the last 7 days are kept: a million
# requests leave at most ~1.3 GB of journal.
@dataclass(frozen=True)
class JournalPolicy:
    bodies: JournalBodies = JournalBodies.ALL
    max_rows: int | None = 500_000  # None: no limit
    max_age: timedelta | None = timedelta(days=7)  # wall time since the row was written

    def keeps_bodies(self, outcome: str) -> bool:
        if self.bodies is JournalBodies.ALL:
            return True
        return self.bodies is JournalBodies.ERRORS and outcome != "ok"


class Store(Protocol):
    journal_policy: JournalPolicy

    def record(self, entry: JournalEntry) -> None:
        """Queue an entry for the journal; durable after `flush()` or shortly after. Never
        blocks on the disk: compression, secret masking and writing happen in a thread."""

    def flush(self) -> None: ...

    def journal(self, query: JournalQuery) -> list[JournalEntry]:
        """Entries in id order, bodies decompressed (and with secrets masked). Blocking: from
        the event loop, call it through `run_in_executor` (see server/admin.py)."""

    def journal_count(self, query: JournalQuery) -> int:
        """How many entries match `query`, its limit and offset aside. Blocking."""

    def journal_entry(self, entry_id: int) -> JournalEntry | None:
        """One entry with its bodies and business content; None when it is gone. Blocking."""

    def first_seen(self, keys: Iterable[bytes], until: float) -> bool:
        """Remember `keys` (message identities: signature value, MessageID) until the Unix
        time `until`; False when one of them is already remembered and not expired (a replay).
        Atomic across every worker sharing the store: a PostgreSQL store does it with one
        INSERT ... ON CONFLICT DO NOTHING; the embedded store keeps them in memory, bounded."""

    def next_sequence(self, name: str) -> int:
        """Next value of a named, persistent counter: starts at 1, strictly increasing, never
        reused, even across restarts (a restart may skip values)."""

    def clear(self) -> None:
        """Forget the journal (admin reset); sequences go on, so no number is ever reused."""

    def close(self) -> None: ...
