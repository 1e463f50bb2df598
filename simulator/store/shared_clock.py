"""The business clock shared by every process on a PostgreSQL store.

A `SharedClock` reads like any `Clock` (local, no query: the hot path stays fast). A change
(set, freeze, advance, reset) is made on the stored state, in a transaction that locks it,
then taken locally; the other processes take it when notified (store/shared_state.py),
within milliseconds. The stored state is what a `Clock` holds: frozen at an instant, or
running at an offset from real time (every host's real time, kept by NTP).
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from datetime import datetime, timedelta

from simulator.clock import Clock, ClockState
from simulator.store.shared_state import SharedState

NAME = "clock"


def encode(state: ClockState) -> bytes:
    frozen = state.frozen_at.isoformat() if state.frozen_at is not None else None
    offset_us = state.offset // timedelta(microseconds=1)
    return json.dumps({"frozen_at": frozen, "offset_us": offset_us}).encode()


def decode(raw: bytes) -> ClockState:
    value = json.loads(raw)
    frozen = value.get("frozen_at")
    return ClockState(
        frozen_at=datetime.fromisoformat(frozen) if frozen else None,
        offset=timedelta(microseconds=int(value.get("offset_us", 0))),
    )


class SharedClock(Clock):
    def __init__(self, shared: SharedState) -> None:
        super().__init__()
        self._shared = shared
        self._version = 0
        self._version_lock = threading.Lock()

    @classmethod
    def join(cls, shared: SharedState, initial: Clock | None = None) -> SharedClock:
        """The shared clock as stored; when none is stored yet, `initial`'s state becomes it."""
        clock = cls(shared)
        stored = shared.read(NAME)
        if stored is None:
            start = initial.state() if initial is not None else ClockState()
            clock._take(*shared.update(NAME, lambda current: current or encode(start)))
        else:
            clock._take(*stored)
        shared.subscribe(NAME, clock._take)
        return clock

    def publish(self, state: ClockState) -> None:
        """Set every process's clock to `state` (`serve` does it with its --date at start)."""
        self._take(*self._shared.update(NAME, lambda _current: encode(state)))

    # Changes: made on the stored state with Clock's own rules, then taken here.
    def freeze(self, at: datetime | None = None) -> None:
        self._change(lambda clock: clock.freeze(at))

    def unfreeze(self) -> None:
        self._change(Clock.unfreeze)

    def set(self, at: datetime) -> None:
        self._change(lambda clock: clock.set(at))

    def advance(self, delta: timedelta) -> None:
        self._change(lambda clock: clock.advance(delta))

    def reset(self) -> None:
        self._change(Clock.reset)

    def _change(self, step: Callable[[Clock], None]) -> None:
        def changed(current: bytes | None) -> bytes:
            scratch = Clock()
            if current is not None:
                scratch.load(decode(current))
            step(scratch)
            return encode(scratch.state())

        self._take(*self._shared.update(NAME, changed))

    def _take(self, version: int, raw: bytes) -> None:
        """Adopt a stored state, unless a newer one was already taken."""
        with self._version_lock:
            if version <= self._version:
                return
            self._version = version
            self.load(decode(raw))
