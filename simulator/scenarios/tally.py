"""Where a scenario's rule counters live while the engine decides.

`hold(rule_ids)` yields the counters of those rules to read and change, and keeps every other
decision off them until the block ends: the engine's "n-th call" and "at most count times"
are then exact however many threads, or processes, decide at once. The engine's own lock
already serialises the threads of a process; a tally shared by processes (PostgreSQL,
store/shared_counters.py) serialises them with row locks.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from typing import Protocol


@dataclass
class RuleState:
    """How often a rule saw a call within its limits (matched) and how often it acted (fired)."""

    matched: int = 0
    fired: int = 0


class Tally(Protocol):
    def hold(self, rule_ids: Sequence[str]) -> AbstractContextManager[dict[str, RuleState]]:
        """The counters of `rule_ids` (created at zero), kept when the block ends normally."""

    def states(self) -> dict[str, RuleState]:
        """A copy of every counter (rules never counted are absent)."""


class LocalTally:
    """Counters in memory: one process (the engine's lock guards them)."""

    def __init__(self) -> None:
        self._states: dict[str, RuleState] = {}

    @contextmanager
    def hold(self, rule_ids: Sequence[str]) -> Iterator[dict[str, RuleState]]:
        yield {rule_id: self._states.setdefault(rule_id, RuleState()) for rule_id in rule_ids}

    def states(self) -> dict[str, RuleState]:
        return {rule_id: RuleState(s.matched, s.fired) for rule_id, s in self._states.items()}
