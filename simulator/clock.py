"""The simulator clock: every business rule reads time from here, never from datetime.now().

Real time by default; it can be frozen at an instant or shifted by an offset so that
same-day, two-month and transition-date rules can be exercised on demand.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

BRUSSELS = ZoneInfo("Europe/Brussels")


@dataclass(frozen=True)
class ClockState:
    """What a clock is set to: frozen at an instant, or running at an offset from real time."""

    frozen_at: datetime | None = None
    offset: timedelta = timedelta(0)


class Clock:
    """A settable clock. Thread-safe; cheap to read on the hot path."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._frozen_at: datetime | None = None
        self._offset = timedelta(0)

    def now(self) -> datetime:
        """Current simulated instant, timezone-aware (UTC)."""
        frozen = self._frozen_at
        if frozen is not None:
            return frozen
        return datetime.now(UTC) + self._offset

    def today(self) -> date:
        """Current simulated calendar date in Belgium (business rules are local-date rules)."""
        return self.now().astimezone(BRUSSELS).date()

    @property
    def frozen(self) -> bool:
        return self._frozen_at is not None

    def freeze(self, at: datetime | None = None) -> None:
        with self._lock:
            self._frozen_at = _aware(at) if at is not None else self.now()

    def unfreeze(self) -> None:
        """Resume running from the current simulated instant."""
        with self._lock:
            if self._frozen_at is not None:
                self._offset = self._frozen_at - datetime.now(UTC)
                self._frozen_at = None

    def set(self, at: datetime) -> None:
        """Jump to `at`, keeping the frozen/running state."""
        at = _aware(at)
        with self._lock:
            if self._frozen_at is not None:
                self._frozen_at = at
            else:
                self._offset = at - datetime.now(UTC)

    def advance(self, delta: timedelta) -> None:
        with self._lock:
            if self._frozen_at is not None:
                self._frozen_at += delta
            else:
                self._offset += delta

    def reset(self) -> None:
        with self._lock:
            self._frozen_at = None
            self._offset = timedelta(0)

    def state(self) -> ClockState:
        with self._lock:
            return ClockState(self._frozen_at, self._offset)

    def load(self, state: ClockState) -> None:
        """Take `state` as it is (a clock shared between processes, store/shared_clock.py)."""
        with self._lock:
            self._offset = state.offset
            self._frozen_at = state.frozen_at


def _aware(at: datetime) -> datetime:
    """Naive datetimes are read as Brussels local time, the zone every rule is written in."""
    if at.tzinfo is None:
        at = at.replace(tzinfo=BRUSSELS)
    return at.astimezone(UTC)
